"""Fit, cross-validate and export the per-utterance MI behaviour coder (development only).

Usage::

    python scripts/fit_mi_coder.py AnnoMI-full.csv --out models/weights/mi_coder.npz
    python scripts/fit_mi_coder.py AnnoMI-full.csv --cv [--json cv.json]
    python scripts/fit_mi_coder.py AnnoMI-full.csv --held-out models/weights/mi_coder.npz

Fitting uses the non-reserved AnnoMI transcripts only (the reserved ids are
removed in :func:`fit_coder` itself, whatever rows it is given). ``--cv`` runs
5-fold cross-validation grouped by transcript (stratified by MI quality) on
the non-reserved transcripts, with decision thresholds chosen inside each
training fold, and scores each held-out fold three ways: as transcribed, as
ASR-like text (lower case, transcriber conventions removed, ``? . ,`` kept) and
with all punctuation removed. ``--held-out`` scores a fitted weight file once
on the reserved transcripts; nothing is chosen from that number.

scikit-learn is needed here only; the analyzer runs the exported weights with
NumPy (:mod:`pipeline.mi_codes`).
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread: scikit-learn's solvers are faster single-threaded on
# these small problems, and oversubscribed threads slow a shared machine.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annomi import (  # noqa: E402
    AnnoMIUtterance,
    annotator_agreement_pairs,
    by_transcript,
    development_rows,
    load_annomi,
    reserved_rows,
)

from pipeline import mi_codes  # noqa: E402
from pipeline.mi_codes import (  # noqa: E402
    HEADS,
    Head,
    MiCoder,
    UtteranceCode,
    code_utterances,
    contexts,
    dense_features,
)


@dataclass(frozen=True)
class FitOptions:
    """Hyper-parameters (chosen by cross-validation on development transcripts only)."""

    min_df: int = 2
    context_min_df: int = 3
    context_weight: float = 0.0  # 0 drops the context words (they did not help in CV)
    c_exists: float = 4.0
    c_type: float = 2.0
    c_client: float = 1.0
    balanced_types: bool = True
    inner_folds: int = 3
    tune: bool = True
    max_iter: int = 3000


@dataclass(frozen=True)
class Example:
    """One utterance with its context, ready for featurisation."""

    key: tuple[int, int]
    transcript_id: int
    mi_quality: str
    role: str
    text: str
    context: str | None
    question: str | None
    reflection: str | None
    therapist_input: str | None
    client_talk: str | None


def examples(rows: Iterable[AnnoMIUtterance]) -> list[Example]:
    """Utterances in transcript order with the previous other-role utterance as context."""
    out = []
    for transcript in by_transcript(rows).values():
        texts = [(row.role, row.text) for row in transcript]
        for row, context in zip(transcript, contexts(texts), strict=True):
            out.append(
                Example(
                    key=(row.transcript_id, row.utterance_id),
                    transcript_id=row.transcript_id,
                    mi_quality=row.mi_quality,
                    role=row.role,
                    text=row.text,
                    context=context,
                    question=row.labels.question,
                    reflection=row.labels.reflection,
                    therapist_input=row.labels.therapist_input,
                    client_talk=row.labels.client_talk,
                )
            )
    return out


# ------------------------------------------------------------------- ASR-like text

_BRACKETS = re.compile(r"\[[^\]]*\]")
_PUNCT_KEEP = re.compile(r"[^\w\s'?.,]")
_PUNCT_ALL = re.compile(r"[^\w\s']")


def asr_like(text: str, *, keep_punctuation: bool = True) -> str:
    """Text as an ASR system would give it: lower case, no transcriber conventions.

    Bracketed notes, dashes for cut-offs and restarts, quotes and colons go; the
    fillers *um*/*uh* go (Whisper mostly omits them). ``? . ,`` stay when
    ``keep_punctuation`` (Whisper writes them), else every mark but the
    apostrophe goes (the worst case).
    """
    text = mi_codes.normalise_text(_BRACKETS.sub(" ", text)).lower()
    text = (_PUNCT_KEEP if keep_punctuation else _PUNCT_ALL).sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------------ fitting


@functools.lru_cache(maxsize=200_000)
def _text_terms(text: str) -> tuple[str, ...]:
    return tuple(mi_codes.text_terms(text))


@functools.lru_cache(maxsize=200_000)
def _context_terms(text: str | None) -> tuple[str, ...]:
    return tuple(mi_codes.context_terms(text))


def _text_analyzer(text: str) -> tuple[str, ...]:
    return _text_terms(text)


def _context_analyzer(text: str | None) -> tuple[str, ...]:
    return _context_terms(text)


class Featuriser:
    """The fitted TF-IDF vocabularies plus the feature layout of :class:`MiCoder`."""

    def __init__(self, data: Sequence[Example], options: FitOptions) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.options = options
        self.text = TfidfVectorizer(
            analyzer=_text_analyzer, min_df=options.min_df, sublinear_tf=True
        )
        self.context = TfidfVectorizer(
            analyzer=_context_analyzer, min_df=options.context_min_df, sublinear_tf=True
        )
        self.text.fit([e.text for e in data])
        self.use_context = options.context_weight != 0.0
        if self.use_context:
            self.context.fit([e.context for e in data])

    def matrix(
        self, data: Sequence[Example], transform: Callable[[str], str] | None = None
    ) -> sp.csr_matrix:
        """Feature rows of ``data``; ``transform`` rewrites texts (ASR-like evaluation)."""

        def fix(text: str | None) -> str | None:
            return text if text is None or transform is None else transform(text)

        texts = [fix(e.text) or "" for e in data]
        ctx = [fix(e.context) for e in data]
        dense = np.vstack([dense_features(t, c) for t, c in zip(texts, ctx, strict=True)])
        blocks = [self.text.transform(texts)]
        if self.use_context:
            blocks.append(self.context.transform(ctx) * self.options.context_weight)
        blocks.append(sp.csr_matrix(dense))
        return sp.hstack(blocks, format="csr")

    def vocabularies(self) -> dict[str, object]:
        """Vocabularies and idf in the coder's layout."""
        context = self.context if self.use_context else None
        return {
            "text_vocab": {str(k): int(v) for k, v in self.text.vocabulary_.items()},
            "text_idf": np.asarray(self.text.idf_, dtype=np.float64),
            "context_vocab": {}
            if context is None
            else {str(k): int(v) for k, v in context.vocabulary_.items()},
            "context_idf": np.zeros(0)
            if context is None
            else np.asarray(context.idf_, dtype=np.float64),
        }


@dataclass(frozen=True)
class Task:
    """What one head learns: which examples, and the label of each."""

    name: str
    role: str
    label: Callable[[Example], str | None]
    binary_exists: bool
    c_attr: str


def _exists(field: str) -> Callable[[Example], str | None]:
    return lambda e: "present" if getattr(e, field) is not None else "absent"


def _subtype(field: str) -> Callable[[Example], str | None]:
    return lambda e: getattr(e, field)


TASKS = (
    Task("question_exists", "counselor", _exists("question"), True, "c_exists"),
    Task("question_type", "counselor", _subtype("question"), False, "c_type"),
    Task("reflection_exists", "counselor", _exists("reflection"), True, "c_exists"),
    Task("reflection_type", "counselor", _subtype("reflection"), False, "c_type"),
    Task("input_exists", "counselor", _exists("therapist_input"), True, "c_exists"),
    Task("input_type", "counselor", _subtype("therapist_input"), False, "c_type"),
    Task("client_talk", "client", _subtype("client_talk"), False, "c_client"),
)
assert tuple(t.name for t in TASKS) == HEADS


def fit_head_models(
    data: Sequence[Example], features: sp.csr_matrix, options: FitOptions
) -> dict[str, tuple[list[int], Any]]:
    """The scikit-learn logistic regressions of every head, with the rows each was fitted on."""
    from sklearn.linear_model import LogisticRegression

    models: dict[str, tuple[list[int], Any]] = {}
    for task in TASKS:
        rows = [i for i, e in enumerate(data) if e.role == task.role and task.label(e) is not None]
        y = np.array([task.label(data[i]) for i in rows])
        model = LogisticRegression(
            C=getattr(options, task.c_attr),
            class_weight="balanced"
            if task.binary_exists or task.name == "client_talk" or options.balanced_types
            else None,
            max_iter=options.max_iter,
            tol=1e-8,
        )
        model.fit(features[rows], y)
        models[task.name] = (rows, model)
    return models


def _fit_heads(
    data: Sequence[Example], features: sp.csr_matrix, options: FitOptions
) -> dict[str, Head]:
    heads = {}
    for name, (_, model) in fit_head_models(data, features, options).items():
        classes = tuple(str(c) for c in model.classes_)
        heads[name] = Head(
            classes=classes,
            coef=np.asarray(model.coef_, dtype=np.float64),
            intercept=np.asarray(model.intercept_, dtype=np.float64),
            threshold=0.5,
            offsets=None if len(classes) == 2 else np.zeros(len(classes)),
        )
    return heads


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(truth & predicted))
    denominator = float(np.sum(truth) + np.sum(predicted))
    return 0.0 if denominator == 0 else 2 * tp / denominator


_THRESHOLDS = np.round(np.arange(0.20, 0.801, 0.025), 3)
_OFFSETS = np.round(np.arange(-1.0, 1.001, 0.25), 2)


def _tune(data: Sequence[Example], heads: dict[str, Head], options: FitOptions) -> dict[str, Head]:
    """Choose thresholds / offsets by grouped cross-validation inside ``data`` only."""
    probs: dict[str, list[np.ndarray]] = {name: [] for name in HEADS}
    truth: dict[str, list[str]] = {name: [] for name in HEADS}
    for train, test in transcript_folds(data, n_folds=options.inner_folds, seed=1):
        inner = _fit(train, options, tune=False)
        for e in test:
            estimated = mi_codes.utterance_probabilities(inner, e.role, e.text, e.context)
            for task in TASKS:
                label = task.label(e)
                if e.role == task.role and label is not None:
                    probs[task.name].append(estimated[task.name])
                    truth[task.name].append(label)
    tuned = dict(heads)
    for task in TASKS:
        p = np.array(probs[task.name])
        y = np.array(truth[task.name])
        head = heads[task.name]
        if task.binary_exists:
            scores = [_f1(y == "present", p[:, 1] >= t) for t in _THRESHOLDS]
            best = float(_THRESHOLDS[int(np.argmax(scores))])
            tuned[task.name] = Head(head.classes, head.coef, head.intercept, threshold=best)
        elif task.name == "client_talk":
            tuned[task.name] = Head(
                head.classes, head.coef, head.intercept, offsets=_best_offsets(head.classes, p, y)
            )
    return tuned


def _best_offsets(classes: tuple[str, ...], p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Offsets for change and sustain (neutral fixed at 0) maximising their macro-F1."""
    logp = np.log(np.maximum(p, 1e-300))
    change, sustain = classes.index("change"), classes.index("sustain")
    best, best_score = np.zeros(len(classes)), -1.0
    for a in _OFFSETS:
        for b in _OFFSETS:
            offsets = np.zeros(len(classes))
            offsets[change], offsets[sustain] = a, b
            predicted = np.array(classes)[np.argmax(logp + offsets, axis=1)]
            score = (
                _f1(y == "change", predicted == "change")
                + _f1(y == "sustain", predicted == "sustain")
            ) / 2
            if score > best_score + 1e-12:
                best, best_score = offsets, score
    return best


def _fit(data: Sequence[Example], options: FitOptions, *, tune: bool) -> MiCoder:
    featuriser = Featuriser(data, options)
    features = featuriser.matrix(data)
    heads = _fit_heads(data, features, options)
    vocab = featuriser.vocabularies()
    coder = MiCoder(
        text_vocab=vocab["text_vocab"],  # type: ignore[arg-type]
        text_idf=vocab["text_idf"],  # type: ignore[arg-type]
        context_vocab=vocab["context_vocab"],  # type: ignore[arg-type]
        context_idf=vocab["context_idf"],  # type: ignore[arg-type]
        context_weight=options.context_weight,
        heads=heads,
    )
    if tune:
        coder = MiCoder(
            coder.text_vocab,
            coder.text_idf,
            coder.context_vocab,
            coder.context_idf,
            coder.context_weight,
            _tune(data, heads, options),
        )
    return coder


def fit_coder(rows: Iterable[AnnoMIUtterance], options: FitOptions = FitOptions()) -> MiCoder:
    """Fit the coder on ``rows`` with every reserved transcript removed first."""
    data = examples(development_rows(rows))
    if not data:
        raise ValueError("no development transcripts to fit on")
    return _fit(data, options, tune=options.tune)


def transcript_folds(
    data: Sequence[Example], *, n_folds: int, seed: int
) -> list[tuple[list[Example], list[Example]]]:
    """Folds grouped by transcript and stratified by MI quality, deterministic in ``seed``."""
    quality = {e.transcript_id: e.mi_quality for e in data}
    rng = np.random.default_rng(seed)
    order: list[int] = []
    for group in sorted(set(quality.values())):
        ids = sorted(t for t, q in quality.items() if q == group)
        order.extend(int(t) for t in rng.permutation(ids))
    fold_of = {t: i % n_folds for i, t in enumerate(order)}
    return [
        (
            [e for e in data if fold_of[e.transcript_id] != k],
            [e for e in data if fold_of[e.transcript_id] == k],
        )
        for k in range(n_folds)
    ]


# ---------------------------------------------------------------------- evaluation


def predict(
    coder: MiCoder, data: Sequence[Example], transform: Callable[[str], str] | None = None
) -> list[UtteranceCode]:
    """Codes of ``data`` per transcript, as the analyzer would compute them."""
    codes: dict[tuple[int, int], UtteranceCode] = {}
    for tid in sorted({e.transcript_id for e in data}):
        transcript = [e for e in data if e.transcript_id == tid]
        texts = [(e.role, transform(e.text) if transform else e.text) for e in transcript]
        for e, code in zip(transcript, code_utterances(texts, coder=coder), strict=True):
            codes[e.key] = code
    return [codes[e.key] for e in data]


def fold_coders(
    rows: Iterable[AnnoMIUtterance],
    n_folds: int = 5,
    seed: int = 0,
    options: FitOptions = FitOptions(),
) -> Iterator[tuple[MiCoder, list[Example]]]:
    """Per fold of the non-reserved transcripts: a coder fitted without them, and their examples."""
    data = examples(development_rows(rows))
    for train, test in transcript_folds(data, n_folds=n_folds, seed=seed):
        yield _fit(train, options, tune=options.tune), test


def out_of_fold_codes(
    rows: Iterable[AnnoMIUtterance],
    n_folds: int = 5,
    seed: int = 0,
    options: FitOptions = FitOptions(),
) -> dict[tuple[int, int], UtteranceCode]:
    """Codes of every non-reserved utterance from a model that never saw its transcript.

    Keys are ``(transcript_id, utterance_id)``.
    """
    out: dict[tuple[int, int], UtteranceCode] = {}
    for coder, test in fold_coders(rows, n_folds, seed, options):
        for e, code in zip(test, predict(coder, test), strict=True):
            out[e.key] = code
    return out


_CLASSES: tuple[tuple[str, str, Callable[[Example], bool], Callable[[UtteranceCode], bool]], ...] = (
    ("counselor", "question", lambda e: e.question is not None, lambda c: c.question is not None),
    ("counselor", "question: open", lambda e: e.question == "open", lambda c: c.question == "open"),
    ("counselor", "question: closed", lambda e: e.question == "closed", lambda c: c.question == "closed"),
    ("counselor", "reflection", lambda e: e.reflection is not None, lambda c: c.reflection is not None),
    ("counselor", "reflection: simple", lambda e: e.reflection == "simple", lambda c: c.reflection == "simple"),
    ("counselor", "reflection: complex", lambda e: e.reflection == "complex", lambda c: c.reflection == "complex"),
    ("counselor", "therapist input", lambda e: e.therapist_input is not None, lambda c: c.therapist_input is not None),
    ("counselor", "input: information", lambda e: e.therapist_input == "information", lambda c: c.therapist_input == "information"),
    ("counselor", "input: advice", lambda e: e.therapist_input == "advice", lambda c: c.therapist_input == "advice"),
    ("counselor", "input: options", lambda e: e.therapist_input == "options", lambda c: c.therapist_input == "options"),
    ("counselor", "input: negotiation", lambda e: e.therapist_input == "negotiation", lambda c: c.therapist_input == "negotiation"),
    ("counselor", "other", lambda e: e.question is None and e.reflection is None and e.therapist_input is None, lambda c: c.other),
    ("client", "change", lambda e: e.client_talk == "change", lambda c: c.client_talk == "change"),
    ("client", "neutral", lambda e: e.client_talk == "neutral", lambda c: c.client_talk == "neutral"),
    ("client", "sustain", lambda e: e.client_talk == "sustain", lambda c: c.client_talk == "sustain"),
)  # fmt: skip


def scores(data: Sequence[Example], codes: Sequence[UtteranceCode]) -> dict[str, dict[str, float]]:
    """Per class precision, recall, F1 and support, plus change/sustain macro-F1."""
    out: dict[str, dict[str, float]] = {}
    for role, name, truth_of, pred_of in _CLASSES:
        pairs = [
            (truth_of(e), pred_of(c))
            for e, c in zip(data, codes, strict=True)
            if e.role == role and (role != "client" or e.client_talk is not None)
        ]
        truth = np.array([t for t, _ in pairs], dtype=bool)
        pred = np.array([p for _, p in pairs], dtype=bool)
        tp = float(np.sum(truth & pred))
        precision = tp / max(float(pred.sum()), 1.0)
        recall = tp / max(float(truth.sum()), 1.0)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": float(truth.sum()),
        }
    out["change/sustain macro"] = {"f1": (out["change"]["f1"] + out["sustain"]["f1"]) / 2}
    return out


TEXT_VARIANTS: dict[str, Callable[[str], str] | None] = {
    "transcript": None,
    "asr_like": asr_like,
    "asr_no_punct": functools.partial(asr_like, keep_punctuation=False),
}


def cross_validate(
    rows: Iterable[AnnoMIUtterance],
    *,
    n_folds: int = 5,
    seed: int = 0,
    options: FitOptions = FitOptions(),
) -> dict[str, dict[str, dict[str, float]]]:
    """Grouped cross-validation on development transcripts, for each text variant."""
    data = examples(development_rows(rows))
    predicted: dict[str, dict[tuple[int, int], UtteranceCode]] = {v: {} for v in TEXT_VARIANTS}
    for k, (train, test) in enumerate(transcript_folds(data, n_folds=n_folds, seed=seed)):
        started = time.perf_counter()
        coder = _fit(train, options, tune=options.tune)
        for variant, transform in TEXT_VARIANTS.items():
            for e, code in zip(test, predict(coder, test, transform), strict=True):
                predicted[variant][e.key] = code
        print(f"fold {k + 1}/{n_folds}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {v: scores(data, [p[e.key] for e in data]) for v, p in predicted.items()}


def human_agreement(path: Path) -> dict[str, dict[str, float]]:
    """Scores of single AnnoMI annotators against the majority of the others.

    On the development transcripts that all ten annotators labelled: a human
    reference for how far these labels can be reproduced at all.
    """
    data: list[Example] = []
    codes: list[UtteranceCode] = []
    for transcript_id, role, one, others in annotator_agreement_pairs(path):
        data.append(
            Example(
                key=(transcript_id, len(data)),
                transcript_id=transcript_id,
                mi_quality="",
                role=role,
                text="",
                context=None,
                question=others.question,
                reflection=others.reflection,
                therapist_input=others.therapist_input,
                client_talk=others.client_talk,
            )
        )
        codes.append(
            UtteranceCode(
                role,
                question=one.question,  # type: ignore[arg-type]
                reflection=one.reflection,  # type: ignore[arg-type]
                therapist_input=one.therapist_input,  # type: ignore[arg-type]
                client_talk=one.client_talk,  # type: ignore[arg-type]
            )
        )
    return scores(data, codes)


def speed_ms_per_utterance(rows: Iterable[AnnoMIUtterance], coder: MiCoder) -> float:
    """Median over 5 runs of the wall time of :func:`code_utterances` per utterance."""
    transcripts = [
        [(r.role, r.text) for r in group]
        for group in by_transcript(development_rows(rows)).values()
    ]
    count = sum(len(t) for t in transcripts)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        for turns in transcripts:
            code_utterances(turns, coder=coder)
        times.append((time.perf_counter() - started) / count * 1000)
    return float(np.median(times))


def held_out(
    rows: Iterable[AnnoMIUtterance], coder: MiCoder
) -> dict[str, dict[str, dict[str, float]]]:
    """One-off scores of a final coder on the reserved transcripts (never used to choose)."""
    data = examples(reserved_rows(rows))
    return {v: scores(data, predict(coder, data, t)) for v, t in TEXT_VARIANTS.items()}


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A Markdown table: per class P/R/F1 as transcribed, F1 for the ASR-like variants."""
    base = results["transcript"]
    lines = [
        "| class | support | precision | recall | F1 | F1 ASR-like | F1 no punctuation |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in base.items():
        asr = results["asr_like"][name]["f1"]
        bare = results["asr_no_punct"][name]["f1"]
        if "support" in row:
            lines.append(
                f"| {name} | {int(row['support'])} | {row['precision']:.3f} | {row['recall']:.3f} "
                f"| {row['f1']:.3f} | {asr:.3f} | {bare:.3f} |"
            )
        else:
            lines.append(f"| {name} | | | | {row['f1']:.3f} | {asr:.3f} | {bare:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "csv", type=Path, help="AnnoMI-full.csv (not shipped; see docs/evidence.md)"
    )
    parser.add_argument("--out", type=Path, help="write the fitted weights here (.npz)")
    parser.add_argument("--cv", action="store_true", help="5-fold grouped cross-validation")
    parser.add_argument(
        "--held-out",
        type=Path,
        metavar="WEIGHTS",
        help="score WEIGHTS once on the reserved transcripts",
    )
    parser.add_argument(
        "--agreement",
        action="store_true",
        help="score single annotators against the others' majority (a human reference)",
    )
    parser.add_argument("--speed", type=Path, metavar="WEIGHTS", help="time WEIGHTS per utterance")
    parser.add_argument("--json", type=Path, help="also write the scores as JSON here")
    args = parser.parse_args(argv)
    rows = load_annomi(args.csv)
    report: dict[str, object] = {}
    if args.cv:
        results = cross_validate(rows)
        print("## 5-fold cross-validation grouped by transcript (development transcripts)")
        print(format_table(results))
        report["cv"] = results
    if args.agreement:
        agreement = human_agreement(args.csv)
        print("## One annotator against the majority of the other annotators")
        print("| class | support | precision | recall | F1 |\n|---|---:|---:|---:|---:|")
        for name, row in agreement.items():
            if "support" in row:
                print(
                    f"| {name} | {int(row['support'])} | {row['precision']:.3f} "
                    f"| {row['recall']:.3f} | {row['f1']:.3f} |"
                )
            else:
                print(f"| {name} | | | | {row['f1']:.3f} |")
        report["agreement"] = agreement
    if args.out:
        coder = fit_coder(rows)
        mi_codes.save_coder(coder, args.out)
        import hashlib

        print(
            f"wrote {args.out} ({args.out.stat().st_size} bytes, sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()})"
        )
    if args.held_out:
        results = held_out(rows, mi_codes.read_coder(args.held_out))
        print("## HELD-OUT: reserved transcripts, final model, scored once")
        print(format_table(results))
        report["held_out"] = results
    if args.speed:
        ms = speed_ms_per_utterance(rows, mi_codes.read_coder(args.speed))
        print(f"speed: {ms:.3f} ms per utterance (median of 5 passes over the development set)")
        report["ms_per_utterance"] = ms
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, sort_keys=True))
    if not (args.cv or args.out or args.held_out or args.agreement or args.speed):
        parser.error("nothing to do: give --out, --cv and/or --held-out")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
