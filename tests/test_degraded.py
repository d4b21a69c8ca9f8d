"""Diarization survives telephone bandwidth and low-bitrate codecs.

Fast tests check the degradation tools with exact numbers; the slow tests
degrade pyannote's real sample call on the fly with PyAV's encoders, run the
product's diarization (two speakers, defaults) and require DER within 5 points
of the clean call and no collapse onto one speaker.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.degraded import (
    BUILTIN_SOURCES,
    COLLAPSE_SHARE,
    CONDITIONS_BY_NAME,
    CONFIDENT_WRONG_SHARE_ERROR,
    MAX_DER_INCREASE,
    Score,
    active_power,
    degrade,
    phone_band_with_noise,
    pink_noise,
    realistic_sources,
    share_error,
    sources,
    summary,
    table,
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


def test_confidently_wrong_needs_a_large_share_error_and_a_good_check() -> None:
    def scored(error: float, quality: str | None) -> Score:
        return Score("s", "c", 0.3, 0.2, 0.7, 0.55, error, 2, 1.0, quality)

    assert scored(0.15, "good").confidently_wrong
    assert not scored(CONFIDENT_WRONG_SHARE_ERROR, "good").confidently_wrong
    assert not scored(0.15, "doubtful").confidently_wrong
    assert not scored(0.15, None).confidently_wrong
    rows = table([scored(0.0, "good"), replace(scored(0.15, "good"), condition="pcm_8k")])
    assert rows.splitlines()[-1].endswith("| 0.150 | good | **confidently wrong** |")
    assert summary([scored(0.15, "good")])["confidently wrong (clean copies included)"] == 1.0


def test_realistic_sources_are_the_mono_mixes_with_their_planted_turns() -> None:
    found = realistic_sources(["dev"])
    assert [s.name for s in found] == [
        "kokoro_diabetes",
        "kokoro_drinking",
        "kokoro_sleep",
        "kokoro_smoking",
    ]
    first = found[0]
    assert first.samples.ndim == 1
    assert {t.speaker for t in first.reference} == {"counselor", "client"}
    assert first.reference[0] == Turn(1.093, 5.243, "counselor")


def test_sources_are_all_builtins_by_default_and_none_when_the_list_is_empty() -> None:
    assert [s.name for s in sources()] == list(BUILTIN_SOURCES)
    assert sources([]) == []
    assert [s.name for s in sources(["dialogue_client_led"])] == ["dialogue_client_led"]


def test_the_recast_sets_are_sources_too() -> None:
    # Each recast set is the twelve scripts again, under its own prefix.
    for set_name in ("recast", "recast2", "recast3", "recast4"):
        names = [s.name for s in realistic_sources([set_name])]
        assert len(names) == 12 and all(n.startswith(f"{set_name}_") for n in names)


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
    from bench.degraded import default_diarizer, evaluate

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
@pytest.mark.parametrize(
    "condition",
    [
        *SLOW_CONDITIONS[:-1],
        pytest.param(
            "phone_band_noise",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known gap: +9 points on the sample call (docs/benchmarks.md)",
            ),
        ),
    ],
)
def test_sample_call_degraded_stays_within_5_points(
    degraded_scores: dict[str, Score], condition: str
) -> None:
    clean = degraded_scores["clean"]
    assert clean.der < 0.10
    assert degraded_scores[condition].der <= clean.der + MAX_DER_INCREASE


@pytest.mark.slow
@pytest.mark.parametrize("condition", SLOW_CONDITIONS)
def test_sample_call_degraded_does_not_collapse(
    degraded_scores: dict[str, Score], condition: str
) -> None:
    degraded = degraded_scores[condition]
    assert 0.40 <= 1 - degraded.truth_largest_share <= degraded.truth_largest_share <= 0.60
    assert degraded.speakers == 2
    assert not degraded.collapsed
    assert degraded.share_error < 0.05


@pytest.mark.slow
def test_tie_rule_removes_spurious_overlap_on_a_noisy_phone_band_call(
    degraded_scores: dict[str, Score], tmp_path: Path
) -> None:
    from bench.degraded import score_turns, sources
    from pipeline.audio import load_audio
    from pipeline.diarize import diarize
    from pipeline.narrowband import is_narrowband

    source = sources(["sample_call"])[0]
    path = degrade(source.samples, CONDITIONS_BY_NAME["phone_band_noise"], tmp_path, stem="s")
    audio = load_audio(path)
    assert is_narrowband(audio.samples)
    turns = diarize(audio, num_speakers=2, device="cpu", count_ties_down=False).turns
    pyannote_rule = score_turns(
        source, "phone_band_noise", turns, duration_s=audio.duration_s, seconds=0.0
    )
    ours = degraded_scores["phone_band_noise"]
    assert ours.der < pyannote_rule.der - 0.02  # measured 16.9% against 20.8%


def test_round_half_down_breaks_ties_towards_fewer_speakers() -> None:
    from pipeline.speaker_count import round_half_down

    values = np.array([0.0, 0.4, 0.5, 0.6, 1.0, 1.5, 1.51, 2.5, 3.0])
    assert round_half_down(values).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=20))
def test_two_windows_count_only_what_both_or_the_majority_hear(
    votes: list[tuple[int, int]],
) -> None:
    from pipeline.speaker_count import round_half_down

    means = np.array([(a + b) / 2 for a, b in votes])
    assert round_half_down(means).tolist() == [(a + b) // 2 for a, b in votes]


@given(st.lists(st.floats(0.0, 4.0), min_size=1, max_size=20))
def test_round_half_down_is_nearest_and_never_above_rint(values: list[float]) -> None:
    from pipeline.speaker_count import round_half_down

    array = np.array(values)
    rounded = round_half_down(array).astype(np.float64)
    assert np.all(np.abs(rounded - array) <= 0.5)
    assert np.all(rounded <= np.rint(array))


def test_speaker_count_rounds_a_one_two_tie_to_one_speaker() -> None:
    from pyannote.core import SlidingWindow, SlidingWindowFeature

    from pipeline.speaker_count import speaker_count

    # two 4-frame windows overlapping by 2 frames (a step of half the window)
    chunks = SlidingWindow(start=0.0, duration=4.0, step=2.0)
    frames = SlidingWindow(start=0.0, duration=1.0, step=1.0)
    first = [[1, 0], [1, 0], [1, 1], [1, 0]]  # hears overlap at frame 2
    second = [[1, 0], [0, 0], [0, 0], [0, 0]]  # hears one speaker at frame 2, none at 3
    segmentations = SlidingWindowFeature(np.array([first, second], dtype=np.float32), chunks)
    count = speaker_count(segmentations, frames, warm_up=(0.0, 0.0))
    assert count.data[:6, 0].tolist() == [1, 1, 1, 0, 0, 0]


def _noise_below(high_hz: float | None, seconds: float = 4.0) -> npt.NDArray[np.float32]:
    """16 kHz white noise, low-passed at ``high_hz`` (8th-order Butterworth) unless None."""
    from scipy import signal

    noise = np.random.default_rng(1).standard_normal(int(seconds * SAMPLE_RATE_HZ))
    if high_hz is not None:
        sos = signal.butter(8, high_hz, btype="lowpass", fs=SAMPLE_RATE_HZ, output="sos")
        noise = signal.sosfilt(sos, noise)
    return noise.astype(np.float32)


def test_high_band_db_of_white_noise_is_its_bandwidth_share() -> None:
    from pipeline.narrowband import high_band_db

    # white noise spreads its power evenly up to 8 kHz: (8000 - 4500) / 8000 of it lies above
    assert high_band_db(_noise_below(None)) == pytest.approx(10 * np.log10(3500 / 8000), abs=0.2)
    assert high_band_db(np.zeros(SAMPLE_RATE_HZ, dtype=np.float32)) == 0.0


def test_8_khz_audio_is_narrowband_and_16_khz_audio_is_not(tmp_path: Path) -> None:
    from pipeline.audio import load_audio
    from pipeline.narrowband import is_narrowband

    # white noise stored at 8 kHz and decoded back to 16 kHz, as a phone recording is
    phone = degrade(_noise_below(None), CONDITIONS_BY_NAME["pcm_8k"], tmp_path, stem="n")
    assert is_narrowband(load_audio(phone).samples)
    assert not is_narrowband(_noise_below(None))
    assert not is_narrowband(_noise_below(6_000.0))  # mediumband codecs keep up to 6 kHz


@pytest.mark.parametrize(
    ("name", "narrowband"),
    [("clean", False), ("pcm_8k", True), ("mulaw_8k", True), ("amr_nb_12k2", True)],
)
def test_dialogue_bandwidth_is_recognised_after_encoding(
    name: str, narrowband: bool, tmp_path: Path
) -> None:
    import soundfile as sf

    from pipeline.audio import load_audio
    from pipeline.narrowband import is_narrowband

    samples, _ = sf.read(
        Path(__file__).parent / "fixtures" / "dialogue_client_led.wav", dtype="float32"
    )
    path = degrade(samples[: 20 * SAMPLE_RATE_HZ], CONDITIONS_BY_NAME[name], tmp_path, stem="d")
    assert is_narrowband(load_audio(path).samples) is narrowband


def _realistic_score(name: str, condition: str) -> Score:
    """The product's diarization of one neural-voice dialogue under ``condition``."""
    from bench.degraded import default_diarizer, evaluate

    (source,) = realistic_sources(["dev", "heldout"], names=[name])
    (score,) = evaluate(
        [source],
        [CONDITIONS_BY_NAME[condition]],
        diarizer=default_diarizer(),
        recipe="test",
        cache_dir=None,
    )
    return score


@pytest.mark.slow
def test_two_similar_voices_on_a_noisy_phone_line_are_flagged_not_reported() -> None:
    # two female voices: one "speaker" gets 0.94 of the talk (truth 0.65), DER 36 %
    score = _realistic_score("kokoro_smoking", "phone_band_noise")
    assert score.largest_share > 0.80
    assert score.quality in ("doubtful", "poor")
    assert not score.confidently_wrong


@pytest.mark.slow
def test_a_partly_missed_voice_is_not_reported_confidently() -> None:
    # A breathy voice the segmentation partly misses: the talk share is 0.13 off on
    # AMR-NB. Until the agreement limit went to 0.84 the check said `good` (a known
    # gap, then an expected failure); the two clusterings agree on 82 % of the speech.
    score = _realistic_score("kokoro_exercise", "amr_nb_12k2")
    assert score.share_error > 0.10
    assert score.quality in ("doubtful", "poor")
    assert not score.confidently_wrong
