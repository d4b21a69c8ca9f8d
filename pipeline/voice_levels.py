"""How loud each diarized voice is, and when one is quiet enough to be undercounted.

A recorder placed near one party, or a phone call mixed down with the far end
faint, leaves one voice far quieter than the other. The segmentation model
then misses part of the quiet voice's speech, so that party's talk time is
too low, while the clustering cues of :mod:`pipeline.diarization_quality`,
which only see the speech that was detected, stay quiet. On the neural-voice
dialogues mixed down with one party 20 dB quieter, 3 of 12 talk shares came
out more than 0.10 off with the check saying ``good``, and 11 of 12 were off
towards the quieter party being undercounted; 10 dB quieter did no harm
(docs/diarization.md, "A quiet voice").

The level of a voice is the 90th percentile of the 20 ms frame levels (dBFS)
over the speaker's exclusive speech, so that pauses inside a turn do not pull
it down. It is recorded per speaker in the diarization's measures
(:data:`LEVEL_KEY_PREFIX` + speaker label), so a rescore that changes the roles
finds it again. Which way the error goes is known (the quiet party's share is
too low), so :func:`quiet_voice` names the quiet role and
:mod:`pipeline.evidence` withholds only the verdict that error could have
produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.types import SAMPLE_RATE_HZ, Turn

FRAME_S = 0.02
"""Hop of the frame levels."""
LEVEL_PERCENTILE = 90.0
"""A voice's level: this percentile of its frames' levels (its loud speech, not its pauses)."""
MIN_LEVEL_SPEECH_S = 5.0
"""A speaker with less exclusive speech than this gets no level (too few frames to tell)."""
LEVEL_KEY_PREFIX = "speech_level_db:"
"""Prefix of the per-speaker level keys among a diarization's measures."""


def frame_levels_db(samples: npt.NDArray[np.float32], *, hop: int) -> npt.NDArray[np.float64]:
    """RMS level of frames ``2 * hop`` samples long every ``hop`` samples, in dBFS (floor -160)."""
    import librosa  # heavy; the report imports this module for its measure names only

    rms = librosa.feature.rms(y=samples, frame_length=2 * hop, hop_length=hop, center=True)[0]
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-8)), dtype=np.float64)


def speaker_levels_db(
    samples: npt.NDArray[np.float32],
    exclusive: Sequence[Turn],
    *,
    min_speech_s: float = MIN_LEVEL_SPEECH_S,
) -> dict[str, float]:
    """Each speaker's speech level in dBFS (rounded to 0.1 dB), from their exclusive turns.

    Speakers with less than ``min_speech_s`` of exclusive speech are left out.
    """
    hop = round(FRAME_S * SAMPLE_RATE_HZ)
    levels = frame_levels_db(samples, hop=hop)
    frames: dict[str, list[npt.NDArray[np.float64]]] = {}
    for turn in exclusive:
        first = max(0, round(turn.start / FRAME_S))
        last = min(len(levels), round(turn.end / FRAME_S))
        if last > first:
            frames.setdefault(turn.speaker, []).append(levels[first:last])
    result = {}
    for speaker, pieces in sorted(frames.items()):
        joined = np.concatenate(pieces)
        if joined.size * FRAME_S >= min_speech_s:
            result[speaker] = round(float(np.percentile(joined, LEVEL_PERCENTILE)), 1)
    return result


def level_measures(levels: Mapping[str, float]) -> dict[str, float]:
    """``levels`` as diarization measures (:data:`LEVEL_KEY_PREFIX` + speaker)."""
    return {f"{LEVEL_KEY_PREFIX}{speaker}": level for speaker, level in levels.items()}


@dataclass(frozen=True)
class QuietVoice:
    """One role's voice far quieter than the other's: its talk share is probably too low."""

    role: str
    """``"counselor"`` or ``"client"``: the quiet one."""
    gap_db: float
    """How much quieter, in dB (positive)."""

    @property
    def other(self) -> str:
        return "client" if self.role == "counselor" else "counselor"

    def warning(self) -> str:
        return (
            f"The {self.role}'s voice is {self.gap_db:.0f} dB quieter than the {self.other}'s "
            f"(a recorder near the {self.other}, or a phone call's far end): quiet speech is "
            f"easily missed, so the {self.role}'s share of talk time is probably too low. "
            "Record each party on its own channel, or place the microphone between them."
        )


def quiet_voice(
    measures: Mapping[str, float],
    role_of: Callable[[str], str],
    *,
    min_gap_db: float,
) -> QuietVoice | None:
    """The counselor or client whose voice is at least ``min_gap_db`` quieter than the other's.

    ``measures``: a diarization's measures (levels under :data:`LEVEL_KEY_PREFIX`);
    ``role_of``: speaker label → role. None when either role has no level, or
    the gap is smaller.
    """
    by_role: dict[str, float] = {}
    for key, level in measures.items():
        if key.startswith(LEVEL_KEY_PREFIX):
            role = role_of(key.removeprefix(LEVEL_KEY_PREFIX))
            if role in ("counselor", "client"):
                by_role[role] = level
    if len(by_role) < 2:
        return None
    quiet, loud = sorted(by_role, key=by_role.__getitem__)
    gap = by_role[loud] - by_role[quiet]
    return QuietVoice(quiet, round(gap, 1)) if gap >= min_gap_db else None
