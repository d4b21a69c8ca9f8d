"""Attributing words to speakers and splitting segments into utterances."""

from __future__ import annotations

import pytest

from pipeline.attribute import attribute_words, build_utterances
from pipeline.types import Transcript, TranscriptSegment, Turn, Word

TURNS = (Turn(0.0, 2.0, "A"), Turn(2.0, 4.0, "B"), Turn(6.0, 8.0, "A"))


def w(start: float, end: float, text: str = "w") -> Word:
    return Word(start, end, text, 0.9)


@pytest.mark.parametrize(
    ("word", "speaker"),
    [
        (w(0.5, 1.0), "A"),  # inside A
        (w(1.8, 2.4), "B"),  # 0.2 s in A, 0.4 s in B: largest overlap
        (w(1.5, 2.1), "A"),  # 0.5 s in A, 0.1 s in B
        (w(4.2, 4.6), "B"),  # gap: nearest turn ends at 4.0
        (w(5.5, 5.8), "A"),  # gap: nearest turn starts at 6.0
        (w(9.0, 9.5), "A"),  # after the last turn
    ],
)
def test_word_goes_to_the_largest_overlap_or_the_nearest_turn(word: Word, speaker: str) -> None:
    assert attribute_words([word], TURNS)[0].speaker == speaker


def test_unsorted_turns_give_the_same_result() -> None:
    words = [w(0.1, 0.5), w(2.5, 3.0), w(6.5, 7.0)]
    assert attribute_words(words, TURNS) == attribute_words(words, TURNS[::-1])


def test_no_turns_is_an_error() -> None:
    with pytest.raises(ValueError, match="without any diarized turn"):
        attribute_words([w(0, 1)], [])


def test_a_segment_is_split_where_the_speaker_changes() -> None:
    segment = TranscriptSegment(
        0.0,
        4.0,
        "so how are you fine thanks",
        (
            w(0.1, 0.4, "so"),
            w(0.5, 0.9, "how"),
            w(1.0, 1.4, "are"),
            w(1.5, 1.9, "you?"),
            w(2.2, 2.6, "Fine"),
            w(2.7, 3.5, "thanks."),
        ),
    )
    words, utterances = build_utterances(Transcript("en", 1.0, (segment,), "m"), TURNS)
    assert [x.speaker for x in words] == ["A", "A", "A", "A", "B", "B"]
    assert [(u.start, u.end, u.speaker, u.text) for u in utterances] == [
        (0.1, 1.9, "A", "so how are you?"),
        (2.2, 3.5, "B", "Fine thanks."),
    ]


def test_segments_never_merge_across_segment_boundaries() -> None:
    first = TranscriptSegment(0.0, 1.0, "a", (w(0.1, 0.5, "a"),))
    second = TranscriptSegment(1.0, 2.0, "b", (w(1.1, 1.5, "b"),))
    _, utterances = build_utterances(Transcript("en", 1.0, (first, second), "m"), TURNS)
    assert [u.text for u in utterances] == ["a", "b"]
