"""Motivational-interviewing behaviour codes per utterance, from text alone.

Each counselor utterance gets estimates of three MITI/AnnoMI behaviours, each
present or absent and, when present, its subtype: a question (open / closed),
a reflection (simple / complex) and therapist input (information / advice /
options / negotiation). Each client utterance gets a talk type: change talk,
sustain talk or neutral. These are the labels of AnnoMI (Wu et al., ICASSP
2022), on which the weights were fitted by ``scripts/fit_mi_coder.py``; the
cross-validated accuracy per class is in ``docs/evidence.md``.

The model is deliberately small and transparent: TF-IDF weighted word 1–2-grams
of the utterance (with a few positional markers such as "ends with a question
mark" and "first word of the last sentence"), the words of the previous
utterance of the other speaker, and a few numbers (word overlap with that
previous utterance, length), fed to logistic regressions. Inference is plain
NumPy, well under a millisecond per utterance, and reproduces scikit-learn's
probabilities to floating-point precision.

The text analysis (:func:`normalise_text`, :func:`text_terms`,
:func:`context_terms`, :func:`dense_features`) is shared by fitting and
inference, so both see exactly the same features.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from pipeline.errors import AnalyzerError

FORMAT_VERSION = 1
"""Version of the weight file layout written by :func:`save_coder`."""

ROLES = ("counselor", "client")
QUESTION_TYPES = ("closed", "open")
REFLECTION_TYPES = ("complex", "simple")
INPUT_TYPES = ("advice", "information", "negotiation", "options")
CLIENT_TALK_TYPES = ("change", "neutral", "sustain")

HEADS = (
    "question_exists",
    "question_type",
    "reflection_exists",
    "reflection_type",
    "input_exists",
    "input_type",
    "client_talk",
)
"""The classifiers a coder holds, in the order they are stored."""

DENSE_FEATURES = (
    "overlap_of_own_words",
    "overlap_of_context_words",
    "log_words",
    "context_ends_with_question",
    "no_context",
    "cue_advice",
    "cue_information",
    "cue_options",
    "cue_negotiation",
    "cue_permission",
    "cue_reflection_opening",
    "cue_change",
    "cue_sustain",
    "cue_negation",
)
"""Names of the numeric features appended after the two TF-IDF blocks."""

Vector = npt.NDArray[np.float64]


class MiCoderError(AnalyzerError):
    """A weight file is not a valid MI coder (wrong layout, version or shapes)."""


@dataclass(frozen=True)
class UtteranceCode:
    """The estimated MI behaviour codes of one utterance.

    Counselor utterances carry ``question``, ``reflection`` and
    ``therapist_input`` (each ``None`` when the behaviour is estimated absent;
    several may be present at once, as in AnnoMI) and ``client_talk=None``;
    client utterances carry only ``client_talk``.
    """

    role: str  # "counselor" | "client"
    question: Literal["open", "closed"] | None = None
    reflection: Literal["simple", "complex"] | None = None
    therapist_input: Literal["information", "advice", "options", "negotiation"] | None = None
    client_talk: Literal["change", "neutral", "sustain"] | None = None
    p_question: float | None = field(default=None, compare=False)
    """The coder's probability that a question is present (``None``: not estimated)."""
    p_reflection: float | None = field(default=None, compare=False)
    p_therapist_input: float | None = field(default=None, compare=False)
    p_change: float | None = field(default=None, compare=False)
    """For a client turn, the probability of change talk."""
    p_sustain: float | None = field(default=None, compare=False)

    @property
    def other(self) -> bool:
        """A counselor utterance with none of the three behaviours (AnnoMI's "other")."""
        return (
            self.role == "counselor"
            and self.question is None
            and self.reflection is None
            and self.therapist_input is None
        )


@dataclass(frozen=True)
class Head:
    """One logistic regression: ``classes``, weights ``coef`` (k, n) and ``intercept`` (k,).

    A binary head has one row of weights (the log-odds of ``classes[1]``) and
    says "present" when that probability reaches ``threshold``; a multi-class
    head has one row per class (softmax) and decides by the argmax of
    ``log(probability) + offsets`` (offsets tuned for recall of rare classes).
    Both decision parameters are chosen inside the training data only.
    """

    classes: tuple[str, ...]
    coef: Vector
    intercept: Vector
    threshold: float = 0.5
    offsets: Vector | None = None


@dataclass(frozen=True, eq=False)
class MiCoder:
    """Fitted weights: TF-IDF vocabularies with their idf, and the classifier heads.

    Feature layout (length ``n_features``): the utterance's terms
    (``len(text_vocab)``), then the previous other-speaker utterance's terms
    (``len(context_vocab)``) multiplied by ``context_weight``, then
    :data:`DENSE_FEATURES`.
    """

    text_vocab: Mapping[str, int]
    text_idf: Vector
    context_vocab: Mapping[str, int]
    context_idf: Vector
    context_weight: float
    heads: Mapping[str, Head]

    @property
    def n_features(self) -> int:
        """Length of a feature vector."""
        return len(self.text_vocab) + len(self.context_vocab) + len(DENSE_FEATURES)


# --------------------------------------------------------------------------- text

_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_DASHES = re.compile(r"\s*(?:--+|[—–])\s*")
_CUT_HYPHEN = re.compile(r"(?<![A-Za-z0-9])-|-(?![A-Za-z0-9])")
_FILLERS = re.compile(r"(?<![-\w])(?:um+|uh+|erm|er)\b[,.]?\s*", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"[.?!]+")
_STOPWORD_LIST = """a an the and or but so to of in on at for with is are was were be been am it its
    that this these those i me my you your yours we our he she they them their his her him
    do does did have has had not no yes yeah okay ok just like really very well oh um uh
    what how why when where who which can could would will should might may there here
    about if then than as from up out all some any get got go going know think mean i'm
    you're it's that's don't can't"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())


_CUES = tuple(
    re.compile(pattern)
    for pattern in (
        # advice
        r"\b(?:you should|you need to|you ought to|you have to|you must|make sure"
        r"|i (?:would |'d )?(?:recommend|suggest|advise|encourage)"
        r"|my (?:advice|recommendation|suggestion)|you (?:might|may|could) want to"
        r"|(?:i think|maybe) you (?:should|could|need)|try (?:to )?)\b",
        # information
        r"\d|\b(?:percent|research|studies|study|shows|evidence|risks?|increases?|causes?"
        r"|medications?|doctor|dose|per (?:day|week)|guidelines?|recommended|damage)\b",
        # options
        r"\b(?:options?|choices?|alternatives?|or you could|some people|other people"
        r"|one (?:option|thing)|another (?:option|way|thing)|either)\b",
        # negotiation / goal setting
        r"\b(?:plan|goals?|next steps?|what would you like|where (?:do|would) you"
        r"|how would you like|would you be willing|are you willing|agree|decide|let's"
        r"|we could|how about)\b",
        # asking permission
        r"\b(?:is it okay|would it be okay|is that okay|do you mind|may i|can i (?:share|tell|give))\b",
        # opening of a reflection
        r"^(?:so |and |it )?(?:you(?:'re| are| feel| think| want| have| see| don't)?\b"
        r"|sounds like|it sounds|it seems|seems like|on one hand)",
        # change talk
        r"\bi (?:really )?(?:want|need|have|would like|'d like|will|am going|'m going|can|could"
        r"|should|gotta|wanna|plan|hope)\b|\bi'll\b|\b(?:ready|quit|stop|cut (?:down|back)"
        r"|change|better|healthier)\b",
        # sustain talk
        r"\bi (?:do not|don't|can't|cannot|won't|wouldn't|am not|'m not) (?:want|need|think|see"
        r"|going|ready|able)\b|\bnot (?:a|that big of a|really a) (?:problem|deal)\b"
        r"|\bi (?:like|enjoy|love)\b|\bhelps? me\b|\b(?:relax|fine|no big deal|everybody"
        r"|too hard|not ready)\b",
        # negation
        r"\b(?:not|no|never|don't|can't|won't|isn't|wasn't|didn't|doesn't)\b",
    )
)


def normalise_text(text: str) -> str:
    """Strip transcriber conventions so human and ASR transcripts look alike.

    Removes bracketed notes (``[laughs]``, ``[crosstalk]``), dashes that mark
    cut-offs and restarts, and the fillers *um*, *uh*, *er* (Whisper
    mostly omits them); folds typographic apostrophes; collapses white space.
    Case and sentence punctuation are kept.
    """
    text = text.replace("’", "'").replace("‘", "'")
    text = _BRACKETS.sub(" ", text)
    text = _DASHES.sub(" ", text)
    text = _CUT_HYPHEN.sub(" ", text)
    text = _FILLERS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _sentences(text: str) -> list[list[str]]:
    pieces = [_tokens(piece) for piece in _SENTENCE_END.split(text)]
    return [piece for piece in pieces if piece]


def text_terms(text: str) -> list[str]:
    """The terms counted for an utterance: word 1–2-grams plus positional markers.

    Markers: ``<end?>`` (ends with a question mark), ``<has?>``, ``<n?:k>`` (k
    question marks, capped at 3), ``<s0:w>``/``<s0:w v>`` (first one and two
    words), ``<sl:w>``/``<sl:w v>`` (first words of the last sentence),
    ``<len:b>`` (length band). ``text`` is normalised first.
    """
    text = normalise_text(text)
    tokens = _tokens(text)
    terms = list(tokens)
    terms.extend(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    stripped = text.rstrip()
    if stripped.endswith("?"):
        terms.append("<end?>")
    questions = text.count("?")
    if questions:
        terms.append("<has?>")
        terms.append(f"<n?:{min(questions, 3)}>")
    sentences = _sentences(text)
    if sentences:
        first, last = sentences[0], sentences[-1]
        terms.append(f"<s0:{first[0]}>")
        terms.append(f"<s0:{' '.join(first[:2])}>")
        terms.append(f"<sl:{last[0]}>")
        terms.append(f"<sl:{' '.join(last[:2])}>")
    band = 0 if not tokens else min(int(math.log2(len(tokens))), 6)
    terms.append(f"<len:{band}>")
    return terms


def context_terms(text: str | None) -> list[str]:
    """The terms counted for the previous other-speaker utterance: words and end marks."""
    if text is None:
        return ["<none>"]
    text = normalise_text(text)
    terms = _tokens(text)
    if text.rstrip().endswith("?"):
        terms.append("<end?>")
    return terms or ["<empty>"]


def _content(tokens: Sequence[str]) -> set[str]:
    return {token for token in tokens if token not in _STOPWORDS}


def dense_features(text: str, context: str | None) -> Vector:
    """The numeric features of :data:`DENSE_FEATURES`, each in about [0, 1].

    Overlap is measured on content words (a short stop list removed): the share
    of this utterance's content words found in the previous other-speaker
    utterance, and the share of that utterance's content words echoed here.
    Each ``cue_*`` counts matches of a short phrase list (capped at 3, over 3):
    phrases that MI coding manuals give as typical of that behaviour. They
    repeat what the word n-grams see, but pooled, so rare phrasings share weight.
    """
    own_tokens = _tokens(normalise_text(text))
    own = _content(own_tokens)
    if context is None:
        other: set[str] = set()
    else:
        other = _content(_tokens(normalise_text(context)))
    shared = len(own & other)
    lower = normalise_text(text).lower()
    cues = [min(len(cue.findall(lower)), 3) / 3.0 for cue in _CUES]
    return np.array(
        [
            shared / len(own) if own else 0.0,
            shared / len(other) if other else 0.0,
            math.log1p(len(own_tokens)) / 5.0,
            1.0 if context is not None and normalise_text(context).endswith("?") else 0.0,
            1.0 if context is None else 0.0,
            *cues,
        ],
        dtype=np.float64,
    )


def contexts(utterances: Sequence[tuple[str, str]]) -> list[str | None]:
    """For each utterance, the text of the latest earlier utterance by the other role."""
    latest: dict[str, str] = {}
    out: list[str | None] = []
    for role, text in utterances:
        other = "client" if role == "counselor" else "counselor"
        out.append(latest.get(other))
        latest[role] = text
    return out


# ---------------------------------------------------------------------- features


def _tfidf(terms: Sequence[str], vocab: Mapping[str, int], idf: Vector) -> tuple[Vector, Vector]:
    """Sublinear TF-IDF with l2 normalisation, as scikit-learn's ``TfidfVectorizer``.

    Returns sorted column indices and values.
    """
    counts = Counter(vocab[term] for term in terms if term in vocab)
    if not counts:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
    index = np.array(sorted(counts), dtype=np.int64)
    tf = np.array([counts[i] for i in index], dtype=np.float64)
    values = (np.log(tf) + 1.0) * idf[index]
    norm = math.sqrt(float(np.dot(values, values)))
    if norm > 0.0:
        values = values / norm
    return index.astype(np.float64), values


def feature_vector(coder: MiCoder, text: str, context: str | None) -> tuple[Vector, Vector]:
    """Sparse features of one utterance: column indices (as floats) and values."""
    text_index, text_values = _tfidf(text_terms(text), coder.text_vocab, coder.text_idf)
    ctx_index, ctx_values = _tfidf(context_terms(context), coder.context_vocab, coder.context_idf)
    offset = len(coder.text_vocab)
    dense_offset = offset + len(coder.context_vocab)
    dense = dense_features(text, context)
    return (
        np.concatenate(
            [text_index, ctx_index + offset, dense_offset + np.arange(len(dense), dtype=np.float64)]
        ),
        np.concatenate([text_values, ctx_values * coder.context_weight, dense]),
    )


def head_probabilities(head: Head, index: Vector, values: Vector) -> Vector:
    """Class probabilities of one head for one sparse feature vector (``classes`` order)."""
    columns = index.astype(np.int64)
    scores = head.coef[:, columns] @ values + head.intercept
    if len(head.classes) == 2:
        positive = 1.0 / (1.0 + np.exp(-scores[0]))
        return np.array([1.0 - positive, positive])
    scores = scores - scores.max()
    exp = np.exp(scores)
    return np.asarray(exp / exp.sum(), dtype=np.float64)


def utterance_probabilities(
    coder: MiCoder, role: str, text: str, context: str | None
) -> dict[str, Vector]:
    """Probabilities of every head that applies to ``role`` (counselor or client)."""
    index, values = feature_vector(coder, text, context)
    names = HEADS[:-1] if role == "counselor" else HEADS[-1:]
    return {name: head_probabilities(coder.heads[name], index, values) for name in names}


def _present(head: Head, probabilities: Vector) -> bool:
    return bool(probabilities[1] >= head.threshold)


def _argmax(head: Head, probabilities: Vector) -> str:
    if len(head.classes) == 2:
        return head.classes[int(probabilities[1] >= head.threshold)]
    scores = np.log(np.maximum(probabilities, 1e-300))
    if head.offsets is not None:
        scores = scores + head.offsets
    return head.classes[int(np.argmax(scores))]


def code_utterances(
    utterances: Sequence[tuple[str, str]], *, coder: MiCoder
) -> tuple[UtteranceCode, ...]:
    """Estimate the MI behaviour codes of each utterance of a conversation.

    Parameters
    ----------
    utterances
        ``(role, text)`` in time order, one per talk turn; ``role`` is
        ``"counselor"`` or ``"client"``. The previous utterance of the other role
        is used as context (a reflection echoes the client; change talk answers a
        question).
    coder
        Fitted weights, from :func:`models.loaders.load_mi_coder` or :func:`read_coder`.

    Returns
    -------
    tuple of UtteranceCode
        One per utterance, in the same order.

    Raises
    ------
    ValueError
        A role is neither ``"counselor"`` nor ``"client"``.
    """
    codes = []
    for (role, text), context in zip(utterances, contexts(utterances), strict=True):
        if role not in ROLES:
            raise ValueError(f"role must be 'counselor' or 'client', not {role!r}")
        probs = utterance_probabilities(coder, role, text, context)
        if role == "client":
            head = coder.heads["client_talk"]
            p = probs["client_talk"]
            codes.append(
                UtteranceCode(
                    role,
                    client_talk=_argmax(head, p),  # type: ignore[arg-type]
                    p_change=float(p[head.classes.index("change")]),
                    p_sustain=float(p[head.classes.index("sustain")]),
                )
            )
            continue
        found: dict[str, str | None] = {}
        for behaviour, exists, kind in (
            ("question", "question_exists", "question_type"),
            ("reflection", "reflection_exists", "reflection_type"),
            ("therapist_input", "input_exists", "input_type"),
        ):
            present = _present(coder.heads[exists], probs[exists])
            found[behaviour] = _argmax(coder.heads[kind], probs[kind]) if present else None
        codes.append(
            UtteranceCode(
                role,
                **found,  # type: ignore[arg-type]
                p_question=float(probs["question_exists"][1]),
                p_reflection=float(probs["reflection_exists"][1]),
                p_therapist_input=float(probs["input_exists"][1]),
            )
        )
    return tuple(codes)


# --------------------------------------------------------------------- weight file


def _npy_bytes(array: npt.NDArray[np.generic]) -> bytes:
    buffer = io.BytesIO()
    # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    contiguous = array if array.flags.c_contiguous else array.copy(order="C")
    np.lib.format.write_array(buffer, contiguous, allow_pickle=False)
    return buffer.getvalue()


def _vocab_array(vocab: Mapping[str, int]) -> npt.NDArray[np.str_]:
    terms = sorted(vocab, key=vocab.__getitem__)
    if [vocab[t] for t in terms] != list(range(len(terms))):
        raise MiCoderError("a vocabulary's column indices must be 0..n-1")
    return np.array(terms, dtype=np.str_)


def save_coder(coder: MiCoder, path: str | Path) -> None:
    """Write ``coder`` as a ``.npz`` file, byte-identical for identical weights.

    ``numpy.savez`` stamps the current time into the zip; this writer fixes the
    timestamps and the member order, so the sha256 depends on the weights only.
    """
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "text_vocab": _vocab_array(coder.text_vocab),
        "text_idf": coder.text_idf,
        "context_vocab": _vocab_array(coder.context_vocab),
        "context_idf": coder.context_idf,
        "context_weight": np.array(coder.context_weight, dtype=np.float64),
        "dense_features": np.array(DENSE_FEATURES, dtype=np.str_),
    }
    for name in HEADS:
        head = coder.heads[name]
        arrays[f"{name}.classes"] = np.array(head.classes, dtype=np.str_)
        arrays[f"{name}.coef"] = np.asarray(head.coef, dtype=np.float64)
        arrays[f"{name}.intercept"] = np.asarray(head.intercept, dtype=np.float64)
        arrays[f"{name}.threshold"] = np.array(head.threshold, dtype=np.float64)
        offsets = np.zeros(len(head.classes)) if head.offsets is None else head.offsets
        arrays[f"{name}.offsets"] = np.asarray(offsets, dtype=np.float64)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _npy_bytes(array), compresslevel=9)


def read_coder(path: str | Path) -> MiCoder:
    """Read a weight file written by :func:`save_coder` (no checksum check: see ``models``).

    Raises
    ------
    MiCoderError
        The file is not a coder of :data:`FORMAT_VERSION`, or its shapes disagree.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise MiCoderError(f"{path} is not a readable MI coder weight file: {error}") from error
    try:
        version = int(arrays["format_version"])
        if version != FORMAT_VERSION:
            raise MiCoderError(
                f"{path} has MI coder format {version}, this version reads {FORMAT_VERSION}; "
                "refit it with scripts/fit_mi_coder.py or reinstall the package"
            )
        if tuple(str(x) for x in arrays["dense_features"]) != DENSE_FEATURES:
            raise MiCoderError(f"{path} was fitted with other numeric features")
        text_vocab = {str(t): i for i, t in enumerate(arrays["text_vocab"])}
        context_vocab = {str(t): i for i, t in enumerate(arrays["context_vocab"])}
        heads = {
            name: Head(
                classes=tuple(str(c) for c in arrays[f"{name}.classes"]),
                coef=arrays[f"{name}.coef"].astype(np.float64),
                intercept=arrays[f"{name}.intercept"].astype(np.float64),
                threshold=float(arrays[f"{name}.threshold"]),
                offsets=arrays[f"{name}.offsets"].astype(np.float64),
            )
            for name in HEADS
        }
        coder = MiCoder(
            text_vocab=text_vocab,
            text_idf=arrays["text_idf"].astype(np.float64),
            context_vocab=context_vocab,
            context_idf=arrays["context_idf"].astype(np.float64),
            context_weight=float(arrays["context_weight"]),
            heads=heads,
        )
    except KeyError as error:
        raise MiCoderError(f"{path} lacks MI coder array {error}") from error
    _check_shapes(coder, path)
    return coder


def _check_shapes(coder: MiCoder, path: str | Path) -> None:
    if coder.text_idf.shape != (len(coder.text_vocab),) or coder.context_idf.shape != (
        len(coder.context_vocab),
    ):
        raise MiCoderError(f"{path}: idf and vocabulary lengths disagree")
    for name, head in coder.heads.items():
        rows = 1 if len(head.classes) == 2 else len(head.classes)
        offsets = np.zeros(len(head.classes)) if head.offsets is None else head.offsets
        if (
            head.coef.shape != (rows, coder.n_features)
            or head.intercept.shape != (rows,)
            or offsets.shape != (len(head.classes),)
        ):
            raise MiCoderError(f"{path}: head {name} has weights of the wrong shape")
