"""Stage results as JSON-ready dicts, and back to ``pipeline`` dataclasses.

Task results cross process boundaries and are persisted as JSON (the cache),
so every task returns plain dicts built with :func:`dataclasses.asdict` and
the next task rebuilds the typed values it needs. Waveforms never cross.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pipeline.types import (
    AudioInfo,
    ChannelDecision,
    Diarization,
    DiarizationQuality,
    SpeakerWord,
    Transcript,
    TranscriptSegment,
    Turn,
    Utterance,
    Word,
)

Record = dict[str, Any]


def to_record(value: Any) -> Record:
    """A dataclass as a JSON-ready dict (tuples become lists in JSON)."""
    record: Record = asdict(value)
    return record


def audio_info(record: Mapping[str, Any]) -> AudioInfo:
    """Rebuild :class:`AudioInfo`."""
    return AudioInfo(**record)


def transcript(record: Mapping[str, Any]) -> Transcript:
    """Rebuild :class:`Transcript` with its segments and words."""
    return Transcript(
        language=record["language"],
        language_probability=record["language_probability"],
        segments=tuple(
            TranscriptSegment(
                start=s["start"],
                end=s["end"],
                text=s["text"],
                words=tuple(Word(**w) for w in s["words"]),
            )
            for s in record["segments"]
        ),
        model=record["model"],
    )


def turns(rows: Sequence[Mapping[str, Any]]) -> tuple[Turn, ...]:
    """Rebuild a tuple of :class:`Turn`."""
    return tuple(Turn(r["start"], r["end"], r["speaker"]) for r in rows)


def diarization(record: Mapping[str, Any]) -> Diarization:
    """Rebuild :class:`Diarization`."""
    return Diarization(
        turns=turns(record["turns"]),
        exclusive=turns(record["exclusive"]),
        model=record["model"],
        warnings=tuple(record.get("warnings", ())),
        quality=_quality(record.get("quality")),
        channels=None if record.get("channels") is None else ChannelDecision(**record["channels"]),
    )


def _quality(record: Mapping[str, Any] | None) -> DiarizationQuality | None:
    if record is None:
        return None
    return DiarizationQuality(
        level=record["level"],
        cues=tuple(record["cues"]),
        tried=tuple(record["tried"]),
        measures=dict(record["measures"]),
    )


def utterances(rows: Sequence[Mapping[str, Any]]) -> tuple[Utterance, ...]:
    """Rebuild speaker-attributed utterances with their words."""
    return tuple(
        Utterance(
            start=u["start"],
            end=u["end"],
            speaker=u["speaker"],
            words=tuple(SpeakerWord(**w) for w in u["words"]),
        )
        for u in rows
    )
