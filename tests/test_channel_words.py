"""Stereo split by channel: each channel transcribed alone, each word given to its channel's speaker."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import session
from pipeline.attribute import attribute_words, build_utterances
from pipeline.channels import (
    CHANNEL_PAD_S,
    channel_activity,
    channel_audio,
    clip_words,
    mask_outside,
    merge_channel_transcripts,
)
from pipeline.errors import DiarizationError
from pipeline.session import SpeechOptions, transcribe_with
from pipeline.types import (
    SAMPLE_RATE_HZ,
    Audio,
    AudioInfo,
    Transcript,
    TranscriptSegment,
    Turn,
    Word,
)
from tests.test_channels import stereo


def w(start: float, end: float, text: str = "x", channel: int | None = None) -> Word:
    return Word(start, end, text, 0.9, channel)


def segment(*words: Word) -> TranscriptSegment:
    return TranscriptSegment(words[0].start, words[-1].end, " ".join(x.text for x in words), words)


# --- masking -------------------------------------------------------------------------------


def test_mask_keeps_the_padded_runs_only() -> None:
    samples = np.arange(1, 21, dtype=np.float32)  # 2 s at 10 Hz
    masked = mask_outside(samples, [(0.5, 0.7), (1.2, 1.3)], pad_s=0.1, sample_rate_hz=10)
    expected = np.zeros(20, dtype=np.float32)
    expected[4:8] = samples[4:8]  # 0.4 .. 0.8 s
    expected[11:14] = samples[11:14]  # 1.1 .. 1.4 s
    np.testing.assert_array_equal(masked, expected)
    assert masked.dtype == np.float32
    assert samples[0] == 1.0  # the input is not changed


def test_mask_clips_at_the_edges_and_merges_overlapping_runs() -> None:
    samples = np.ones(10, dtype=np.float32)
    masked = mask_outside(
        samples, [(0.0, 0.2), (0.15, 0.3), (0.9, 1.0)], pad_s=0.2, sample_rate_hz=10
    )
    np.testing.assert_array_equal(masked, [1, 1, 1, 1, 1, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(mask_outside(samples, [], sample_rate_hz=10), np.zeros(10))


def test_channel_audio_is_the_channel_silenced_outside_its_own_speech() -> None:
    audio = stereo([(1.0, 3.0), (6.0, 8.0)], [(3.5, 5.5)])
    left_runs, right_runs = channel_activity(audio)
    assert [(round(s, 1), round(e, 1)) for s, e in left_runs] == [(1.0, 3.0), (6.0, 8.0)]
    assert [(round(s, 1), round(e, 1)) for s, e in right_runs] == [(3.5, 5.5)]
    right = channel_audio(audio, 1)
    assert right.samples.shape == audio.samples.shape
    assert right.channel_samples.shape == (1, audio.samples.shape[0])
    assert right.info == audio.info
    start, end = right_runs[0]
    first = round((start - CHANNEL_PAD_S) * SAMPLE_RATE_HZ)
    last = round((end + CHANNEL_PAD_S) * SAMPLE_RATE_HZ)
    np.testing.assert_array_equal(right.samples[first:last], audio.channel_samples[1, first:last])
    # the left party's leak (26 dB down) on the right channel is gone
    assert not right.samples[:first].any() and not right.samples[last:].any()
    assert np.abs(audio.channel_samples[1, 16_000:48_000]).max() > 0.01


def test_channel_audio_takes_given_runs_and_needs_two_channels() -> None:
    audio = stereo([(1.0, 3.0)], [(4.0, 5.0)])
    left = channel_audio(audio, 0, runs=[(2.0, 2.5)], pad_s=0.0)
    kept = np.flatnonzero(left.samples)
    assert kept.min() >= 32_000 and kept.max() < 40_000
    mono = Audio(audio.info, audio.samples, audio.samples[np.newaxis])
    with pytest.raises(DiarizationError, match="stereo"):
        channel_audio(mono, 0)


# --- merging -------------------------------------------------------------------------------


def test_merge_tags_every_word_with_its_channel_and_orders_segments_by_time() -> None:
    left = Transcript("en", 0.9, (segment(w(0.0, 0.5), w(0.5, 1.0)), segment(w(3.0, 3.4))), "m")
    right = Transcript("en", 0.8, (segment(w(0.8, 1.2, "mm")),), "m")
    merged = merge_channel_transcripts([left, right])
    assert [(s.start, s.words[0].channel) for s in merged.segments] == [
        (0.0, 0),
        (0.8, 1),
        (3.0, 0),
    ]
    assert [x.channel for x in merged.words] == [0, 0, 1, 0]
    assert [(x.start, x.end, x.text) for x in merged.words] == [
        (0.0, 0.5, "x"),
        (0.5, 1.0, "x"),
        (0.8, 1.2, "mm"),
        (3.0, 3.4, "x"),
    ]
    # language and its probability from the channel with more words
    assert (merged.language, merged.language_probability, merged.model) == ("en", 0.9, "m")


def test_merge_breaks_ties_by_channel_and_keeps_empty_segments() -> None:
    empty = TranscriptSegment(2.0, 2.0, "", ())
    left = Transcript("de", 0.5, (segment(w(1.0, 1.5)),), "m")
    right = Transcript("en", 0.7, (segment(w(1.0, 1.5), w(1.5, 1.9)), empty), "m")
    merged = merge_channel_transcripts([left, right])
    assert [(s.start, s.end) for s in merged.segments] == [(1.0, 1.5), (1.0, 1.9), (2.0, 2.0)]
    assert [x.channel for x in merged.words] == [0, 1, 1]
    assert merged.language == "en"
    with pytest.raises(ValueError, match="no transcript"):
        merge_channel_transcripts([])


# --- attributing ---------------------------------------------------------------------------

CHANNEL_TURNS = (Turn(0.0, 2.0, "LEFT"), Turn(2.0, 4.0, "RIGHT"))


def test_a_channel_word_goes_to_its_channel_whatever_the_time() -> None:
    words = [w(0.5, 1.0, channel=1), w(2.5, 3.0, channel=0), w(2.5, 3.0), w(9.0, 9.5, channel=1)]
    speakers = [x.speaker for x in attribute_words(words, CHANNEL_TURNS)]
    # the untagged word goes by time
    assert speakers == ["RIGHT", "LEFT", "RIGHT", "RIGHT"]


def test_channels_are_ignored_when_the_diarization_is_by_voice() -> None:
    turns = (Turn(0.0, 2.0, "SPEAKER_00"), Turn(2.0, 4.0, "SPEAKER_01"))
    words = [w(0.5, 1.0, channel=1), w(2.5, 3.0, channel=0)]
    assert [x.speaker for x in attribute_words(words, turns)] == ["SPEAKER_00", "SPEAKER_01"]


def test_a_segment_spanning_the_other_partys_turn_is_cut_there() -> None:
    """Each channel is silent while the other talks, so one Whisper segment can hold two turns."""
    left = Transcript(
        "en", 1.0, (segment(w(0.0, 0.4, "how"), w(0.4, 0.8, "so?"), w(3.0, 3.4, "I")),), "m"
    )
    right = Transcript("en", 1.0, (segment(w(1.0, 1.5, "well"), w(1.5, 2.0, "fine.")),), "m")
    merged = merge_channel_transcripts([left, right])
    assert [(s.start, s.end, s.text, s.words[0].channel) for s in merged.segments] == [
        (0.0, 0.8, "how so?", 0),
        (1.0, 2.0, "well fine.", 1),
        (3.0, 3.4, "I", 0),
    ]
    words, utterances = build_utterances(merged, (Turn(0.0, 4.0, "LEFT"),))
    assert [(u.speaker, u.text) for u in utterances] == [
        ("LEFT", "how so?"),
        ("RIGHT", "well fine."),
        ("LEFT", "I"),
    ]
    assert [x.start for x in words] == sorted(x.start for x in words)


def test_overlapped_channel_segments_give_one_speaker_utterances() -> None:
    left = Transcript(
        "en", 1.0, (segment(w(0.0, 0.5, "so"), w(0.5, 1.0, "I"), w(1.0, 1.3, "really")),), "m"
    )
    right = Transcript("en", 1.0, (segment(w(0.9, 1.2, "wait"), w(1.2, 1.6, "no")),), "m")
    # the exclusive diarization gives the overlap (0.9-1.3) to RIGHT: by time, "really" would go there
    exclusive = (Turn(0.0, 0.9, "LEFT"), Turn(0.9, 1.6, "RIGHT"))
    words, utterances = build_utterances(merge_channel_transcripts([left, right]), exclusive)
    assert [(u.speaker, u.text) for u in utterances] == [
        ("LEFT", "so I really"),
        ("RIGHT", "wait no"),
    ]
    assert [x.speaker for x in words] == ["LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"]


def test_a_word_record_without_channel_still_loads() -> None:
    record = asdict(Word(1.0, 1.5, "hi", 0.9))
    assert record["channel"] is None
    del record["channel"]  # stored before words had a channel
    assert Word(**record) == Word(1.0, 1.5, "hi", 0.9, None)


# --- the transcription stage ---------------------------------------------------------------


class FakeWhisper:
    """Records what it is given; returns one word per call, in the language it is told.

    A second pass (``speech_spans_s``) hears one word at the start of each span.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, audio: Audio, **options: Any) -> Transcript:
        self.calls.append({"samples": audio.samples.copy(), **options})
        if options.get("speech_spans_s") is not None:
            found = [
                Word(a, a + 0.3, f"w{len(self.calls)}", 0.9) for a, _ in options["speech_spans_s"]
            ]
            return Transcript(options["language"], 0.9, (segment(*found),), "fake")
        sounding = np.flatnonzero(np.abs(audio.samples) > 0.01)
        start = round(float(sounding[0]) / SAMPLE_RATE_HZ, 2)
        word = Word(start, start + 0.3, f"w{len(self.calls)}", 0.9)
        language = options["language"] or "en"
        progress = options["progress"]
        progress(audio.duration_s / 2, audio.duration_s)
        progress(audio.duration_s, audio.duration_s)
        return Transcript(language, 0.9, (segment(word),), "fake")


def test_a_split_recording_is_transcribed_one_channel_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeWhisper()
    monkeypatch.setattr(session, "transcribe", fake)
    audio = stereo([(1.0, 2.0)], [(3.5, 6.5)])  # the right channel has more speech
    seen: list[tuple[str, float, float]] = []
    transcript = transcribe_with(
        audio, SpeechOptions(cpu_threads=1), progress=lambda *a: seen.append(a)
    )
    # the channel with more speech first; its one word leaves 4.3-6.52 s of its active run
    # (3.5-6.52 s) without words (0.5 s from the word), so that stretch is heard again
    right, right_again, left = fake.calls
    np.testing.assert_array_equal(right["samples"], channel_audio(audio, 1).samples)
    np.testing.assert_array_equal(right_again["samples"], channel_audio(audio, 1).samples)
    np.testing.assert_array_equal(left["samples"], channel_audio(audio, 0).samples)
    assert right_again["speech_spans_s"] == ((4.3, 6.52),)
    # detected once, then reused
    assert (right["language"], right_again["language"], left["language"]) == (None, "en", "en")
    assert right["cpu_threads"] == left["cpu_threads"] == 1
    assert [(x.start, x.text, x.channel) for x in transcript.words] == [
        (1.0, "w3", 0),
        (3.5, "w1", 1),
        (4.3, "w2", 1),
    ]
    assert seen == [
        ("transcribe", 2.5, 10.0),
        ("transcribe", 5.0, 10.0),
        ("transcribe", 7.5, 10.0),
        ("transcribe", 10.0, 10.0),
    ]


def test_the_mix_is_transcribed_whole_when_the_channels_are_not_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeWhisper()
    monkeypatch.setattr(session, "transcribe", fake)
    audio = stereo([(1.0, 2.0)], [(3.5, 6.5)])
    transcript = transcribe_with(audio, SpeechOptions(channels="mix", language="en"))
    assert len(fake.calls) == 1
    np.testing.assert_array_equal(fake.calls[0]["samples"], audio.samples)
    assert [x.channel for x in transcript.words] == [None]
    mono_info = AudioInfo("m.wav", "0" * 64, 10.0, SAMPLE_RATE_HZ, 1, "wav", "pcm_s16le")
    mono = Audio(mono_info, audio.samples, audio.samples[np.newaxis])
    transcribe_with(mono, SpeechOptions(language="en"))
    assert len(fake.calls) == 2
    with pytest.raises(DiarizationError, match="stereo"):
        transcribe_with(mono, SpeechOptions(counselor_channel="left"))


# --- invariants ----------------------------------------------------------------------------

spans = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 10)).map(
        lambda p: (p[0] / 10, (p[0] + p[1]) / 10)
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(spans, st.integers(0, 3))
def test_mask_keeps_exactly_the_padded_runs(runs: list[tuple[float, float]], pad: int) -> None:
    samples = np.arange(1, 51, dtype=np.float32)  # 5 s at 10 Hz, no zero
    masked = mask_outside(samples, runs, pad_s=pad / 10, sample_rate_hz=10)
    for i in range(50):
        inside = any(round(s * 10) - pad <= i < round(e * 10) + pad for s, e in runs)
        assert masked[i] == (samples[i] if inside else 0.0)


@settings(max_examples=60, deadline=None)
@given(spans, spans)
def test_merge_keeps_every_word_once_in_time_order(
    left_spans: list[tuple[float, float]], right_spans: list[tuple[float, float]]
) -> None:
    def transcript(word_spans: list[tuple[float, float]]) -> Transcript:
        return Transcript("en", 1.0, tuple(segment(w(s, e)) for s, e in sorted(word_spans)), "m")

    merged = merge_channel_transcripts([transcript(left_spans), transcript(right_spans)])
    starts = [s.start for s in merged.segments]
    assert starts == sorted(starts)
    got = sorted((x.start, x.end, x.channel) for x in merged.words)
    assert got == sorted([(s, e, 0) for s, e in left_spans] + [(s, e, 1) for s, e in right_spans])


@settings(max_examples=60, deadline=None)
@given(spans, spans)
def test_clipped_words_lie_inside_the_kept_audio(
    runs: list[tuple[float, float]], word_spans: list[tuple[float, float]]
) -> None:
    words = tuple(w(s, e) for s, e in sorted(word_spans))
    found = Transcript("en", 1.0, (segment(*words),) if words else (), "m")
    clipped = clip_words(found, runs, pad_s=0.2).words
    assert len(clipped) == len(words)
    kept = [(s - 0.2 - 1e-9, e + 0.2 + 1e-9) for s, e in runs]
    for before, after in zip(words, clipped, strict=True):
        assert before.start <= after.start <= after.end <= before.end
        if any(min(e + 0.2, before.end) > max(s - 0.2, before.start) for s, e in runs):
            # inside the union of the kept spans
            assert all(
                any(s <= t <= e for s, e in kept) for t in np.linspace(after.start, after.end, 7)
            )
        else:
            assert after == before
