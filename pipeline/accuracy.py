"""Accuracy against known truth: diarization error rate and word error rate.

Used by the integration tests and the benchmarks; both follow standard
definitions (pyannote.metrics DER without collar; WER after lowercasing and
removing punctuation).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.types import Turn


def pyannote_sample_dir() -> Path:
    """pyannote.audio's bundled real two-person phone call (sample.wav, .rttm, .stm)."""
    spec = importlib.util.find_spec("pyannote.audio")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyannote.audio is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "sample"


_PUNCTUATION = re.compile(r"[^\w\s']")


def normalise_text(text: str) -> str:
    """Lowercase, drop punctuation (keeping apostrophes), collapse whitespace."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of ``hypothesis`` against ``reference`` after :func:`normalise_text`."""
    import jiwer

    return float(jiwer.wer(normalise_text(reference), normalise_text(hypothesis)))


def diarization_error_rate(
    reference: Iterable[Turn],
    hypothesis: Iterable[Turn],
    *,
    duration_s: float,
    collar_s: float = 0.0,
) -> float:
    """DER (pyannote.metrics) over ``[0, duration_s]`` with optimal speaker mapping.

    Overlapping speech is scored and there is no collar unless ``collar_s`` is given.
    """
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(turns: Iterable[Turn]) -> Annotation:
        result = Annotation()
        for index, turn in enumerate(turns):
            result[Segment(turn.start, turn.end), index] = turn.speaker
        return result

    metric = DiarizationErrorRate(collar=collar_s, skip_overlap=False)
    uem = Timeline([Segment(0.0, duration_s)])
    return float(metric(annotation(reference), annotation(hypothesis), uem=uem))


def read_rttm(text: str) -> list[Turn]:
    """Turns from RTTM ``SPEAKER`` lines."""
    turns = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append(Turn(start, start + duration, fields[7]))
    return turns


def read_stm_text(text: str) -> str:
    """The transcript of an STM file, in time order."""
    rows: list[tuple[float, str]] = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and not line.startswith(";;"):
            rows.append((float(fields[3]), fields[5]))
    return " ".join(words for _, words in sorted(rows))


def words_text(words: Sequence[object]) -> str:
    """Concatenate the ``text`` of word-like objects."""
    return " ".join(str(getattr(w, "text", "")) for w in words)
