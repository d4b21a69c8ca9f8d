"""Diarization by channel energy, for stereo recordings with one party per channel.

Telehealth platforms and many recorders put each party on its own channel.
There, who speaks when is read off the channels' loudness more reliably than
by clustering voices: a channel is speaking where its level is well above its
own noise floor and not merely the other party's crosstalk (a leak is several
dB quieter than the direct voice on the other channel).
"""

from __future__ import annotations

import librosa
import numpy as np
import numpy.typing as npt

from pipeline.errors import DiarizationError
from pipeline.types import SAMPLE_RATE_HZ, Audio, Diarization, Turn

CHANNEL_LABELS = ("LEFT", "RIGHT")
CHANNEL_MODEL = "channel-energy"


def _level_db(samples: npt.NDArray[np.float32], *, hop: int) -> npt.NDArray[np.float64]:
    rms = librosa.feature.rms(y=samples, frame_length=2 * hop, hop_length=hop, center=True)[0]
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-8)), dtype=np.float64)


def _runs(mask: npt.NDArray[np.bool_], *, frame_s: float) -> list[tuple[float, float]]:
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [
        (float(a * frame_s), float(b * frame_s))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _clean(
    runs: list[tuple[float, float]], *, min_gap_s: float, min_speech_s: float
) -> list[tuple[float, float]]:
    """Bridge short pauses, then drop blips."""
    merged: list[tuple[float, float]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < min_gap_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e) for s, e in merged if e - s >= min_speech_s]


def diarize_by_channel(
    audio: Audio,
    *,
    frame_s: float = 0.02,
    floor_margin_db: float = 15.0,
    crosstalk_margin_db: float = 10.0,
    min_gap_s: float = 0.3,
    min_speech_s: float = 0.2,
) -> Diarization:
    """Turns from a two-channel recording: ``LEFT`` and ``RIGHT`` are the speakers.

    Parameters
    ----------
    frame_s
        Analysis frame hop.
    floor_margin_db
        A channel speaks where it is this much above its noise floor (its 10th percentile level).
    crosstalk_margin_db
        ...and no more than this much below the other channel (quieter is a leak).
    min_gap_s, min_speech_s
        Pauses shorter than ``min_gap_s`` are bridged; speech shorter than ``min_speech_s`` is dropped.
    """
    if audio.channel_samples.shape[0] != 2:
        raise DiarizationError(
            f"channel diarization needs a stereo recording; this one has "
            f"{audio.channel_samples.shape[0]} channel(s): drop --counselor-channel"
        )
    hop = round(frame_s * SAMPLE_RATE_HZ)
    levels = np.stack([_level_db(channel, hop=hop) for channel in audio.channel_samples])
    floors = np.percentile(levels, 10, axis=1, keepdims=True)
    active = (levels > floors + floor_margin_db) & (levels >= levels[::-1] - crosstalk_margin_db)
    per_channel = [
        _clean(_runs(active[c], frame_s=frame_s), min_gap_s=min_gap_s, min_speech_s=min_speech_s)
        for c in range(2)
    ]
    duration = audio.duration_s
    turns = sorted(
        (
            Turn(round(s, 3), round(min(e, duration), 3), CHANNEL_LABELS[c])
            for c in range(2)
            for s, e in per_channel[c]
        ),
        key=lambda t: (t.start, t.end, t.speaker),
    )
    if not turns:
        raise DiarizationError("no speech was found on either channel")
    return Diarization(
        turns=tuple(turns),
        exclusive=exclusive_turns(turns, levels, frame_s=frame_s),
        model=CHANNEL_MODEL,
    )


def exclusive_turns(
    turns: list[Turn], levels: npt.NDArray[np.float64], *, frame_s: float
) -> tuple[Turn, ...]:
    """One speaker per instant: where both channels speak, the louder one holds the frame."""
    n_frames = levels.shape[1]
    owner = np.full(n_frames, -1)
    for turn in turns:
        channel = CHANNEL_LABELS.index(turn.speaker)
        a, b = round(turn.start / frame_s), min(round(turn.end / frame_s), n_frames)
        span = slice(a, b)
        free = owner[span] == -1
        louder = levels[channel, span] > levels[1 - channel, span]
        owner[span] = np.where(free | louder, channel, owner[span])
    result = []
    for channel in range(2):
        result += [
            Turn(round(s, 3), round(e, 3), CHANNEL_LABELS[channel])
            for s, e in _runs(owner == channel, frame_s=frame_s)
        ]
    return tuple(sorted(result, key=lambda t: (t.start, t.end)))
