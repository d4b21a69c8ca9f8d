"""Decoding holds a recording once and measures silence in blocks, with unchanged values."""

from __future__ import annotations

from pathlib import Path

import av
import librosa
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.audio as audio_module
from pipeline.audio import _decode, _SampleBuffer, is_silent, load_audio, open_local

FIXTURES = Path(__file__).parent / "fixtures"


def frame_list_decode(path: Path) -> npt.NDArray[np.float32]:
    """How decoding worked before: every resampled frame kept, concatenated at the end."""
    with open_local(path) as container:
        stream = container.streams.audio[0]
        layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=16_000)
        chunks = []
        for frame in container.decode(stream):
            chunks += [audio_module._channels_first(out) for out in resampler.resample(frame)]
        chunks += [audio_module._channels_first(out) for out in resampler.resample(None)]
    return np.concatenate(chunks, axis=1)


@pytest.mark.parametrize(
    ("name", "channels"),
    [("dialogue_client_led.wav", 1), ("dialogue_client_led.mp3", 1), ("dialogue_stereo.wav", 2)],
)
def test_decoding_gives_the_same_samples_as_the_frame_list(name: str, channels: int) -> None:
    audio = load_audio(FIXTURES / name)
    reference = frame_list_decode(FIXTURES / name)
    assert audio.channel_samples.shape[0] == channels
    np.testing.assert_array_equal(audio.channel_samples, reference)
    np.testing.assert_array_equal(audio.samples, reference.mean(axis=0).astype(np.float32))


def test_a_mono_mix_shares_the_channels_memory() -> None:
    audio = load_audio(FIXTURES / "dialogue_client_led.wav")
    assert np.shares_memory(audio.samples, audio.channel_samples)
    assert audio.samples.flags.c_contiguous


@pytest.mark.parametrize("expected_s", [None, 0.5, 10_000.0])
def test_a_wrong_declared_duration_only_changes_how_the_buffer_grows(
    expected_s: float | None,
) -> None:
    path = FIXTURES / "dialogue_client_led.wav"
    with open_local(path) as container:
        samples = _decode(
            container,
            container.streams.audio[0],
            max_duration_s=14_400.0,
            name=path.name,
            expected_s=expected_s,
        )
    np.testing.assert_array_equal(samples, frame_list_decode(path))
    assert samples.base is None or samples.base.shape[1] - samples.shape[1] <= 16_000


def test_sample_buffer_grows_and_trims() -> None:
    buffer = _SampleBuffer(2, 3)
    buffer.append(np.ones((2, 2), np.float32))
    buffer.append(np.full((2, 5), 2.0, np.float32))
    assert buffer.data.shape == (2, 7)  # grown to what was needed (more than twice 3)
    buffer.append(np.full((2, 1), 3.0, np.float32))
    assert buffer.data.shape == (2, 14)  # then doubled
    assert buffer.samples().tolist() == [[1, 1, 2, 2, 2, 2, 2, 3]] * 2
    big = _SampleBuffer(1, 100_000)
    big.append(np.ones((1, 10), np.float32))
    assert big.samples().base is None  # 99,990 spare samples: copied out, not a view


def full_pass_loudest(samples: npt.NDArray[np.float32]) -> float:
    rms = librosa.feature.rms(y=samples, frame_length=1024, hop_length=512, center=False)
    return float(np.max(rms))


@given(
    st.integers(1024, 40_000),
    st.integers(1, 40),
    st.integers(0, 2**32 - 1),
    st.floats(1e-4, 1.0),
)
@settings(max_examples=60, deadline=None)
def test_blocked_silence_check_sees_every_frame(
    length: int, block_frames: int, seed: int, level: float
) -> None:
    samples = (np.random.default_rng(seed).standard_normal(length) * level).astype(np.float32)
    loudest = full_pass_loudest(samples)
    threshold_db = 20 * np.log10(loudest)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audio_module, "_SILENCE_BLOCK_FRAMES", block_frames)
        assert (
            is_silent(samples, silence_dbfs=threshold_db) is False
        )  # the loudest frame reaches it
        assert is_silent(samples, silence_dbfs=float(np.nextafter(threshold_db, np.inf))) is True


def test_blocked_silence_check_finds_one_loud_frame_at_the_very_end() -> None:
    samples = np.zeros(16_000 * 3, np.float32)
    samples[47_000:47_400] = 0.5  # only in the last whole frame (46,592-47,616)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audio_module, "_SILENCE_BLOCK_FRAMES", 7)
        assert not is_silent(samples)
        samples[47_000:47_400] = 0.0
        samples[47_700:] = 0.5  # after the last whole frame: never measured, as before
        assert is_silent(samples)
        assert full_pass_loudest(samples) == 0.0
    assert is_silent(np.zeros(100, np.float32))  # shorter than one frame: nothing is loud
