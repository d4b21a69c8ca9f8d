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
from pipeline.voicing import aperiodicity, near_voicing
from tests.conftest import tone

HOP = 320  # 20 ms, the channel activity's frame


def test_frames_are_centred_every_hop_as_librosa_places_rms_frames() -> None:
    """One second of silence, then a tone: frame 50 is centred on its first sample, and its
    window (the 25 ms before the centre's 2.5 ms) is mostly silence; frame 51 is voiced."""
    x = np.concatenate([np.zeros(SAMPLE_RATE_HZ, np.float32), tone(1.0, frequency_hz=200.0)])
    found = aperiodicity(x, hop=HOP)
    assert len(found) == 1 + len(x) // HOP == 101
    assert np.flatnonzero(found <= 0.4).tolist() == list(range(51, 101))
    assert found[:50].tolist() == [1.0] * 50  # silence reads 1, not a division by zero
    assert found[55] == pytest.approx(0.0, abs=1e-6)


def coloured_noise(exponent: float, *, seed: int = 0) -> npt.NDArray[np.float32]:
    """One second of noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(SAMPLE_RATE_HZ))
    spectrum[1:] /= np.arange(1, len(spectrum)) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, SAMPLE_RATE_HZ)
    return np.asarray(noise / np.abs(noise).max(), dtype=np.float32)


@pytest.mark.parametrize(("exponent", "lowest"), [(0.0, 0.6), (1.0, 0.6), (2.0, 0.45)])
def test_noise_is_aperiodic_whatever_its_colour(exponent: float, lowest: float) -> None:
    """Noise never reads voiced (0.4 and under), not even brown noise, the steepest."""
    found = aperiodicity(coloured_noise(exponent), hop=HOP)
    assert found.min() > lowest


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
    # voiced frames 51-75 (the tone, and its end in the window before frame 75), widened by
    # 10 frames (0.2 s) either side
    assert np.flatnonzero(near).tolist() == list(range(41, 86))
    none = near_voicing(np.zeros(8000, np.float32), hop=HOP, max_aperiodicity=0.4, reach_s=0.2)
    assert not none.any()


@pytest.mark.parametrize("chunk_frames", [1, 7, 50])
def test_frames_do_not_depend_on_how_the_recording_is_cut_into_chunks(
    chunk_frames: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk reads only its own frames' samples, zero-padded at the recording's edges."""
    x = np.concatenate([tone(0.7, frequency_hz=170.0), coloured_noise(1.0)[:9000] * 0.1])
    whole = aperiodicity(x, hop=HOP)
    monkeypatch.setattr(voicing, "_CHUNK_FRAMES", chunk_frames)
    np.testing.assert_allclose(aperiodicity(x, hop=HOP), whole, rtol=0, atol=1e-6)
