"""YIN aperiodicity frame by frame, and the frames near voicing (``pipeline.voicing``)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, sosfiltfilt

from pipeline import voicing
from pipeline.types import SAMPLE_RATE_HZ
from pipeline.voice_levels import frame_levels_db
from pipeline.voicing import aperiodicity, near_voicing
from tests.conftest import tone

HOP = 320  # 20 ms, the channel activity's frame


@pytest.mark.parametrize("n", [0, 1, HOP - 1, HOP, HOP + 1, 10 * HOP + 7])
def test_there_are_as_many_frames_as_librosa_gives_rms_frames(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    assert len(aperiodicity(x, hop=HOP)) == len(frame_levels_db(x, hop=HOP))


def test_each_window_is_centred_on_its_frame_time() -> None:
    """One second of silence, then a tone from sample 16 000: frame 50's window (12.5 ms
    either side of that sample) straddles the onset; every frame before it is silent (1), every
    frame after it, up to the last, which straddles the end, is the tone (0)."""
    x = np.concatenate([np.zeros(SAMPLE_RATE_HZ, np.float32), tone(1.0, frequency_hz=200.0)])
    found = aperiodicity(x, hop=HOP)
    assert len(found) == 101
    assert found[:50].tolist() == [1.0] * 50  # silence reads 1, not a division by zero
    np.testing.assert_allclose(found[51:100], 0.0, atol=1e-5)
    # the window starting 12.5 ms before the onset is half silence: still periodic
    assert found[50] < 0.4


def coloured_noise(exponent: float, *, seed: int = 0) -> npt.NDArray[np.float32]:
    """One second of noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(SAMPLE_RATE_HZ))
    spectrum[1:] /= np.arange(1, len(spectrum)) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, SAMPLE_RATE_HZ)
    return np.asarray(noise / np.abs(noise).max(), dtype=np.float32)


@pytest.mark.parametrize("exponent", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(5))
def test_hiss_and_pink_noise_never_read_voiced(exponent: float, seed: int) -> None:
    found = aperiodicity(coloured_noise(exponent, seed=seed), hop=HOP)
    assert found.min() > 0.55


def test_low_rumble_reads_voiced_only_now_and_then() -> None:
    """Brown noise (power falling as 1/f**2) is slow enough to look periodic in a few
    frames: under 1 % of them at the 0.4 of channel activity (docs/diarization.md)."""
    found = np.concatenate([aperiodicity(coloured_noise(2.0, seed=s), hop=HOP) for s in range(20)])
    assert np.mean(found <= 0.4) < 0.01
    assert np.median(found) > 1.0


def test_a_voice_on_a_telephone_band_is_still_periodic() -> None:
    """300-3400 Hz removes a 120 Hz voice's fundamental; its harmonics still repeat every period."""
    t = np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    voice = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 30))
    band = butter(4, [300, 3400], "bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    found = aperiodicity(sosfiltfilt(band, voice).astype(np.float32), hop=HOP)
    assert np.median(found) < 0.05


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=6000),
    gain=st.floats(min_value=1e-3, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_aperiodicity_is_one_per_frame_non_negative_and_level_free(
    n: int, gain: float, seed: int
) -> None:
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32) * 0.5
    found = aperiodicity(x, hop=HOP)
    assert found.shape == (1 + n // HOP,)
    assert np.all(found >= 0.0)
    np.testing.assert_allclose(aperiodicity(x * np.float32(gain), hop=HOP), found, atol=1e-6)


def test_near_voicing_reaches_either_side_of_the_voiced_frames() -> None:
    x = np.concatenate(
        [
            np.zeros(SAMPLE_RATE_HZ, np.float32),
            tone(0.5, frequency_hz=150.0),
            np.zeros(8000, np.float32),
        ]
    )
    near = near_voicing(x, hop=HOP, max_aperiodicity=0.4, reach_s=0.2)
    # voiced frames 50-75 (the tone's 0.5 s, the frames straddling its ends included),
    # widened by 10 frames (0.2 s) either side
    assert np.flatnonzero(near).tolist() == list(range(40, 86))
    none = near_voicing(np.zeros(8000, np.float32), hop=HOP, max_aperiodicity=0.4, reach_s=0.2)
    assert not none.any()


@pytest.mark.parametrize("n", [0, 100, 4000, 9599, 9600])
def test_near_voicing_has_one_answer_per_frame_on_short_recordings(n: int) -> None:
    """Shorter than the reach either side (31 frames at 0.3 s): one answer per frame still."""
    x = tone(n / SAMPLE_RATE_HZ, frequency_hz=150.0)
    near = near_voicing(x, hop=HOP, max_aperiodicity=0.4, reach_s=0.3)
    assert near.shape == (1 + n // HOP,)
    assert near.all() == (n >= HOP)  # a tone too short for any window reads unvoiced


def test_asking_for_some_frames_gives_their_answers_unchanged() -> None:
    """Only the frames asked for, and those within reach of them, are measured."""
    rng = np.random.default_rng(4)
    x = np.concatenate([tone(0.6, frequency_hz=130.0), coloured_noise(1.0)[:24000] * 0.05])
    x = np.concatenate([x, tone(0.4, frequency_hz=210.0)])
    every = near_voicing(x, hop=HOP, max_aperiodicity=0.4, reach_s=0.3)
    asked = rng.random(len(every)) < 0.3
    some = near_voicing(x, hop=HOP, max_aperiodicity=0.4, reach_s=0.3, frames=asked)
    assert np.array_equal(some, every & asked)
    found = aperiodicity(x, hop=HOP, frames=asked)
    np.testing.assert_array_equal(found[asked], aperiodicity(x, hop=HOP)[asked])
    assert np.all(np.isinf(found[~asked]))
    with pytest.raises(ValueError, match="expected"):
        aperiodicity(x, hop=HOP, frames=asked[:-1])


@pytest.mark.parametrize("chunk_frames", [1, 7, 50])
def test_frames_do_not_depend_on_how_the_recording_is_cut_into_chunks(
    chunk_frames: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk reads only its own frames' samples, zero-padded at the recording's edges."""
    x = np.concatenate([tone(0.7, frequency_hz=170.0), coloured_noise(1.0)[:9000] * 0.1])
    whole = aperiodicity(x, hop=HOP)
    monkeypatch.setattr(voicing, "_CHUNK_FRAMES", chunk_frames)
    np.testing.assert_allclose(aperiodicity(x, hop=HOP), whole, rtol=0, atol=1e-6)
