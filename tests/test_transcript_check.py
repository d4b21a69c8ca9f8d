"""The transcript's cue to the diarization check: words where no voice was detected.

Exact numbers on constructed turns and words, properties of the count, then
real audio: a held-out neural-voice dialogue whose breathy counselor voice the
segmentation model partly misses (talk share off by 0.12 while every other
cue said ``good``), and a development dialogue that must stay ``good``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.channels import CHANNEL_MODEL
from pipeline.diarization_quality import (
    MAX_WORDS_OUTSIDE_SPEECH,
    with_transcript_check,
    words_outside_speech,
)
from pipeline.types import Diarization, DiarizationQuality, Turn, Word
from tests.conftest import FIXTURES

A, B = "SPEAKER_00", "SPEAKER_01"
GOOD = DiarizationQuality("good", (), ("agglomerative",), {"top_share": 0.6})


def word(start: float, end: float) -> Word:
    return Word(start, end, "so", 0.9)


def words_at(inside: int, outside: int) -> list[Word]:
    """``inside`` words within 0-100 s, ``outside`` words within 200-300 s."""
    return [word(i * 0.5, i * 0.5 + 0.3) for i in range(inside)] + [
        word(200.0 + i * 0.5, 200.0 + i * 0.5 + 0.3) for i in range(outside)
    ]


def diarization(quality: DiarizationQuality | None = GOOD, model: str = "pyannote") -> Diarization:
    turns = (Turn(0.0, 60.0, A), Turn(55.0, 100.0, B))
    return Diarization(turns=turns, exclusive=turns, model=model, quality=quality)


def test_words_outside_speech_counts_midpoints_in_no_turn() -> None:
    turns = [Turn(0.0, 2.0, A), Turn(1.5, 3.0, B), Turn(5.0, 6.0, A)]
    words = [
        word(0.3, 0.7),  # inside A
        word(2.8, 3.0),  # inside B (midpoint 2.9)
        word(3.8, 4.2),  # in the pause: outside
        word(5.9, 6.1),  # midpoint 6.0, on A's end: inside
        word(6.0, 6.1),  # midpoint 6.05: outside
        word(2.9, 5.3),  # midpoint 4.1, though it touches both turns: outside
    ]
    assert words_outside_speech(turns, words) == 3
    assert words_outside_speech([], words) == 6
    assert words_outside_speech(turns, []) == 0


@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.floats(0.01, 10)).map(lambda p: (p[0], p[0] + p[1])),
        max_size=8,
    ),
    st.lists(st.floats(0, 110), max_size=20),
    st.tuples(st.floats(0, 100), st.floats(0.01, 10)).map(lambda p: (p[0], p[0] + p[1])),
)
def test_more_turns_never_leave_more_words_outside(
    spans: list[tuple[float, float]], middles: list[float], extra: tuple[float, float]
) -> None:
    turns = [Turn(a, b, A) for a, b in spans]
    words = [word(m, m) for m in middles]
    count = words_outside_speech(turns, words)
    assert 0 <= count <= len(words)
    assert words_outside_speech([*turns, Turn(*extra, B)], words) <= count
    inside = [w for w in words if any(a <= w.start <= b for a, b in spans)]
    assert words_outside_speech(turns, inside) == 0


def test_many_words_outside_speech_make_a_good_diarization_doubtful() -> None:
    checked = with_transcript_check(diarization(), words_at(94, 6))
    assert checked.quality is not None
    assert checked.quality.level == "doubtful"
    assert checked.quality.measures == {"top_share": 0.6, "words_outside_speech": 0.06}
    assert checked.quality.tried == ("agglomerative",)
    (cue,) = checked.quality.cues
    assert cue.startswith("6% of the transcribed words lie where no voice was detected")
    assert "--counselor-channel" in cue
    assert checked.warnings == (cue,)
    assert checked.turns == diarization().turns


def test_the_limit_itself_and_a_few_stray_words_raise_no_cue() -> None:
    at_limit = with_transcript_check(diarization(), words_at(95, 5))
    assert MAX_WORDS_OUTSIDE_SPEECH == 0.05
    assert at_limit.quality == replace(
        GOOD, measures={"top_share": 0.6, "words_outside_speech": 0.05}
    )
    assert at_limit.warnings == ()
    few = with_transcript_check(diarization(), words_at(16, 4))  # 20 %, but only 4 words
    assert few.quality is not None and few.quality.level == "good"


def test_one_cue_more_makes_doubtful_poor_and_poor_stays_poor() -> None:
    doubtful = DiarizationQuality("doubtful", ("voices alike",), ("agglomerative",), {})
    checked = with_transcript_check(diarization(doubtful), words_at(90, 10))
    assert checked.quality is not None
    assert checked.quality.level == "poor"
    assert checked.quality.cues[0] == "voices alike"
    assert len(checked.quality.cues) == 2
    poor = DiarizationQuality("poor", ("one voice",), (), {"speakers": 1.0})
    kept = with_transcript_check(diarization(poor), words_at(100, 0))
    assert kept.quality is not None and kept.quality.level == "poor"
    assert kept.quality.measures == {"speakers": 1.0, "words_outside_speech": 0.0}


def test_channel_diarizations_and_empty_transcripts_are_left_alone() -> None:
    by_channel = diarization(model=CHANNEL_MODEL)
    assert with_transcript_check(by_channel, words_at(50, 50)) is by_channel
    unchanged = diarization()
    assert with_transcript_check(unchanged, []) is unchanged


def test_an_unchecked_diarization_gets_a_quality_only_when_the_cue_fires() -> None:
    unchecked = diarization(quality=None)
    assert with_transcript_check(unchecked, words_at(99, 1)) is unchecked
    flagged = with_transcript_check(unchecked, words_at(80, 20))
    assert flagged.quality is not None
    assert flagged.quality.level == "doubtful"
    assert flagged.quality.tried == ()
    assert flagged.quality.measures == {"words_outside_speech": 0.2}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "name", "flagged"),
    [
        ("realistic_heldout", "kokoro_exercise", True),
        ("realistic", "kokoro_drinking", False),
    ],
)
def test_a_voice_the_segmentation_misses_is_flagged_on_real_model_output(
    folder: str, name: str, flagged: bool
) -> None:
    from pipeline.session import SpeechOptions, analyze_document

    document = analyze_document(FIXTURES / folder / f"{name}.ogg", options=SpeechOptions())
    block = document["diarization"]
    fraction = block["measures"]["words_outside_speech"]
    missed = [c for c in block["cues"] if "where no voice was detected" in c]
    if flagged:
        # measured 8.3 %: the breathy counselor voice is partly missed (share error 0.12)
        assert fraction > MAX_WORDS_OUTSIDE_SPEECH
        assert missed and block["quality"] in ("doubtful", "poor")
        assert document["evidence"]["client_led"] == "inconclusive"
    else:
        assert fraction < 0.03  # measured 1.3 %
        assert not missed
