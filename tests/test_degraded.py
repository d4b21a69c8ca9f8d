"""Diarization survives telephone bandwidth and low-bitrate codecs.

Fast tests check the degradation tools with exact numbers; the slow tests
degrade pyannote's real sample call on the fly with PyAV's encoders, run the
product's diarization (two speakers, defaults) and require DER within 5 points
of the clean call and no collapse onto one speaker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.degraded import (
    COLLAPSE_SHARE,
    CONDITIONS_BY_NAME,
    MAX_DER_INCREASE,
    Score,
    active_power,
    degrade,
    phone_band_with_noise,
    pink_noise,
    share_error,
    talk_shares,
)
from bench.real_audio import read_rttm_by_uri, read_uem
from pipeline.types import SAMPLE_RATE_HZ, Turn

# Conditions the slow test runs on the real call: the narrowest band, the lowest
# bitrate and the noisiest channel of the benchmark (docs/benchmarks.md).
SLOW_CONDITIONS = ("mulaw_8k", "opus_8k", "amr_nb_12k2", "phone_band_noise")


def _score(largest: float, truth_largest: float) -> Score:
    return Score("s", "c", 0.1, 0.05, largest, truth_largest, 0.0, 2, 1.0)


def test_talk_shares_count_overlap_for_both_speakers() -> None:
    turns = [Turn(0.0, 3.0, "A"), Turn(2.0, 3.0, "B")]
    assert talk_shares(turns) == {"A": 0.75, "B": 0.25}


def test_share_error_is_zero_for_a_relabelled_copy() -> None:
    reference = [Turn(0.0, 6.0, "A"), Turn(6.0, 10.0, "B")]
    hypothesis = [Turn(0.0, 6.0, "x"), Turn(6.0, 10.0, "y")]
    assert share_error(reference, hypothesis) == 0.0


def test_share_error_of_a_collapse() -> None:
    reference = [Turn(0.0, 5.0, "A"), Turn(5.0, 10.0, "B")]
    hypothesis = [Turn(0.0, 9.0, "x"), Turn(9.0, 10.0, "y")]
    assert share_error(reference, hypothesis) == pytest.approx(0.4)


def test_collapse_needs_a_balanced_truth() -> None:
    assert _score(0.80, 0.55).collapsed
    assert not _score(COLLAPSE_SHARE, 0.55).collapsed
    assert not _score(0.80, 0.66).collapsed


def test_pink_noise_has_unit_rms_and_falls_with_frequency() -> None:
    noise = pink_noise(1 << 16, seed=3)
    assert float(np.sqrt(np.mean(noise.astype(np.float64) ** 2))) == pytest.approx(1.0, rel=1e-5)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    low = spectrum[100:200].mean()
    high = spectrum[10_000:20_000].mean()
    assert 50 < low / high < 200  # 1/f: 100x the frequency, about 1/100 the power


def test_active_power_ignores_silence() -> None:
    tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ)
    samples = np.concatenate([tone, np.zeros(3 * SAMPLE_RATE_HZ)]).astype(np.float32)
    assert active_power(samples, sample_rate_hz=SAMPLE_RATE_HZ) == pytest.approx(0.125, rel=1e-3)


def test_phone_band_removes_low_and_high_frequencies_and_sets_snr() -> None:
    t = np.arange(4 * SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    mixture = sum(np.sin(2 * np.pi * f * t) for f in (100.0, 1000.0, 6000.0))
    out = phone_band_with_noise(
        (0.2 * np.asarray(mixture)).astype(np.float32), snr_db=60.0, sample_rate_hz=SAMPLE_RATE_HZ
    )
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(out.shape[0], 1 / SAMPLE_RATE_HZ)

    def level(f: float) -> float:
        return float(spectrum[np.argmin(np.abs(freqs - f))])

    assert level(100.0) < 0.1 * level(1000.0)
    assert level(6000.0) < 0.01 * level(1000.0)
    speech = (0.3 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    noisy = phone_band_with_noise(speech, snr_db=15.0)
    noise = noisy - phone_band_with_noise(speech, snr_db=200.0)
    snr = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise**2))
    assert snr > 15.0  # the band-pass removes part of the pink noise, never adds any


@pytest.mark.parametrize("name", sorted(CONDITIONS_BY_NAME))
def test_every_condition_decodes_to_the_same_duration(name: str, tmp_path: Path) -> None:
    from pipeline.audio import load_audio

    rng = np.random.default_rng(0)
    samples = (0.1 * rng.standard_normal(3 * SAMPLE_RATE_HZ)).astype(np.float32)
    condition = CONDITIONS_BY_NAME[name]
    audio = load_audio(degrade(samples, condition, tmp_path, stem="noise"))
    assert audio.info.original_sample_rate_hz in {condition.sample_rate_hz, 48_000}
    assert abs(audio.duration_s - 3.0) < 0.05


def test_uem_and_multi_recording_rttm_are_read_per_uri() -> None:
    rttm = (
        "SPEAKER trñ00 1 3.168 0.800 <NA> <NA> A <NA> <NA>\n"
        "SPEAKER dev01 1 1.000 2.000 <NA> <NA> B <NA> <NA>\n"
    )
    turns = read_rttm_by_uri(rttm)
    assert turns["trn00"] == [Turn(3.168, 3.968, "A")]
    assert turns["dev01"] == [Turn(1.0, 3.0, "B")]
    assert read_uem("trñ00 NA 0.000 30.000\n") == {"trn00": (0.0, 30.0)}


@pytest.fixture(scope="module")
def degraded_scores() -> dict[str, Score]:
    from bench.degraded import default_diarizer, evaluate, sources

    conditions = [CONDITIONS_BY_NAME[n] for n in ("clean", *SLOW_CONDITIONS)]
    scores = evaluate(
        sources(["sample_call"]),
        conditions,
        diarizer=default_diarizer(),
        recipe="test",
        cache_dir=None,
    )
    return {s.condition: s for s in scores}


@pytest.mark.slow
@pytest.mark.parametrize("condition", SLOW_CONDITIONS)
def test_sample_call_degraded_stays_within_5_points_and_does_not_collapse(
    degraded_scores: dict[str, Score], condition: str
) -> None:
    clean = degraded_scores["clean"]
    degraded = degraded_scores[condition]
    assert clean.der < 0.10
    assert degraded.der <= clean.der + MAX_DER_INCREASE
    assert 0.40 <= 1 - degraded.truth_largest_share <= degraded.truth_largest_share <= 0.60
    assert degraded.speakers == 2
    assert not degraded.collapsed
    assert degraded.share_error < 0.05
