"""Words where no voice was detected: counted exactly, recorded among the quality measures.

The measure raises no cue (docs/diarization.md, "A voice the segmentation
misses"); the slow test checks on real model output that it does rise where
the segmentation model partly misses a breathy voice (a held-out neural-voice
dialogue) and stays low on a development one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.channels import CHANNEL_MODEL
from pipeline.diarization_quality import with_transcript_measure, words_outside_speech
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


def test_the_fraction_is_recorded_and_changes_nothing_else() -> None:
    before = diarization()
    after = with_transcript_measure(before, words_at(80, 20))
    # the 80 words inside cover 0-40.3 s with their 0.5 s margins: 19.7 s of A's
    # 60 s and all 45 s of B's are without words, 64.7 of 105 s
    measures = {"top_share": 0.6, "words_outside_speech": 0.2, "speech_without_words": 0.6162}
    assert after.quality == DiarizationQuality("good", (), ("agglomerative",), measures)
    assert after.warnings == before.warnings == ()
    assert (after.turns, after.exclusive, after.model) == (
        before.turns,
        before.exclusive,
        before.model,
    )
    assert before.quality == GOOD  # the input is not changed in place


def test_a_channel_diarization_gets_the_share_of_speech_without_words_only() -> None:
    after = with_transcript_measure(diarization(model=CHANNEL_MODEL), words_at(80, 20))
    assert after.quality is not None
    assert after.quality.measures == {"top_share": 0.6, "speech_without_words": 0.6162}


def test_unchecked_diarizations_and_empty_transcripts_are_left_alone() -> None:
    unchecked = diarization(quality=None)
    assert with_transcript_measure(unchecked, words_at(50, 50)) is unchecked
    checked = diarization()
    assert with_transcript_measure(checked, []) is checked


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "name", "low", "high"),
    [
        ("realistic_heldout", "kokoro_exercise", 0.05, 0.15),  # measured 8.3 %
        ("realistic", "kokoro_drinking", 0.0, 0.03),  # measured 1.3 %
    ],
)
def test_the_measure_rises_where_a_voice_is_partly_missed(
    folder: str, name: str, low: float, high: float
) -> None:
    from pipeline.session import SpeechOptions, analyze_document

    document = analyze_document(FIXTURES / folder / f"{name}.ogg", options=SpeechOptions())
    block = document["diarization"]
    assert low < block["measures"]["words_outside_speech"] < high
    assert not any("no voice was detected" in cue for cue in block["cues"])
