"""Diarized speech without words, and merging a second transcription pass."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from pipeline.transcript_gaps import (
    in_time_order,
    merge_words,
    speech_without_words,
    untranscribed_speech,
)
from pipeline.types import Transcript, TranscriptSegment, Turn, Word


def word(start: float, end: float, text: str = "so") -> Word:
    return Word(start, end, text, 0.9)


def transcript(*segments: tuple[Word, ...]) -> Transcript:
    return Transcript(
        "en",
        0.99,
        tuple(
            TranscriptSegment(s[0].start, s[-1].end, " ".join(w.text for w in s), s)
            for s in segments
        ),
        "m",
    )


def test_untranscribed_speech_is_diarized_speech_away_from_every_word() -> None:
    turns = [Turn(0.0, 10.0, "A"), Turn(12.0, 13.5, "B"), Turn(20.0, 21.8, "A")]
    words = [word(1.0, 2.0), word(2.2, 3.0), word(8.0, 8.4), word(20.5, 21.0)]
    # A: 0-0.5 (too short), 3.5-7.5, 8.9-10; B: 12-13.5; A: 21.5-21.8 (too short)
    assert untranscribed_speech(turns, words) == ((3.5, 7.5), (8.9, 10.0), (12.0, 13.5))
    assert untranscribed_speech(turns, words, min_gap_s=0.2) == (
        (0.0, 0.5),
        (3.5, 7.5),
        (8.9, 10.0),
        (12.0, 13.5),
        (21.5, 21.8),
    )
    assert speech_without_words(turns, words) == round((0.5 + 4.0 + 1.1 + 1.5 + 0.3) / 13.3, 4)


def test_no_turns_or_no_gaps() -> None:
    assert untranscribed_speech([], [word(1.0, 2.0)]) == ()
    assert speech_without_words([], [word(1.0, 2.0)]) == 0.0
    assert untranscribed_speech([Turn(1.0, 2.0, "A")], [word(1.2, 1.8)]) == ()


def test_merge_adds_new_words_in_time_order_and_drops_repeats() -> None:
    first = transcript(
        (word(0.0, 0.5, "Hello"), word(0.6, 1.0, "there.")), (word(9.0, 9.5, "Bye."),)
    )
    second = transcript(
        (word(0.7, 1.1, "there"), word(4.0, 4.4, "I"), word(4.5, 5.0, "whispered.")),
    )
    merged = merge_words(first, second)
    assert [s.text for s in merged.segments] == ["Hello there.", "I whispered.", "Bye."]
    assert [w.text for s in merged.segments for w in s.words] == [
        "Hello",
        "there.",
        "I",
        "whispered.",
        "Bye.",
    ]
    assert (merged.language, merged.model) == ("en", "m")
    assert merge_words(first, transcript()) == first


def test_a_first_pass_segment_spanning_the_filled_pause_is_cut_there() -> None:
    """Whisper's segment 0-9 s holds words at both ends; the second pass fills 3-6 s."""
    first = transcript((word(0.0, 0.5, "Well,"), word(0.5, 1.0, "yes."), word(8.5, 9.0, "So")))
    second = transcript((word(3.0, 3.5, "I"), word(3.5, 4.0, "whispered.")))
    merged = merge_words(first, second)
    assert [(s.start, s.end, s.text) for s in merged.segments] == [
        (0.0, 1.0, "Well, yes."),
        (3.0, 4.0, "I whispered."),
        (8.5, 9.0, "So"),
    ]


def test_pieces_are_ordered_by_their_first_word_not_by_whisper_s_segment_start() -> None:
    """Whisper's segment can start well before its first word (leading silence)."""
    late = (word(12.0, 12.5, "Yes."),)
    first = Transcript("en", 0.99, (TranscriptSegment(10.0, 12.5, "Yes.", late),), "m")
    merged = merge_words(first, transcript((word(10.2, 10.6, "Mm."),)))
    assert [w.start for w in merged.words] == [10.2, 12.0]


@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.floats(0, 60), st.floats(0.05, 1))),
)
def test_sources_in_time_order_keep_every_word_and_never_go_back_between_pauses(
    rows: list[tuple[int, int, float, float]],
) -> None:
    """Two sources of segments (source, segment, start, length): no word lost, none twice;
    no word of the other source starts in a pause between two words of one piece."""
    sources: list[list[TranscriptSegment]] = [[], []]
    for number in (0, 1):
        for index in range(4):
            words = tuple(
                sorted(
                    (
                        word(a, a + n, f"{number}{index}")
                        for k, i, a, n in rows
                        if (k, i) == (number, index)
                    ),
                    key=lambda w: w.start,
                )
            )
            if words:
                sources[number].append(TranscriptSegment(words[0].start, words[-1].end, "", words))
    pieces = in_time_order(sources)
    flat = [w for p in pieces for w in p.words]
    assert sorted(flat, key=repr) == sorted(
        (w for s in sources for seg in s for w in seg.words), key=repr
    )
    for piece in pieces:
        source = piece.words[0].text[0]
        others = [w.start for w in flat if w.text[0] != source]
        for a, b in itertools.pairwise(piece.words):
            assert not any(a.end <= x < b.start for x in others)
    # going back in time only where the next piece starts while a word of the one before
    # (of another source) is in progress, or both pieces come from one source
    for before, after in itertools.pairwise(pieces):
        b = after.words[0]
        if b.start < before.words[-1].start and before.words[0].text[0] != b.text[0]:
            assert any(w.start <= b.start < w.end for w in before.words)


spans = st.lists(
    st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0.05, 8, allow_nan=False)),
    max_size=12,
)


@given(spans, spans, st.floats(0.0, 2.0))
def test_gaps_lie_in_speech_and_away_from_words(
    turn_spans: list[tuple[float, float]], word_spans: list[tuple[float, float]], min_gap_s: float
) -> None:
    turns, cursor = [], 0.0
    for offset, length in turn_spans:  # disjoint, as an exclusive diarization
        turns.append(Turn(cursor + offset / 10, cursor + offset / 10 + length, "A"))
        cursor = turns[-1].end
    words = [word(s, s + min(length, 1.0)) for s, length in word_spans]
    gaps = untranscribed_speech(turns, words, min_gap_s=min_gap_s)
    for start, end in gaps:
        assert end - start >= min_gap_s - 1e-3
        assert any(t.start - 1e-3 <= start and end <= t.end + 1e-3 for t in turns)
        for w in words:
            assert end <= w.start - 0.5 + 1e-3 or start >= w.end + 0.5 - 1e-3
    assert 0.0 <= speech_without_words(turns, words) <= 1.0


def test_much_speech_without_words_is_a_warning_in_the_reasons() -> None:
    from pipeline.document import score
    from pipeline.types import DiarizationQuality

    turns = (Turn(0.0, 30.0, "SPEAKER_00"), Turn(31.0, 70.0, "SPEAKER_01"))
    for share, warned in ((0.10, False), (0.17, True)):
        quality = DiarizationQuality(
            "good", (), ("agglomerative",), {"speech_without_words": share}
        )
        reasons = score(turns, (), duration_s=70.0, quality=quality).evidence.reasons
        expected = (
            "17% of the detected speech has no transcribed words after a second pass (a quiet "
            "or breathy voice, or a poor line): the questions, reflections, advice and change "
            "talk, and so the score, rest on the rest of the speech."
        )
        assert (expected in reasons) is warned
