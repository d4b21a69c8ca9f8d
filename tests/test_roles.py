"""Role assignment: auto cues, explicit hints, more or fewer than two speakers."""

from __future__ import annotations

import pytest

from pipeline.roles import (
    CLIENT,
    COUNSELOR,
    OTHER,
    RoleHint,
    assign_roles,
    label_turns,
    speaker_cues,
    speakers_by_speech,
)
from pipeline.types import SpeakerWord, Turn, Utterance


def utterance(speaker: str, start: float, text: str) -> Utterance:
    words = tuple(
        SpeakerWord(start + i * 0.3, start + i * 0.3 + 0.25, token, 0.9, speaker)
        for i, token in enumerate(text.split())
    )
    return Utterance(words[0].start, words[-1].end, speaker, words)


DIALOGUE = (
    utterance("A", 0.0, "Hi, what brings you here today?"),
    utterance("B", 3.0, "I have been drinking more. My wife is worried and I am stressed."),
    utterance("A", 9.0, "It sounds like you're feeling caught between work and home."),
    utterance("B", 13.0, "Yes. I do not like who I am in the morning."),
    utterance("A", 17.0, "How would you like things to be?"),
)
TURNS = tuple(Turn(u.start, u.end, u.speaker) for u in DIALOGUE)


def test_speakers_by_speech_orders_by_union_of_time() -> None:
    turns = [Turn(0, 5, "A"), Turn(1, 4, "A"), Turn(5, 12, "B"), Turn(12, 13, "C")]
    assert speakers_by_speech(turns) == ["B", "A", "C"]


def test_speaker_cues_exact() -> None:
    assert speaker_cues(DIALOGUE, "A") == {
        "question_rate": 2 / 3,
        "reflection_rate": 1 / 3,
        "pronoun_balance": 1.0,
    }
    cues = speaker_cues(DIALOGUE, "B")
    assert cues["question_rate"] == 0.0
    assert cues["pronoun_balance"] == -1.0


def test_auto_finds_the_counselor_with_high_confidence() -> None:
    roles = assign_roles(TURNS, DIALOGUE)
    assert (roles.counselor, roles.client, roles.method) == ("A", "B", "auto")
    assert roles.confidence > 0.95
    assert roles.cues["first_speaker"] == "A"
    assert roles.warnings == ()


def test_auto_is_symmetric_in_labels() -> None:
    renamed = tuple(
        Utterance(u.start, u.end, "Z" if u.speaker == "A" else "Y", u.words) for u in DIALOGUE
    )
    turns = tuple(Turn(u.start, u.end, u.speaker) for u in renamed)
    assert assign_roles(turns, renamed).counselor == "Z"


def test_no_cues_gives_low_confidence_and_says_so() -> None:
    plain = (
        utterance("A", 0.0, "The weather is nice."),
        utterance("B", 3.0, "The weather is nice."),
    )
    turns = (Turn(0, 2, "A"), Turn(3, 5, "B"), Turn(6, 8, "B"))
    roles = assign_roles(turns, plain)
    # only "opens" (A) and "closes" (B) differ, and they cancel out
    assert roles.confidence == 0.5
    assert any("roles are uncertain" in w for w in roles.warnings)


def test_explicit_counselor() -> None:
    roles = assign_roles(TURNS, DIALOGUE, hint=RoleHint("explicit", counselor="B"))
    assert (roles.counselor, roles.client, roles.confidence) == ("B", "A", 1.0)


def test_explicit_counselor_must_exist() -> None:
    with pytest.raises(ValueError, match="'SPEAKER_07' is not in this recording"):
        assign_roles(TURNS, DIALOGUE, hint=RoleHint("explicit", counselor="SPEAKER_07"))


def test_first_speaker() -> None:
    turns = (Turn(0.5, 2, "B"), Turn(2, 30, "A"))
    roles = assign_roles(turns, (), hint=RoleHint("first-speaker"))
    assert (roles.counselor, roles.client, roles.method) == ("B", "A", "first-speaker")


@pytest.mark.parametrize(
    ("similarities", "counselor", "low"),
    [
        ({"A": 0.85, "B": 0.20}, "A", False),
        ({"A": 0.10, "B": 0.70}, "B", False),
        ({"A": 0.25, "B": 0.20}, "A", True),  # best match under the minimum similarity
        ({"A": 0.55, "B": 0.54}, "A", True),  # too close to call
    ],
)
def test_enrollment(similarities: dict[str, float], counselor: str, low: bool) -> None:
    roles = assign_roles(TURNS, DIALOGUE, hint=RoleHint("enrollment", similarities=similarities))
    assert roles.counselor == counselor
    assert (roles.confidence < 0.6) is low


def test_enrollment_without_usable_speech_falls_back_to_auto_cues() -> None:
    roles = assign_roles(TURNS, DIALOGUE, hint=RoleHint("enrollment", similarities={}))
    assert roles.counselor == "A"
    assert any("enrollment" in w for w in roles.warnings)


def test_three_speakers_keep_the_two_dominant_and_warn() -> None:
    turns = (*TURNS, Turn(20.0, 21.0, "C"))
    roles = assign_roles(turns, DIALOGUE)
    assert roles.others == ("C",)
    assert roles.role_of("C") == OTHER
    assert "found 3 speakers" in roles.warnings[0]
    assert [t.speaker for t in label_turns(turns, roles)][-1] == OTHER


def test_one_speaker_still_gives_a_result_with_a_warning() -> None:
    roles = assign_roles((Turn(0, 10, "A"),), ())
    assert (roles.counselor, roles.client, roles.confidence) == (None, "A", 0.0)
    assert "only one speaker" in roles.warnings[0]


def test_label_turns_maps_to_roles() -> None:
    roles = assign_roles(TURNS, DIALOGUE)
    assert {t.speaker for t in label_turns(TURNS, roles)} == {COUNSELOR, CLIENT}
