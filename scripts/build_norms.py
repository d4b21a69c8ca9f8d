"""Build ``pipeline/norms.json`` from expert-rated MI transcripts (development only).

Usage::

    python scripts/build_norms.py AnnoMI-full.csv [--out pipeline/norms.json]
    python scripts/build_norms.py AnnoMI-full.csv --codes expert --out /tmp/norms-expert.json
    python scripts/build_norms.py AnnoMI-full.csv --evaluate-reserved [--norms pipeline/norms.json]

For every non-reserved AnnoMI transcript (the reserved ids are removed in
:func:`session_inputs` itself) it computes the session measures the analyzer
reports, with the analyzer's own definitions (:class:`pipeline.evidence.EvidenceInputs`,
:func:`pipeline.behaviour.summarize_behaviour`):

* MI behaviour codes are, by default, the MI coder's **out-of-fold** estimates
  (each transcript coded by a model fitted without it), so the norms describe
  what the analyzer measures, errors included; ``--codes expert`` uses the
  experts' labels instead (an upper bound, for the documentation).
* AnnoMI has no speech timing: the client's share of talk is its share of the
  words; turn lengths in seconds come from the utterances' start times;
  interruptions are not marked (see :data:`WITHOUT_NORMS`).

Then per measure and quality group the quantiles, the AUC of high vs low
quality and a threshold; and the score model, a balanced logistic regression
over five measures fixed in advance, with transcript-level repeated
cross-validation (AUC, accuracy, Brier) and score bands derived from the
cross-validated scores. ``--evaluate-reserved`` scores the reserved
transcripts once with the committed coder and norms and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annomi import (
    RESERVED_TRANSCRIPT_IDS,
    AnnoMIUtterance,
    by_transcript,
    development_rows,
    load_annomi,
    reserved_rows,
)

from pipeline.behaviour import CodedTurn, summarize_behaviour
from pipeline.evidence import MEASURES, EvidenceInputs
from pipeline.measures import is_short_response, tokenize
from pipeline.mi_codes import UtteranceCode
from pipeline.norms import (
    NORMS_PATH,
    Better,
    Norms,
    Transform,
    auc,
    parse_norms,
    quantiles_of,
    transform_value,
    youden_threshold,
)

SOURCE = (
    "AnnoMI (Wu et al., ICASSP 2022): expert-rated motivational-interviewing demonstration "
    "transcripts, reserved evaluation transcripts excluded"
)
WORDS_PER_SECOND = 2.5
"""Speaking rate assumed for the last utterance of a transcript, which has no next start time."""
MIN_SEPARATING_AUC = 0.6
"""Measures below this AUC do not separate good from poor MI; their threshold marks the
unusual (outside 95% of good sessions) instead of the best cut."""
BAND_AGREEMENT = 0.9
"""A score band must agree with the experts for at least this share of sessions (equal priors)."""

WITHOUT_NORMS = frozenset({"counselor_interruptions_per_10min"})
"""Measures the transcripts cannot give. A transcriber's dash ends a cut-off utterance,
but also trailing off and self-repair: counted as "client cut off, then the counselor"
per 10 minutes, it separated good from poor sessions with an AUC of 0.42 (worse than
chance), so it is no proxy for the analyzer's interruptions."""

SCORE_FEATURES: tuple[tuple[str, Transform], ...] = (
    ("client_share", "logit_share"),
    ("mean_counselor_turn_words", "log1p"),
    ("reflection_question_balance", "identity"),
    ("therapist_input_per_utterance", "identity"),
    ("change_talk_share_smoothed", "logit_share"),
)
"""The score model's inputs (:meth:`EvidenceInputs.score_features`), fixed before fitting."""
SCORE_C = 1.0
"""Inverse L2 strength of the score model, fixed before fitting (scikit-learn's default)."""
CV_REPEATS = 20
CV_FOLDS = 5

Codes = Mapping[tuple[int, int], UtteranceCode]


def _seconds(timestamp: str) -> float:
    parts = [int(p) for p in timestamp.split(":")]
    value = 0
    for p in parts:
        value = value * 60 + p
    return float(value)


Unit = tuple[AnnoMIUtterance, ...]
"""One coding unit: a speaker's consecutive utterances, from one change of floor to the next."""


def floor_units(rows: Sequence[AnnoMIUtterance]) -> list[Unit]:
    """One transcript's utterances grouped as the analyzer groups speech before coding it.

    The analyzer codes a role's talk from one change of floor to the next and
    leaves backchannels out (:func:`pipeline.measures.coding_units`), because
    short listener responses cannot be placed reliably in a recording. The
    same here: an utterance that is short (:func:`pipeline.measures.is_short_response`
    on its words) between two utterances of the other speaker is a backchannel
    and is dropped, and a speaker's consecutive utterances become one unit.
    """
    units: list[list[AnnoMIUtterance]] = []
    for i, row in enumerate(rows):
        sandwiched = 0 < i < len(rows) - 1 and rows[i - 1].role == rows[i + 1].role != row.role
        if sandwiched and is_short_response(math.inf, tokenize(row.text)):
            continue
        if units and units[-1][0].role == row.role:
            units[-1].append(row)
        else:
            units.append([row])
    return [tuple(unit) for unit in units]


def unit_key(unit: Unit) -> tuple[int, int]:
    """``(transcript_id, utterance_id)`` of the unit's first utterance."""
    return unit[0].transcript_id, unit[0].utterance_id


def unit_text(unit: Unit) -> str:
    return " ".join(r.text for r in unit)


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v is not None), None)


def _expert_code(unit: Unit) -> UtteranceCode:
    """The experts' labels of a unit: a behaviour is present when any of its utterances has it
    (the first one's kind); client talk is the most frequent label (the first among equals)."""
    talk = Counter(r.labels.client_talk for r in unit if r.labels.client_talk is not None)
    return UtteranceCode(
        role=unit[0].role,
        question=_first(r.labels.question for r in unit),  # type: ignore[arg-type]
        reflection=_first(r.labels.reflection for r in unit),  # type: ignore[arg-type]
        therapist_input=_first(r.labels.therapist_input for r in unit),  # type: ignore[arg-type]
        client_talk=talk.most_common(1)[0][0] if talk else None,  # type: ignore[arg-type]
    )


def expert_codes(rows: Iterable[AnnoMIUtterance]) -> dict[tuple[int, int], UtteranceCode]:
    """The experts' labels as codes of every unit (:func:`floor_units`), keyed by :func:`unit_key`."""
    return {
        unit_key(unit): _expert_code(unit)
        for group in by_transcript(rows).values()
        for unit in floor_units(group)
    }


def transcript_inputs(rows: Sequence[AnnoMIUtterance], codes: Codes) -> EvidenceInputs:
    """The session measures of one transcript (rows in utterance order), coded by unit."""
    units = floor_units(rows)
    starts = [_seconds(unit[0].timestamp) for unit in units]
    # Start times are whole seconds and occasionally out of order: keep them monotonic.
    for i in range(1, len(starts)):
        starts[i] = max(starts[i], starts[i - 1])
    n_words = [len(tokenize(unit_text(unit))) for unit in units]
    ends = [*starts[1:], starts[-1] + n_words[-1] / WORDS_PER_SECOND]
    turns = [
        CodedTurn(start, end, unit[0].role, unit_text(unit), n, codes[unit_key(unit)])
        for unit, start, end, n in zip(units, starts, ends, n_words, strict=True)
    ]
    words = {
        role: sum(len(tokenize(r.text)) for r in rows if r.role == role)
        for role in ("counselor", "client")
    }
    total_words = words["counselor"] + words["client"]
    counselor_s = [t.end - t.start for t in turns if t.role == "counselor"]
    return EvidenceInputs(
        client_share=words["client"] / total_words if total_words else None,
        counselor_interruptions_per_10min=None,  # not in the transcripts: see WITHOUT_NORMS
        longest_counselor_monologue_s=max(counselor_s) if counselor_s else None,
        behaviour=summarize_behaviour(turns),
    )


def session_inputs(
    rows: Iterable[AnnoMIUtterance], codes: Codes
) -> list[tuple[int, str, EvidenceInputs]]:
    """``(transcript_id, quality, inputs)`` for every non-reserved transcript."""
    return [
        (tid, group[0].mi_quality, transcript_inputs(group, codes))
        for tid, group in by_transcript(development_rows(rows)).items()
    ]


def measure_norms(sessions: Sequence[tuple[int, str, EvidenceInputs]]) -> dict[str, Any]:
    """Quantiles per quality group, AUC and threshold of every criterion."""
    out: dict[str, Any] = {}
    for spec in MEASURES:
        if spec.name in WITHOUT_NORMS:
            continue
        high = [
            v for _, q, x in sessions if q == "high" and (v := x.values()[spec.name]) is not None
        ]
        low = [v for _, q, x in sessions if q == "low" and (v := x.values()[spec.name]) is not None]
        better: Better = spec.better
        area = auc(high, low, better=better)
        if area >= MIN_SEPARATING_AUC:
            threshold, rule = youden_threshold(high, low, better=better), "youden"
        else:
            q = quantiles_of(high).values
            threshold = q[-1] if better == "lower" else q[0]
            rule = "outside_95pct_of_high"
        out[spec.name] = {
            "better": better,
            "auc": _r(area),
            "threshold": _r(threshold),
            "threshold_rule": rule,
            "high": _quantile_dict(high),
            "low": _quantile_dict(low),
        }
    return out


def _quantile_dict(values: Sequence[float]) -> dict[str, Any]:
    q = quantiles_of(values)
    return {
        "n": q.n,
        **{f"p{lvl}": _r(v) for lvl, v in zip((5, 25, 50, 75, 95), q.values, strict=True)},
    }


def _r(value: float) -> float:
    return round(float(value), 6) + 0.0


def feature_matrix(
    sessions: Sequence[tuple[int, str, EvidenceInputs]],
) -> tuple[np.ndarray, np.ndarray]:
    """Transformed score features (rows: sessions with a score) and labels (1 = high quality)."""
    rows, labels = [], []
    for _, quality, inputs in sessions:
        features = inputs.score_features()
        if features is None:
            continue
        rows.append([transform_value(features[name], t) for name, t in SCORE_FEATURES])
        labels.append(1 if quality == "high" else 0)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.int64)


def _fit_lr(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=SCORE_C, class_weight="balanced", max_iter=10_000)
    model.fit((x - mean) / scale, y)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def _predict(params: tuple[np.ndarray, np.ndarray, np.ndarray, float], x: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = params
    z = ((x - mean) / scale) @ coef + intercept
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def cross_validated_scores(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Mean out-of-fold score per session over repeated stratified folds, and the CV metrics.

    AUC, accuracy (score ≥ 0.5) and Brier score are averaged over the repeats;
    accuracy and Brier weight the groups equally (the model assumes equal priors).
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    weights = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    totals = np.zeros(len(y))
    aucs, accs, briers = [], [], []
    for repeat in range(CV_REPEATS):
        oof = np.zeros(len(y))
        folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=repeat)
        for train, test in folds.split(x, y):
            oof[test] = _predict(_fit_lr(x[train], y[train]), x[test])
        totals += oof
        aucs.append(roc_auc_score(y, oof))
        accs.append(float(np.sum(weights * ((oof >= 0.5) == (y == 1)))))
        briers.append(float(np.sum(weights * (oof - y) ** 2)))
    return totals / CV_REPEATS, {
        "auc": _r(np.mean(aucs)),
        "auc_sd": _r(np.std(aucs)),
        "balanced_accuracy": _r(np.mean(accs)),
        "balanced_brier": _r(np.mean(briers)),
        "repeats": CV_REPEATS,
        "folds": CV_FOLDS,
    }


def score_bands(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Score bands in which the experts agree with the band for ``BAND_AGREEMENT`` of sessions.

    ``yes_from``: the lowest cut such that, with equal priors, at least that
    share of sessions scoring at or above it are rated high quality.
    ``no_below``: the highest cut such that at least that share of sessions
    scoring below it are rated low quality. Candidates are the scores themselves.
    """
    high, low = scores[y == 1], scores[y == 0]

    def agree_yes(cut: float) -> float:
        sens, fpr = np.mean(high >= cut), np.mean(low >= cut)
        return float(sens / (sens + fpr)) if sens + fpr > 0 else 0.0

    def agree_no(cut: float) -> float:
        spec, miss = np.mean(low < cut), np.mean(high < cut)
        return float(spec / (spec + miss)) if spec + miss > 0 else 0.0

    candidates = sorted(set(scores.tolist()))
    yes = [c for c in candidates if np.mean(high >= c) > 0 and agree_yes(c) >= BAND_AGREEMENT]
    no = [c for c in candidates if np.mean(low < c) > 0 and agree_no(c) >= BAND_AGREEMENT]
    yes_from = min(yes) if yes else 1.0
    no_below = max(no) if no else 0.0
    no_below = min(no_below, yes_from)
    return {"no_below": _r(no_below), "yes_from": _r(yes_from)}


def build(rows: Sequence[AnnoMIUtterance], codes: Codes, *, code_source: str) -> dict[str, Any]:
    """The whole ``norms.json`` content (deterministic for the same rows and codes)."""
    sessions = session_inputs(rows, codes)
    x, y = feature_matrix(sessions)
    oof, cv = cross_validated_scores(x, y)
    mean, scale, coef, intercept = _fit_lr(x, y)
    return {
        "source": SOURCE,
        "built_with": "scripts/build_norms.py",
        "codes": code_source,
        "reserved_transcript_ids": sorted(RESERVED_TRANSCRIPT_IDS),
        "transcripts": {
            "high": sum(1 for _, q, _ in sessions if q == "high"),
            "low": sum(1 for _, q, _ in sessions if q == "low"),
        },
        "proxies": {
            "client_share": "share of words (AnnoMI has no speech timing)",
            "counselor_interruptions_per_10min": "not normed (see WITHOUT_NORMS)",
            "longest_counselor_monologue_s": "from unit start times (whole seconds)",
            "units": (
                "codes and turn measures per unit: a speaker's utterances from one change of "
                "floor to the next, short replies between two utterances of the other "
                "speaker left out (floor_units)"
            ),
        },
        "measures": measure_norms(sessions),
        "score_model": {
            "features": [name for name, _ in SCORE_FEATURES],
            "transforms": [t for _, t in SCORE_FEATURES],
            "mean": [_r(v) for v in mean],
            "scale": [_r(v) for v in scale],
            "coef": [_r(v) for v in coef],
            "intercept": _r(intercept),
            "class_weight": "balanced",
            "C": SCORE_C,
            "bands": score_bands(oof, y),
            "cross_validation": cv,
        },
    }


def _coder_codes(rows: Sequence[AnnoMIUtterance]) -> dict[tuple[int, int], UtteranceCode]:
    """Every unit coded by a coder fitted without its transcript (5 folds)."""
    from fit_mi_coder import fold_coders

    from pipeline.mi_codes import code_utterances

    transcripts = by_transcript(rows)
    out: dict[tuple[int, int], UtteranceCode] = {}
    for coder, test in fold_coders(rows):
        for tid in sorted({e.transcript_id for e in test}):
            units = floor_units(transcripts[tid])
            codes = code_utterances([(u[0].role, unit_text(u)) for u in units], coder=coder)
            out.update((unit_key(u), c) for u, c in zip(units, codes, strict=True))
    return out


def transcript_score(
    group: Sequence[AnnoMIUtterance], norms: Norms
) -> tuple[float | None, str | None]:
    """The score and band the committed coder and ``norms`` give one transcript's text.

    ``group`` is one transcript's rows in utterance order; the codes are the
    packaged coder's (for a non-reserved transcript the coder saw it in fitting).
    """
    from models.loaders import load_mi_coder
    from pipeline.mi_codes import code_utterances

    units = floor_units(group)
    predicted = code_utterances([(u[0].role, unit_text(u)) for u in units], coder=load_mi_coder())
    codes = {unit_key(u): c for u, c in zip(units, predicted, strict=True)}
    features = transcript_inputs(group, codes).score_features()
    if features is None:
        return None, None
    score = norms.score.probability(features)
    return score, norms.score.band(score)


def evaluate_reserved(rows: Sequence[AnnoMIUtterance], norms_path: Path) -> list[dict[str, Any]]:
    """Score each reserved transcript once with the committed coder and norms."""
    norms = parse_norms(json.loads(norms_path.read_text(encoding="utf-8")))
    results = []
    for tid, group in by_transcript(reserved_rows(rows)).items():
        score, band = transcript_score(group, norms)
        results.append(
            {
                "transcript_id": tid,
                "quality": group[0].mi_quality,
                "score": None if score is None else round(score, 3),
                "band": band,
            }
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="AnnoMI-full.csv (never committed)")
    parser.add_argument("--out", type=Path, default=NORMS_PATH)
    parser.add_argument("--codes", choices=["coder", "expert"], default="coder")
    parser.add_argument("--evaluate-reserved", action="store_true")
    parser.add_argument("--norms", type=Path, default=NORMS_PATH)
    args = parser.parse_args(argv)
    rows = load_annomi(args.csv)
    if args.evaluate_reserved:
        print(json.dumps(evaluate_reserved(rows, args.norms), indent=2))
        return 0
    get_codes: Callable[[Sequence[AnnoMIUtterance]], Codes] = (
        expert_codes if args.codes == "expert" else _coder_codes
    )
    code_source = (
        "expert labels" if args.codes == "expert" else "out-of-fold MI coder estimates (5 folds)"
    )
    norms = build(rows, get_codes(development_rows(rows)), code_source=code_source)
    args.out.write_text(json.dumps(norms, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    cv = norms["score_model"]["cross_validation"]
    print(
        f"wrote {args.out}: score CV AUC {cv['auc']:.3f} ± {cv['auc_sd']:.3f}, "
        f"balanced accuracy {cv['balanced_accuracy']:.3f}, Brier {cv['balanced_brier']:.3f}, "
        f"bands {norms['score_model']['bands']}"
    )
    for name, m in norms["measures"].items():
        print(
            f"  {name:36s} AUC {m['auc']:.3f}  threshold {m['threshold']:.4g} ({m['threshold_rule']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
