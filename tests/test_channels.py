"""Stereo recordings: deciding whether each party has a channel, and diarizing by channel energy."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from pipeline.audio import load_audio
from pipeline.channels import (
    CHANNEL_MODEL,
    channel_quality,
    choose_channels,
    decide_channels,
    diarize_by_channel,
)
from pipeline.errors import DiarizationError
from pipeline.session import SpeechOptions, diarize_with
from pipeline.types import SAMPLE_RATE_HZ, Audio, AudioInfo, ChannelDecision, Diarization, Turn
from tests.conftest import FIXTURES, tone


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


def test_a_soft_voice_10_db_above_the_channel_noise_is_speech() -> None:
    """A breathy voice in a 20 dB SNR room sits 6-15 dB above the noise in much of its speech."""
    n = 10 * SAMPLE_RATE_HZ
    rng = np.random.default_rng(1)
    channels = (rng.standard_normal((2, n)) * 0.003).astype(np.float32)  # -50 dBFS hiss
    t = np.arange(n) / SAMPLE_RATE_HZ
    for channel, start, end, rms in (
        (0, 1.0, 3.0, 0.05),
        (0, 5.0, 7.0, 0.0095),
        (1, 8.0, 9.0, 0.05),
    ):
        inside = (t >= start) & (t < end)
        channels[channel, inside] += (
            rms * np.sqrt(2) * np.sin(2 * np.pi * 200 * t[inside])
        ).astype(np.float32)
    info = AudioInfo("s.wav", "0" * 64, 10.0, SAMPLE_RATE_HZ, 2, "wav", "pcm_s16le")
    audio = Audio(info, channels.mean(axis=0), channels)
    found = diarize_by_channel(audio)  # the soft phrase is 10.4 dB above the hiss
    assert spans(found.turns, "LEFT") == [
        pytest.approx((1.0, 3.0), abs=0.05),
        pytest.approx((5.0, 7.0), abs=0.05),
    ]
    assert spans(found.turns, "RIGHT") == [pytest.approx((8.0, 9.0), abs=0.05)]
    strict = diarize_by_channel(audio, floor_margin_db=15.0)  # the former margin loses it
    assert spans(strict.turns, "LEFT") == [pytest.approx((1.0, 3.0), abs=0.05)]


def voip_line(duration_s: float, speech: tuple[float, float], zeros_from_s: float) -> Audio:
    """A VoIP call: the left line's party speaks in ``speech`` (-23 dBFS), its office noise
    (-66 dBFS, 43 dB under) fills the pauses until silence suppression sends zeros from
    ``zeros_from_s``; the right line's party speaks from 4 to 7 s over digital silence."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    rng = np.random.default_rng(2)
    t = np.arange(n) / SAMPLE_RATE_HZ
    channels = np.zeros((2, n), dtype=np.float32)
    channels[0] = (rng.standard_normal(n) * 0.0005).astype(np.float32)
    channels[0, (t >= zeros_from_s)] = 0.0
    for channel, (start, end) in ((0, speech), (1, (4.0, 7.0))):
        inside = (t >= start) & (t < end)
        channels[channel, inside] += (0.1 * np.sin(2 * np.pi * 200 * t[inside])).astype(np.float32)
    info = AudioInfo("s.wav", "0" * 64, duration_s, SAMPLE_RATE_HZ, 2, "wav", "pcm_s16le")
    return Audio(info, channels.mean(axis=0), channels)


def test_line_noise_over_digital_silence_is_not_talk() -> None:
    """The noise floor reads as the zeros, so the noise stands far above it; within
    ACTIVITY_RANGE_DB of the line's loud frames only the speech counts."""
    audio = voip_line(12.0, (1.0, 3.0), zeros_from_s=8.0)
    found = diarize_by_channel(audio)
    assert spans(found.turns, "LEFT") == [pytest.approx((1.0, 3.0), abs=0.05)]
    assert spans(found.turns, "RIGHT") == [pytest.approx((4.0, 7.0), abs=0.05)]
    # the rule before 2026-11-30
    floor_only = diarize_by_channel(audio, range_db=np.inf, voicing_reach_s=None)
    assert spans(floor_only.turns, "LEFT") == [
        pytest.approx((0.0, 4.0), abs=0.05),  # noise up to where the other line speaks
        pytest.approx((7.0, 8.0), abs=0.05),  # and again until the zeros
    ]


def test_a_line_whose_party_speaks_little_still_keeps_its_noise_out() -> None:
    """1.5 s of speech in 40 s (3.8 % of the frames): the loud frames are still speech."""
    audio = voip_line(40.0, (1.0, 2.5), zeros_from_s=30.0)
    assert spans(diarize_by_channel(audio).turns, "LEFT") == [pytest.approx((1.0, 2.5), abs=0.05)]
    quiet = voip_line(40.0, (1.0, 1.2), zeros_from_s=30.0)  # 0.5 % of the frames: the limit
    assert len(spans(diarize_by_channel(quiet, voicing_reach_s=None).turns, "LEFT")) > 1
    # ...of loudness; near voicing, only the noise within VOICING_REACH_S of the speech is left
    assert spans(diarize_by_channel(quiet).turns, "LEFT") == [pytest.approx((0.72, 1.52), abs=0.03)]


def test_noise_that_is_not_a_voice_is_not_talk() -> None:
    """Hiss 23 dB under the party's voice over a line of digital zeros: loud enough for the
    loudness rules, but not periodic; only the voice and its reach count."""
    n = 12 * SAMPLE_RATE_HZ
    t = np.arange(n) / SAMPLE_RATE_HZ
    channels = np.zeros((2, n), dtype=np.float32)
    channels[0] = (np.random.default_rng(3).standard_normal(n) * 0.005).astype(np.float32)
    channels[0, t >= 10.0] = 0.0  # silence suppression
    for channel, (start, end) in ((0, (1.0, 3.0)), (1, (5.0, 7.0))):
        inside = (t >= start) & (t < end)
        channels[channel, inside] += (0.1 * np.sin(2 * np.pi * 200 * t[inside])).astype(np.float32)
    info = AudioInfo("s.wav", "0" * 64, 12.0, SAMPLE_RATE_HZ, 2, "wav", "pcm_s16le")
    audio = Audio(info, channels.mean(axis=0), channels)
    loudness_only = diarize_by_channel(audio, voicing_reach_s=None)
    assert spans(loudness_only.turns, "LEFT") == [
        pytest.approx((0.0, 5.0), abs=0.05),
        pytest.approx((7.0, 10.0), abs=0.05),
    ]
    assert spans(diarize_by_channel(audio).turns, "LEFT") == [pytest.approx((0.7, 3.3), abs=0.03)]
    assert spans(diarize_by_channel(audio).turns, "RIGHT") == [pytest.approx((5.0, 7.0), abs=0.05)]


def test_mono_recording_is_refused_with_a_hint() -> None:
    audio = stereo([(1.0, 2.0)], [])
    mono = Audio(audio.info, audio.samples, audio.channel_samples[:1])
    with pytest.raises(
        DiarizationError, match=r"needs a stereo recording.*drop --counselor-channel"
    ):
        diarize_by_channel(mono)


# ------------------------------------------------------------------ stereo decision


def parties(
    *,
    bleed_db: float | None = None,
    noise: float = 1e-4,
    right_silent: bool = False,
    duration_s: float = 10.0,
) -> Audio:
    """Left speaks 1-3 s and 6-8 s, right 3.5-5.5 s; each leaks into the other at ``bleed_db``."""
    n = int(duration_s * SAMPLE_RATE_HZ)
    rng = np.random.default_rng(0)
    channels = (rng.standard_normal((2, n)) * noise).astype(np.float32)
    leak = 0.0 if bleed_db is None else 10 ** (bleed_db / 20)
    plan = {0: ([(1.0, 3.0), (6.0, 8.0)], 180.0), 1: ([(3.5, 5.5)], 260.0)}
    for channel, (spans_s, frequency) in plan.items():
        target = 0 if right_silent else channel
        for start, end in spans_s:
            a, b = int(start * SAMPLE_RATE_HZ), int(end * SAMPLE_RATE_HZ)
            voice = tone(1.0 + end - start, frequency_hz=frequency)[: b - a]
            channels[target, a:b] += voice
            channels[1 - target, a:b] += leak * voice
    if right_silent:
        channels[1] = 0.0
    info = AudioInfo("s.wav", "0" * 64, duration_s, SAMPLE_RATE_HZ, 2, "wav", "pcm_s16le")
    return Audio(info, channels.mean(axis=0), channels)


def test_one_party_per_channel_is_split_with_its_evidence() -> None:
    decision = decide_channels(parties())
    assert decision.mode == "split"
    evidence = decision.evidence
    # 4.04 s of left alone, 2.02 s of right alone (20 ms frames, centred)
    assert evidence["left_dominant_s"] == pytest.approx(4.04)
    assert evidence["right_dominant_s"] == pytest.approx(2.02)
    assert evidence["left_dominant_fraction"] == pytest.approx(0.667)
    assert evidence["right_dominant_fraction"] == pytest.approx(0.333)
    assert evidence["both_sound_fraction"] == 0.0
    assert evidence["correlation"] == pytest.approx(0.0, abs=1e-3)
    assert "each channel carries its own voice" in decision.reason


@pytest.mark.parametrize("bleed_db", [-20.0, -25.0, -30.0])
def test_crosstalk_of_20_to_30_db_is_still_split_and_measured(bleed_db: float) -> None:
    decision = decide_channels(parties(bleed_db=bleed_db))
    assert decision.mode == "split"
    assert decision.evidence["bleed_db"] == pytest.approx(bleed_db, abs=0.01)
    # the leak makes both channels sound at once everywhere, at the bleed's level apart
    assert decision.evidence["both_sound_fraction"] == 1.0
    assert decision.evidence["median_difference_both_db"] == pytest.approx(-bleed_db, abs=0.01)
    assert f"{-bleed_db:.0f} dB quieter meanwhile" in decision.reason


def test_crosstalk_25_db_down_correlates_weakly() -> None:
    # left = a + g·b, right = b + g·a with g = -25 dB: correlation ≈ 2g / (1 + g²) weighted by talk time
    assert decide_channels(parties(bleed_db=-25.0)).evidence["correlation"] == pytest.approx(0.119)


def test_crosstalk_only_10_db_down_is_mixed() -> None:
    decision = decide_channels(parties(bleed_db=-10.0))
    assert decision.mode == "mix"
    assert decision.evidence["left_dominant_s"] == 0.0
    assert decision.evidence["right_dominant_s"] == 0.0
    assert "neither channel" in decision.reason


def test_a_digitally_silent_channel_means_mix() -> None:
    decision = decide_channels(parties(right_silent=True, noise=0.0))
    assert decision.mode == "mix"
    assert decision.evidence["right_peak_dbfs"] == pytest.approx(-160.0)
    assert decision.reason.startswith("the right channel is silent")


def test_a_channel_with_only_noise_means_mix() -> None:
    audio = parties(right_silent=True, noise=0.0)
    noisy = audio.channel_samples.copy()
    hiss = np.random.default_rng(1).standard_normal((noisy.shape[1],))
    noisy[1] = (hiss * 1e-2).astype(np.float32)  # -40 dBFS hiss, no voice
    decision = decide_channels(Audio(audio.info, noisy.mean(axis=0), noisy))
    assert decision.mode == "mix"
    assert decision.evidence["right_dominant_s"] == 0.0
    assert decision.reason.startswith("only the left channel holds a voice of its own")


def test_a_channel_carrying_only_the_others_crosstalk_means_mix() -> None:
    audio = parties(bleed_db=-25.0, right_silent=True)
    leaked = audio.channel_samples.copy()
    leaked[1] = 10 ** (-25 / 20) * leaked[0]
    hiss = np.random.default_rng(2).standard_normal((leaked.shape[1],))
    leaked[1] += (hiss * 1e-4).astype(np.float32)
    decision = decide_channels(Audio(audio.info, leaked.mean(axis=0), leaked))
    assert decision.mode == "mix"


@pytest.mark.parametrize("own_gain", [1.0, 0.5])
def test_the_mix_on_one_channel_and_one_partys_own_microphone_on_the_other_is_mixed(
    own_gain: float,
) -> None:
    # a recorder that writes both parties' mix to the left and the left party's own
    # microphone (at 0 or -6 dB) to the right: the right never holds the floor alone
    audio = parties()
    left, right = audio.channel_samples
    layout = np.stack([0.5 * (left + right), own_gain * left]).astype(np.float32)
    decision = decide_channels(Audio(audio.info, layout.mean(axis=0), layout))
    assert decision.mode == "mix"
    assert decision.evidence["right_dominant_s"] == 0.0
    assert decision.reason.startswith("only the left channel holds a voice of its own")


@pytest.mark.parametrize("gain", [1.0, 0.5, -1.0])
def test_the_same_signal_on_both_channels_is_mixed(gain: float) -> None:
    mono = parties().channel_samples.mean(axis=0)
    audio = parties()
    dual = Audio(audio.info, mono, np.stack([mono, gain * mono]).astype(np.float32))
    decision = decide_channels(dual)
    assert decision.mode == "mix"
    assert abs(decision.evidence["correlation"]) == pytest.approx(1.0)
    assert decision.reason.startswith("both channels carry the same signal")


def test_a_mono_file_is_mixed_without_measuring() -> None:
    audio = parties()
    mono = Audio(audio.info, audio.samples, audio.channel_samples[:1])
    assert decide_channels(mono) == ChannelDecision("mix", "mono recording", {"channels": 1.0})


def test_user_choices_override_the_measurement_but_keep_its_evidence() -> None:
    audio = parties()
    measured = decide_channels(audio)
    forced_mix = choose_channels(audio, channels="mix")
    assert (forced_mix.mode, forced_mix.evidence) == ("mix", measured.evidence)
    silent = parties(right_silent=True)
    named = choose_channels(silent, counselor_channel="left")
    assert named.mode == "split"
    assert named.evidence == decide_channels(silent).evidence
    assert choose_channels(audio, channels="split").mode == "split"
    assert choose_channels(audio) == measured


def test_evidence_is_plain_finite_numbers() -> None:
    for audio in (parties(), parties(bleed_db=-10.0), parties(right_silent=True, noise=0.0)):
        evidence = decide_channels(audio).evidence
        assert all(isinstance(v, float) and np.isfinite(v) for v in evidence.values())


def test_channel_quality_flags_a_lopsided_or_doubled_split() -> None:
    good = channel_quality(diarize_by_channel(parties()))
    assert good.level == "good"
    assert good.measures == {"top_share": pytest.approx(0.667, abs=0.01), "both_share": 0.0}
    lopsided = Diarization(
        turns=(Turn(0.0, 9.5, "LEFT"), Turn(9.5, 10.0, "RIGHT")),
        exclusive=(Turn(0.0, 9.5, "LEFT"), Turn(9.5, 10.0, "RIGHT")),
        model=CHANNEL_MODEL,
    )
    quality = channel_quality(lopsided)
    assert quality.level == "doubtful"
    assert quality.measures["top_share"] == 0.95
    assert "--channels mix" in quality.cues[0]
    doubled = Diarization(
        turns=(Turn(0.0, 10.0, "LEFT"), Turn(0.0, 10.0, "RIGHT")),
        exclusive=(Turn(0.0, 5.0, "LEFT"), Turn(5.0, 10.0, "RIGHT")),
        model=CHANNEL_MODEL,
    )
    assert channel_quality(doubled).measures["both_share"] == 1.0
    assert channel_quality(doubled).level == "doubtful"


def test_the_stereo_fixture_is_split_automatically_and_keeps_its_talk_shares() -> None:
    audio = load_audio(FIXTURES / "dialogue_stereo.wav")
    found = diarize_with(audio, SpeechOptions())
    assert found.model == CHANNEL_MODEL
    assert found.channels is not None and found.channels.mode == "split"
    assert found.quality is not None and found.quality.level == "good"
    truth = json.loads((FIXTURES / "dialogue_stereo.truth.json").read_text())
    right = sum(t.duration_s for t in found.exclusive if t.speaker == "RIGHT")
    share = right / sum(t.duration_s for t in found.exclusive)
    assert truth["channel_roles"]["1"] == "client"
    assert share == pytest.approx(truth["client_share"], abs=0.02)


def test_forcing_a_split_of_a_mono_recording_says_what_to_drop() -> None:
    audio = load_audio(FIXTURES / "dialogue_client_led.wav")
    with pytest.raises(DiarizationError, match="--channels split"):
        diarize_with(audio, SpeechOptions(channels="split"))
