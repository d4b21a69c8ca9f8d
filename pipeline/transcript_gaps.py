"""Speech the diarization heard but Whisper never transcribed, and a second pass over it.

Whisper only sees what faster-whisper's voice-activity detector (Silero)
keeps. On soft or breathy voices in a reverberant, noisy room, and more so on
telephone codecs, Silero can drop most of one speaker's speech while
pyannote's segmentation still hears it: on a voiced 29-minute session copied
as AMR-NB, Silero kept 611 s of 1,555 s of speech and the transcript held 41 %
of the words, with nothing in the report to say so (docs/evidence.md, "Speech
without words"). Every coded measure then rests on part of the session.

After both stages this module finds the diarized speech that no word covers
(:func:`untranscribed_speech`), transcribes just those stretches
(:func:`pipeline.transcribe.transcribe` with ``speech_spans_s``) and merges the
words in (:func:`merge_words`). The share of diarized speech still without
words is recorded (:func:`speech_without_words`).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from pipeline.intervals import difference, total, union
from pipeline.types import SpeakerWord, Transcript, TranscriptSegment, Turn, Word

MIN_GAP_S = 1.0
"""Untranscribed speech shorter than this is left alone (a backchannel, a breath)."""
WORD_MARGIN_S = 0.5
"""Speech this close to a transcribed word counts as covered by it."""
MAX_SPEECH_WITHOUT_WORDS = 0.10
"""Above this share of diarized speech still without words, the report says so."""


def _gaps(
    exclusive: Sequence[Turn], words: Sequence[Word | SpeakerWord], word_margin_s: float
) -> list[tuple[float, float]]:
    """Every stretch of ``exclusive`` speech farther than ``word_margin_s`` from all words."""
    covered = union((w.start - word_margin_s, w.end + word_margin_s) for w in words)
    return difference(((t.start, t.end) for t in exclusive), covered)


def untranscribed_speech(
    exclusive: Sequence[Turn],
    words: Sequence[Word | SpeakerWord],
    *,
    min_gap_s: float = MIN_GAP_S,
    word_margin_s: float = WORD_MARGIN_S,
) -> tuple[tuple[float, float], ...]:
    """Stretches of diarized speech at least ``min_gap_s`` long with no word within ``word_margin_s``.

    Examples
    --------
    >>> turns = [Turn(0.0, 10.0, "A")]
    >>> untranscribed_speech(turns, [Word(1.0, 2.0, "hello", 0.9)])
    ((2.5, 10.0),)
    """
    gaps = _gaps(exclusive, words, word_margin_s)
    return tuple(
        (round(start, 3), round(end, 3)) for start, end in gaps if end - start >= min_gap_s
    )


def speech_without_words(
    exclusive: Sequence[Turn],
    words: Sequence[Word | SpeakerWord],
    *,
    word_margin_s: float = WORD_MARGIN_S,
) -> float:
    """Share of the diarized speech with no transcribed word within ``word_margin_s`` (0 to 1).

    >>> speech_without_words([Turn(0.0, 10.0, "A")], [Word(1.0, 2.0, "hello", 0.9)])
    0.8
    """
    speech = total((t.start, t.end) for t in exclusive)
    if speech <= 0:
        return 0.0
    return round(total(_gaps(exclusive, words, word_margin_s)) / speech, 4)


def merge_words(transcript: Transcript, extra: Transcript) -> Transcript:
    """``transcript`` with the words of ``extra`` added, in time order (:func:`in_time_order`).

    A word of ``extra`` whose middle falls inside one of ``transcript``'s words
    is dropped (the second pass reaching into speech the first one covered).
    """
    taken = sorted((w.start, w.end) for s in transcript.segments for w in s.words)
    starts = [t[0] for t in taken]

    def new(word: Word) -> bool:
        middle = (word.start + word.end) / 2
        index = bisect.bisect_right(starts, middle) - 1
        return index < 0 or taken[index][1] <= middle

    added = []
    for segment in extra.segments:
        kept = tuple(w for w in segment.words if new(w))
        if kept:
            added.append(_segment_of(kept))
    return Transcript(
        language=transcript.language,
        language_probability=transcript.language_probability,
        segments=in_time_order([transcript.segments, added]),
        model=transcript.model,
    )


def in_time_order(
    sources: Sequence[Sequence[TranscriptSegment]],
) -> tuple[TranscriptSegment, ...]:
    """The segments of several transcripts of one recording, as one in time order.

    A Whisper segment can span a stretch where another source has words (a
    channel silent while the other party talks; a pause the first pass skipped
    and the second filled), so a segment is cut wherever a word of another
    source starts in a pause between two of its words; one starting while a
    word is in progress (overlapped speech) leaves it whole. The pieces are
    sorted by their first word's start (ties: the earlier source first). Every word stays in the
    piece of its own segment, so :func:`pipeline.attribute.build_utterances`
    gives utterances in time order.
    """
    starts = [sorted(w.start for s in segments for w in s.words) for segments in sources]
    pieces = []
    for number, segments in enumerate(sources):
        others = sorted(x for k, xs in enumerate(starts) if k != number for x in xs)
        for index, segment in enumerate(segments):
            for part, piece in enumerate(_cut(segment, others)):
                # by its first word: Whisper's segment start can lie before it
                start = piece.words[0].start if piece.words else piece.start
                pieces.append((start, number, index, part, piece))
    pieces.sort(key=lambda row: row[:4])
    return tuple(piece for *_, piece in pieces)


def _cut(segment: TranscriptSegment, other_starts: Sequence[float]) -> list[TranscriptSegment]:
    """``segment`` cut between two of its words where one of ``other_starts`` falls in the pause."""
    words = segment.words
    cuts = [
        k
        for k in range(1, len(words))
        if bisect.bisect_left(other_starts, words[k - 1].end)
        < bisect.bisect_left(other_starts, words[k].start)
    ]
    if not cuts:
        return [segment]
    return [_segment_of(words[a:b]) for a, b in itertools.pairwise([0, *cuts, len(words)])]


def _segment_of(words: tuple[Word, ...]) -> TranscriptSegment:
    """A segment of ``words`` (not empty): their span, their texts joined by spaces."""
    return TranscriptSegment(words[0].start, words[-1].end, " ".join(w.text for w in words), words)


def coverage_warning(share: float | None) -> str | None:
    """A warning when more than :data:`MAX_SPEECH_WITHOUT_WORDS` of the speech has no words.

    ``share`` is :func:`speech_without_words` after the second pass (``None``:
    not measured). The talk times do not depend on the words; the coded
    behaviours and the score do.

    >>> coverage_warning(0.05) is None
    True
    >>> coverage_warning(0.17)[:58]
    '17% of the detected speech has no transcribed words after '
    """
    if share is None or share <= MAX_SPEECH_WITHOUT_WORDS:
        return None
    return (
        f"{share * 100:.0f}% of the detected speech has no transcribed words after a second "
        "pass (a quiet or breathy voice, or a poor line): the questions, reflections, advice "
        "and change talk, and so the score, rest on the rest of the speech."
    )
