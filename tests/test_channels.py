"""Diarization by channel energy on synthesized stereo signals with crosstalk."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.channels import diarize_by_channel
from pipeline.errors import DiarizationError
from pipeline.types import SAMPLE_RATE_HZ, Audio, AudioInfo, Turn
from tests.conftest import tone


def stereo(
    left_spans: list[tuple[float, float]],
    right_spans: list[tuple[float, float]],
    *,
    duration_s: float = 10.0,
    leak: float = 0.05,
) -> Audio:
    n = int(duration_s * SAMPLE_RATE_HZ)
    rng = np.random.default_rng(0)
    channels = (rng.standard_normal((2, n)) * 1e-4).astype(np.float32)  # -80 dBFS noise floor
    for channel, spans, frequency in ((0, left_spans, 180.0), (1, right_spans, 260.0)):
        for start, end in spans:
            a, b = int(start * SAMPLE_RATE_HZ), int(end * SAMPLE_RATE_HZ)
            voice = tone(1.0 + end - start, frequency_hz=frequency)[: b - a]
            channels[channel, a:b] += voice
            channels[1 - channel, a:b] += leak * voice  # crosstalk, 26 dB down
    info = AudioInfo("s.wav", "0" * 64, duration_s, SAMPLE_RATE_HZ, 2, "wav", "pcm_s16le")
    return Audio(info, channels.mean(axis=0), channels)


def spans(diarization_turns: tuple[Turn, ...], speaker: str) -> list[tuple[float, float]]:
    return [(t.start, t.end) for t in diarization_turns if t.speaker == speaker]


def test_each_channel_is_one_speaker_and_crosstalk_is_ignored() -> None:
    result = diarize_by_channel(stereo([(1.0, 3.0), (6.0, 8.0)], [(3.5, 5.5)]))
    assert result.speakers == ("LEFT", "RIGHT")
    assert spans(result.turns, "LEFT") == [
        pytest.approx((1.0, 3.0), abs=0.05),
        pytest.approx((6.0, 8.0), abs=0.05),
    ]
    assert spans(result.turns, "RIGHT") == [pytest.approx((3.5, 5.5), abs=0.05)]


def test_simultaneous_speech_is_overlap_and_exclusive_goes_to_the_louder() -> None:
    result = diarize_by_channel(stereo([(1.0, 5.0)], [(4.0, 7.0)]))
    assert spans(result.turns, "LEFT") == [pytest.approx((1.0, 5.0), abs=0.05)]
    assert spans(result.turns, "RIGHT") == [pytest.approx((4.0, 7.0), abs=0.05)]
    exclusive = sorted(result.exclusive, key=lambda t: t.start)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(exclusive))
    assert sum(t.duration_s for t in exclusive) == pytest.approx(6.0, abs=0.1)


def test_short_pauses_are_bridged_and_blips_dropped() -> None:
    result = diarize_by_channel(stereo([(1.0, 2.0), (2.1, 3.0), (5.0, 5.1)], [(6.0, 7.0)]))
    assert spans(result.turns, "LEFT") == [pytest.approx((1.0, 3.0), abs=0.05)]


def test_mono_recording_is_refused_with_a_hint() -> None:
    audio = stereo([(1.0, 2.0)], [])
    mono = Audio(audio.info, audio.samples, audio.channel_samples[:1])
    with pytest.raises(
        DiarizationError, match=r"needs a stereo recording.*drop --counselor-channel"
    ):
        diarize_by_channel(mono)
