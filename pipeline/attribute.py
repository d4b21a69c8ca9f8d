"""Who said which word: join the transcript with the exclusive diarization.

Each word goes to the speaker whose exclusive turn overlaps it most; a word
that falls in a gap between turns goes to the nearest turn. A word
transcribed from one channel of a stereo recording diarized by channel
(:attr:`~pipeline.types.Word.channel` set, the turns labelled ``LEFT`` /
``RIGHT``) goes to its channel's speaker instead, whatever the time: in
overlapped speech the channel knows who spoke, the turn boundaries do not.
Whisper segments are then split wherever the speaker changes, giving
speaker-homogeneous utterances.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from pipeline.types import CHANNEL_LABELS, SpeakerWord, Transcript, Turn, Utterance, Word


def _speaker_of(word: Word, turns: Sequence[Turn], ends: Sequence[float]) -> str:
    """Speaker of the turn overlapping ``word`` most, else of the nearest turn."""
    first = bisect.bisect_right(ends, word.start)
    best, best_overlap = "", 0.0
    index = first
    while index < len(turns) and turns[index].start < word.end:
        turn = turns[index]
        overlap = min(turn.end, word.end) - max(turn.start, word.start)
        if overlap > best_overlap:
            best, best_overlap = turn.speaker, overlap
        index += 1
    if best:
        return best
    middle = (word.start + word.end) / 2
    neighbours = [turns[i] for i in (first - 1, first) if 0 <= i < len(turns)]
    nearest = min(neighbours, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
    return nearest.speaker


def attribute_words(words: Sequence[Word], exclusive: Sequence[Turn]) -> tuple[SpeakerWord, ...]:
    """Give every word a speaker from an exclusive (non-overlapping) diarization.

    When the diarization is by channel (its speakers are
    :data:`~pipeline.types.CHANNEL_LABELS`), a word with a ``channel`` goes to
    ``CHANNEL_LABELS[channel]``; every other word goes by time.
    """
    if not exclusive:
        raise ValueError("cannot attribute words without any diarized turn")
    turns = sorted(exclusive, key=lambda t: (t.start, t.end))
    ends = [t.end for t in turns]
    by_channel = all(t.speaker in CHANNEL_LABELS for t in turns)
    return tuple(
        SpeakerWord(
            w.start,
            w.end,
            w.text,
            w.probability,
            CHANNEL_LABELS[w.channel]
            if by_channel and w.channel is not None
            else _speaker_of(w, turns, ends),
        )
        for w in words
    )


def build_utterances(
    transcript: Transcript, exclusive: Sequence[Turn]
) -> tuple[tuple[SpeakerWord, ...], tuple[Utterance, ...]]:
    """Attributed words, and utterances split from Whisper segments at speaker changes."""
    words: list[SpeakerWord] = []
    utterances: list[Utterance] = []
    for segment in transcript.segments:
        attributed = attribute_words(segment.words, exclusive) if segment.words else ()
        words.extend(attributed)
        run: list[SpeakerWord] = []
        for word in attributed:
            if run and word.speaker != run[-1].speaker:
                utterances.append(Utterance(run[0].start, run[-1].end, run[0].speaker, tuple(run)))
                run = []
            run.append(word)
        if run:
            utterances.append(Utterance(run[0].start, run[-1].end, run[0].speaker, tuple(run)))
    return tuple(words), tuple(utterances)
