"""Voice levels per diarized speaker, and the quiet voice that withholds one verdict."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.evidence import evaluate
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.types import SAMPLE_RATE_HZ, Turn
from pipeline.voice_levels import (
    LEVEL_KEY_PREFIX,
    QuietVoice,
    level_measures,
    quiet_voice,
    speaker_levels_db,
)
from tests.test_evidence import NO_MARGIN, NORMS, session


def tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (amplitude * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


def two_voices(*, quiet_amplitude: float) -> np.ndarray:
    """10 s at amplitude 0.5 (A), 10 s at ``quiet_amplitude`` (B), 10 s of A again."""
    return np.concatenate([tone(10, 0.5), tone(10, quiet_amplitude), tone(10, 0.5)])


TURNS = (Turn(0.0, 10.0, "A"), Turn(10.0, 20.0, "B"), Turn(20.0, 30.0, "A"))


def test_levels_are_the_rms_of_each_speakers_speech_in_dbfs() -> None:
    levels = speaker_levels_db(two_voices(quiet_amplitude=0.05), TURNS)
    # a sine of amplitude a has RMS a / sqrt(2): -9.0 dBFS at 0.5, -29.0 at 0.05
    assert levels == {"A": -9.0, "B": -29.0}


def test_pauses_inside_a_turn_do_not_pull_a_level_down() -> None:
    """The 90th percentile of the frames: a turn that is 70 % silence keeps its speech level."""
    samples = np.concatenate([tone(3, 0.5), np.zeros(7 * SAMPLE_RATE_HZ, np.float32)])
    assert speaker_levels_db(samples, (Turn(0.0, 10.0, "A"),)) == {"A": -9.0}


def test_a_speaker_with_too_little_speech_gets_no_level() -> None:
    samples = two_voices(quiet_amplitude=0.05)
    turns = (Turn(0.0, 10.0, "A"), Turn(10.0, 14.9, "B"))
    assert speaker_levels_db(samples, turns) == {"A": -9.0}
    assert speaker_levels_db(samples, turns, min_speech_s=4.0) == {"A": -9.0, "B": -29.0}


def test_level_measures_are_keyed_by_speaker() -> None:
    assert level_measures({"SPEAKER_00": -20.5}) == {f"{LEVEL_KEY_PREFIX}SPEAKER_00": -20.5}


ROLES = {"SPEAKER_00": "counselor", "SPEAKER_01": "client", "SPEAKER_02": "other"}


def measures(counselor_db: float, client_db: float, **other: float) -> dict[str, float]:
    levels = {"SPEAKER_00": counselor_db, "SPEAKER_01": client_db, **other}
    return {"top_share": 0.6, **level_measures(levels)}


@pytest.mark.parametrize(
    ("counselor_db", "client_db", "expected"),
    [
        (-20.0, -35.0, QuietVoice("client", 15.0)),
        (-33.0, -21.0, QuietVoice("counselor", 12.0)),
        (-20.0, -31.9, None),  # 11.9 dB: under the limit
        (-20.0, -20.0, None),
    ],
)
def test_quiet_voice_names_the_quieter_role_at_the_limit(
    counselor_db: float, client_db: float, expected: QuietVoice | None
) -> None:
    found = quiet_voice(measures(counselor_db, client_db), ROLES.__getitem__, min_gap_db=12.0)
    assert found == expected


def test_a_third_voice_or_a_missing_level_decides_nothing() -> None:
    third = measures(-20.0, -22.0, SPEAKER_02=-50.0)
    assert quiet_voice(third, ROLES.__getitem__, min_gap_db=12.0) is None
    only_one = {"top_share": 0.9, **level_measures({"SPEAKER_00": -20.0})}
    assert quiet_voice(only_one, ROLES.__getitem__, min_gap_db=12.0) is None
    assert quiet_voice({}, ROLES.__getitem__, min_gap_db=12.0) is None


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-80.0, 0.0, allow_nan=False),
    st.floats(-80.0, 0.0, allow_nan=False),
    st.floats(0.1, 40.0, allow_nan=False),
)
def test_swapping_the_roles_swaps_the_quiet_role(a: float, b: float, limit: float) -> None:
    levels = measures(a, b)
    found = quiet_voice(levels, ROLES.__getitem__, min_gap_db=limit)
    swapped = {"SPEAKER_00": "client", "SPEAKER_01": "counselor"}
    other = quiet_voice(levels, swapped.__getitem__, min_gap_db=limit)
    assert (found is None) == (other is None) == (abs(a - b) < limit)
    if found is not None and other is not None:
        assert found.gap_db == other.gap_db and {found.role, other.role} == {"counselor", "client"}


# --------------------------------------------------------------------- the verdict


def test_a_quiet_counselor_withholds_a_yes_that_an_undercount_could_explain() -> None:
    """Score = sigmoid(4 × client share − 2): 73 % at a share of 75 %, 45 % at 45 %."""
    quiet = QuietVoice("counselor", 17.0)
    evidence = evaluate(session(), role_confidence=0.9, norms=NORMS, config=NO_MARGIN, quiet=quiet)
    assert (evidence.client_led, evidence.score_band) == ("inconclusive", "high")
    assert evidence.reasons[0] == (
        "Score 73%: in the range of expert-rated good MI, but the counselor's voice is 17 dB "
        "quieter than the client's, so the client's share of talk time is probably too high; "
        "with it 30 points lower the score would be 45%: listen to the recording before "
        "concluding, or record each party on its own channel."
    )
    assert not any("easily missed" in r for r in evidence.reasons)


def test_a_quiet_client_withholds_a_no_that_an_undercount_could_explain() -> None:
    quiet = QuietVoice("client", 14.0)
    low = session(client_share=0.25)
    evidence = evaluate(low, role_confidence=0.9, norms=NORMS, config=NO_MARGIN, quiet=quiet)
    assert (evidence.client_led, evidence.score_band) == ("inconclusive", "low")
    assert (
        "is probably too low; with it 30 points higher the score would be 55%"
        in (evidence.reasons[0])
    )


@pytest.mark.parametrize(
    ("role", "client_share", "share_error", "verdict"),
    [
        ("client", 0.75, 0.3, "yes"),  # a quiet client's share is too low: a yes survives that
        ("counselor", 0.25, 0.3, "no"),  # a quiet counselor's: a no survives that
        ("counselor", 0.88, 0.05, "yes"),  # 0.83 of the talk: score 79 %, still over 70 %
        ("client", 0.12, 0.05, "no"),  # 0.17 of the talk: score 21 %, still under 30 %
    ],
)
def test_a_verdict_the_undercount_cannot_explain_stands_with_a_warning(
    role: str, client_share: float, share_error: float, verdict: str
) -> None:
    quiet = QuietVoice(role, 15.0)
    config = dataclasses.replace(NO_MARGIN, quiet_voice_share_error=share_error)
    evidence = evaluate(
        session(client_share=client_share),
        role_confidence=0.9,
        norms=NORMS,
        config=config,
        quiet=quiet,
    )
    assert evidence.client_led == verdict
    assert evidence.reasons[-1] == quiet.warning()


def test_the_warning_names_the_quiet_party_and_what_to_do() -> None:
    assert QuietVoice("client", 15.0).warning() == (
        "The client's voice is 15 dB quieter than the counselor's (a recorder near the "
        "counselor, or a phone call's far end): quiet speech is easily missed, so the "
        "client's share of talk time is probably too low. Record each party on its own "
        "channel, or place the microphone between them."
    )


def test_the_limit_can_be_turned_off_and_must_be_positive() -> None:
    off = dataclasses.replace(DEFAULT_METRICS_CONFIG, quiet_voice_gap_db=float("inf"))
    assert (
        quiet_voice(measures(0.0, -80.0), ROLES.__getitem__, min_gap_db=off.quiet_voice_gap_db)
        is None
    )
    with pytest.raises(ValueError, match="quiet_voice_gap_db must be a positive number"):
        MetricsConfig(quiet_voice_gap_db=0.0)
    with pytest.raises(ValueError, match="quiet_voice_gap_db"):
        MetricsConfig(quiet_voice_gap_db=float("nan"))
    with pytest.raises(ValueError, match="quiet_voice_share_error must lie in"):
        MetricsConfig(quiet_voice_share_error=1.5)


# --------------------------------------------------------------------- real audio


@pytest.mark.slow
@pytest.mark.parametrize(("quieter_db", "expected_role"), [(0.0, None), (20.0, "client")])
def test_a_diarized_mixdown_with_the_client_far_quieter_names_the_client(
    quieter_db: float, expected_role: str | None
) -> None:
    """A neural-voice dialogue's two channels mixed down, the client's ``quieter_db`` down
    (as a recorder beside the counselor hears them): the diarization records each voice's
    level and the client comes out as the quiet voice at 20 dB (16.7 dB measured when
    written; its talk share was then 0.30 too low with the check saying ``good``)."""
    from pipeline.audio import load_audio
    from pipeline.diarize import diarize
    from pipeline.intervals import overlap_length, union
    from tests.conftest import FIXTURES

    folder = FIXTURES / "realistic"
    truth = json.loads((folder / "kokoro_diabetes.truth.json").read_text())
    stereo = load_audio(folder / truth["audio_files"]["stereo"])
    client_channel = [side for side, role in truth["stereo_channels"].items() if role == "client"]
    gains = np.ones((2, 1), dtype=np.float32)
    gains[("left", "right").index(client_channel[0])] = 10 ** (-quieter_db / 20)
    mix = ((stereo.channel_samples * gains).sum(axis=0) / 2).astype(np.float32)
    found = diarize(dataclasses.replace(stereo, samples=mix, channel_samples=mix[None]))
    assert found.quality is not None
    levels = {
        key.removeprefix(LEVEL_KEY_PREFIX): value
        for key, value in found.quality.measures.items()
        if key.startswith(LEVEL_KEY_PREFIX)
    }
    assert set(levels) == set(found.speakers)
    planted = union((s["start"], s["end"]) for s in truth["segments"] if s["role"] == "client")
    client = max(
        found.speakers,
        key=lambda speaker: sum(
            overlap_length(planted, t.start, t.end) for t in found.exclusive if t.speaker == speaker
        ),
    )
    roles = {speaker: "client" if speaker == client else "counselor" for speaker in found.speakers}
    quiet = quiet_voice(found.quality.measures, roles.__getitem__, min_gap_db=12.0)
    assert (None if quiet is None else quiet.role) == expected_role, levels
    if quiet is None:
        assert abs(levels[client] - max(levels.values())) < 3.0, levels


@pytest.mark.parametrize(
    ("counselor", "quiet_role"), [("SPEAKER_00", "client"), ("SPEAKER_01", "counselor")]
)
def test_scoring_names_the_quiet_voice_by_the_roles_it_is_given(
    counselor: str, quiet_role: str
) -> None:
    """The levels are stored per speaker, so naming the other speaker as counselor (a
    rescore with corrected roles) names the other role as the quiet one."""
    from pipeline.document import score
    from pipeline.roles import RoleHint
    from pipeline.types import DiarizationQuality

    turns = tuple(Turn(10.0 * k, 10.0 * k + 9.0, f"SPEAKER_0{k % 2}") for k in range(12))
    quality = DiarizationQuality(
        "good", measures=level_measures({"SPEAKER_00": -20.0, "SPEAKER_01": -36.0})
    )
    hint = RoleHint(method="explicit", counselor=counselor)
    scored = score(turns, (), duration_s=120.0, hint=hint, quality=quality)
    expected = QuietVoice(quiet_role, 16.0).warning()
    assert scored.evidence.reasons[-1] == expected
    off = dataclasses.replace(DEFAULT_METRICS_CONFIG, quiet_voice_gap_db=float("inf"))
    unflagged = score(turns, (), duration_s=120.0, hint=hint, quality=quality, config=off)
    assert expected not in unflagged.evidence.reasons
