"""Typed values that cross the boundaries between pipeline stages.

Every stage takes and returns these frozen dataclasses, never generators,
models or framework objects, so each stage can be called, cached and tested
alone. Times are seconds from the start of the recording, as floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

SAMPLE_RATE_HZ = 16_000
"""Sample rate of every waveform handed between stages."""

CHANNEL_LABELS = ("LEFT", "RIGHT")
"""Speaker labels of a stereo recording diarized by channel: channel 0 is ``LEFT``."""


@dataclass(frozen=True)
class AudioInfo:
    """What we know about a recording file, independent of its samples."""

    path: str
    sha256: str
    duration_s: float
    original_sample_rate_hz: int
    channels: int
    container: str
    codec: str


@dataclass(frozen=True, eq=False)
class Audio:
    """A decoded recording: 16 kHz mono for the models, channels kept for stereo.

    ``samples`` has shape ``(n,)``; ``channel_samples`` has shape
    ``(channels, n)`` (one row for a mono file). Both are float32 in [-1, 1].
    """

    info: AudioInfo
    samples: npt.NDArray[np.float32]
    channel_samples: npt.NDArray[np.float32]

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[0]) / SAMPLE_RATE_HZ


@dataclass(frozen=True)
class Word:
    """One transcribed word with Whisper's timing and confidence (text without surrounding spaces).

    ``channel`` is the index of the stereo channel the word was transcribed
    from when each channel is transcribed on its own, else None (the mix).
    """

    start: float
    end: float
    text: str
    probability: float
    channel: int | None = None


@dataclass(frozen=True)
class TranscriptSegment:
    """One Whisper segment: a run of words the decoder emitted together."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    """The transcription stage's result."""

    language: str
    language_probability: float
    segments: tuple[TranscriptSegment, ...]
    model: str

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)


@dataclass(frozen=True)
class Turn:
    """One speaker speaking over an interval."""

    start: float
    end: float
    speaker: str

    @property
    def duration_s(self) -> float:
        return self.end - self.start


QualityLevel = Literal["good", "doubtful", "poor"]
ChannelMode = Literal["split", "mix"]


def as_sentence(text: str) -> str:
    """``text`` with a capital first letter and closing punctuation.

    Quality cues are shown on their own, as warnings, and joined into a reason,
    so each is kept as a sentence.
    """
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".?!" else ".")


@dataclass(frozen=True)
class DiarizationQuality:
    """Whether a diarization holds up (:mod:`pipeline.diarization_quality`).

    ``cues`` are sentences ending in what the user can do (made so by
    :func:`as_sentence`, also for documents written before they were); ``tried``
    names the strategies looked at (the kept one last); ``measures`` the numbers judged.
    """

    level: QualityLevel
    cues: tuple[str, ...] = ()
    tried: tuple[str, ...] = ()
    measures: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cues", tuple(as_sentence(c) for c in self.cues))


@dataclass(frozen=True)
class ChannelDecision:
    """Whether a recording's channels carry different parties (:mod:`pipeline.channels`).

    ``split``: diarize by channel; ``mix``: diarize the mono mix by voice.
    ``evidence`` holds the measurements the decision rests on.
    """

    mode: ChannelMode
    reason: str
    evidence: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Diarization:
    """Who spoke when.

    ``turns`` is overlap-aware (two speakers may share an instant): use it to
    count overlap and interruptions. ``exclusive`` gives each instant at most
    one speaker: use it to attribute words. ``quality`` is None when not
    checked; ``channels`` is the stereo decision, None when none was made.
    """

    turns: tuple[Turn, ...]
    exclusive: tuple[Turn, ...]
    model: str
    warnings: tuple[str, ...] = ()
    quality: DiarizationQuality | None = None
    channels: ChannelDecision | None = None

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(sorted({t.speaker for t in self.turns}))


@dataclass(frozen=True)
class SpeakerWord:
    """A transcribed word attributed to one diarized speaker."""

    start: float
    end: float
    text: str
    probability: float
    speaker: str


@dataclass(frozen=True)
class Utterance:
    """A speaker-homogeneous stretch of transcript (a Whisper segment split at speaker changes)."""

    start: float
    end: float
    speaker: str
    words: tuple[SpeakerWord, ...] = field(default=())

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)
