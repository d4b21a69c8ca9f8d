"""Subtitle and annotation files: SRT, WebVTT and RTTM.

Cues carry the speaker (or its role, once roles are known) so a supervisor
can play the recording with the transcript in any media player.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.types import Turn, Utterance

MAX_CUE_WORDS = 14
"""Longer utterances are split into several cues so they stay readable on screen."""


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(
    utterances: Sequence[Utterance], label: Callable[[str], str]
) -> list[tuple[float, float, str]]:
    cues = []
    for utterance in utterances:
        words = utterance.words
        for first in range(0, len(words), MAX_CUE_WORDS):
            chunk = words[first : first + MAX_CUE_WORDS]
            text = " ".join(w.text for w in chunk)
            cues.append((chunk[0].start, chunk[-1].end, f"[{label(utterance.speaker)}] {text}"))
    return cues


def to_srt(utterances: Sequence[Utterance], *, label: Callable[[str], str] = str) -> str:
    """SubRip subtitles, one numbered cue per utterance (long ones split)."""
    blocks = [
        f"{n}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(_cues(utterances, label), 1)
    ]
    return "\n".join(blocks)


def to_vtt(utterances: Sequence[Utterance], *, label: Callable[[str], str] = str) -> str:
    """WebVTT subtitles, for browsers' ``<track>`` elements."""
    blocks = [
        f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{text}\n"
        for start, end, text in _cues(utterances, label)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_rttm(turns: Sequence[Turn], *, uri: str) -> str:
    """NIST RTTM: one ``SPEAKER`` line per turn (the format pyannote and dscore read)."""
    safe_uri = "".join(c if c.isalnum() or c in "-_." else "_" for c in uri) or "session"
    return "".join(
        f"SPEAKER {safe_uri} 1 {t.start:.3f} {t.duration_s:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
    )
