"""Windowed transcription: where long recordings are cut, and how times come back.

Pure functions with exact numbers, properties that hold for any speech
regions, and the window loop driven by a fake Whisper (no model).
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faster_whisper.vad import SpeechTimestampsMap
from hypothesis import given, settings
from hypothesis import strategies as st

import pipeline.transcribe as transcribe_module
from pipeline.accuracy import read_stm_text, word_error_rate
from pipeline.audio import load_audio
from pipeline.transcribe import (
    _restore_words,
    _windowed_segments,
    plan_windows,
    region_index,
    restore_time,
    transcribe,
)
from pipeline.types import Audio

SPANS = [(16_000, 48_000), (80_000, 96_000), (160_000, 240_000)]
"""1-3 s, 5-6 s and 10-15 s of a recording: 2 + 1 + 5 = 8 s of speech."""


# --------------------------------------------------------------------------- plan_windows


def test_plan_windows_cuts_between_regions_when_the_next_would_overflow() -> None:
    assert plan_windows(SPANS, max_speech_samples=48_000) == (
        ((16_000, 48_000), (80_000, 96_000)),
        ((160_000, 240_000),),
    )


def test_plan_windows_fills_a_window_exactly_to_the_limit() -> None:
    assert plan_windows(SPANS, max_speech_samples=128_000) == (tuple(SPANS),)
    assert plan_windows(SPANS, max_speech_samples=127_999) == (
        ((16_000, 48_000), (80_000, 96_000)),
        ((160_000, 240_000),),
    )


def test_plan_windows_never_cuts_inside_a_region_longer_than_the_limit() -> None:
    assert plan_windows(SPANS, max_speech_samples=10_000) == (
        ((16_000, 48_000),),
        ((80_000, 96_000),),
        ((160_000, 240_000),),
    )


def test_plan_windows_of_nothing_and_a_bad_limit() -> None:
    assert plan_windows([], max_speech_samples=1) == ()
    with pytest.raises(ValueError, match="at least 1"):
        plan_windows(SPANS, max_speech_samples=0)


# --------------------------------------------------------------------------- restore_time


@pytest.mark.parametrize(
    ("time_s", "expected_s"),
    [
        (0.0, 1.0),  # start of the first region: 1 s of silence before it
        (1.999, 3.0),  # rounded to 10 ms, as faster-whisper does
        (2.0, 5.0),  # the first region's end is the second's start
        (2.5, 5.5),
        (3.0, 10.0),
        (8.0, 15.0),
        (9.0, 16.0),  # past the last region: its offset still applies
    ],
)
def test_restore_time(time_s: float, expected_s: float) -> None:
    assert restore_time(time_s, SPANS) == expected_s


def test_restore_time_at_a_region_end() -> None:
    assert region_index(2.0, SPANS) == 1
    assert region_index(2.0, SPANS, is_end=True) == 0
    assert restore_time(2.0, SPANS, is_end=True) == 3.0
    assert restore_time(2.2, SPANS, region=0) == 3.2


@dataclass
class FakeWord:
    start: float
    end: float
    word: str
    probability: float = 0.9


@dataclass
class FakeSegment:
    start: float
    end: float
    text: str
    words: list[FakeWord] = field(default_factory=list)
    no_speech_prob: float = 0.1


def test_restore_words_maps_a_word_through_the_region_of_its_middle() -> None:
    # 1.8-2.4 s straddles the end of the first region (2 s); its middle (2.1) is in the second
    segment = FakeSegment(1.5, 2.4, "a b", [FakeWord(1.5, 1.8, " a"), FakeWord(1.8, 2.4, " b")])
    start, end, words = _restore_words(segment, SPANS)
    assert (start, end) == (2.5, 5.4)
    assert [(s, e) for s, e, _ in words] == [(2.5, 2.8), (4.8, 5.4)]


def test_restore_words_without_words_maps_the_segment() -> None:
    assert _restore_words(FakeSegment(0.5, 2.0, "..."), SPANS)[:2] == (1.5, 3.0)


# --------------------------------------------------------------------------- properties


@st.composite
def speech_regions(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Sorted, disjoint regions with a pause of at least one sample between them."""
    lengths = draw(st.lists(st.integers(1, 400_000), min_size=1, max_size=30))
    pauses = draw(st.lists(st.integers(1, 200_000), min_size=len(lengths), max_size=len(lengths)))
    spans, position = [], 0
    for length, pause in zip(lengths, pauses, strict=True):
        position += pause
        spans.append((position, position + length))
        position += length
    return spans


@given(speech_regions(), st.integers(1, 2_000_000))
def test_windows_cover_every_region_once_in_order_and_cut_in_pauses(
    spans: list[tuple[int, int]], limit: int
) -> None:
    windows = plan_windows(spans, max_speech_samples=limit)
    assert [span for window in windows for span in window] == spans
    for window in windows:
        assert len(window) == 1 or sum(e - s for s, e in window) <= limit
    for before, after in itertools.pairwise(windows):
        assert before[-1][1] < after[0][0]  # the cut lies in a pause
        # greedy: the next region did not fit
        assert sum(e - s for s, e in before) + (after[0][1] - after[0][0]) > limit


@given(speech_regions(), st.floats(0.0, 1.0), st.booleans())
def test_restore_time_agrees_with_faster_whisper(
    spans: list[tuple[int, int]], fraction: float, is_end: bool
) -> None:
    speech_s = sum(e - s for s, e in spans) / 16_000
    time_s = round(fraction * speech_s, 2)
    reference = SpeechTimestampsMap([{"start": s, "end": e} for s, e in spans], 16_000)
    assert restore_time(time_s, spans, is_end=is_end) == reference.get_original_time(
        time_s, is_end=is_end
    )


@given(speech_regions(), st.lists(st.floats(0.0, 1.0), min_size=2, max_size=60))
@settings(max_examples=200)
def test_restored_words_stay_sorted_and_inside_the_speech(
    spans: list[tuple[int, int]], cuts: list[float]
) -> None:
    speech_s = sum(e - s for s, e in spans) / 16_000
    times = sorted(math.floor(c * speech_s * 100) / 100 for c in cuts)  # 10 ms steps in the speech
    words = [FakeWord(a, b, "w") for a, b in zip(times[::2], times[1::2], strict=False)]
    _start, _end, restored = _restore_words(FakeSegment(times[0], times[-1], "", words), spans)
    flat = [t for start, end, _ in restored for t in (start, end)]
    assert flat == sorted(flat)
    assert all(spans[0][0] / 16_000 - 0.005 <= t <= spans[-1][1] / 16_000 + 0.005 for t in flat)


# --------------------------------------------------------------------------- the window loop


@dataclass
class FakeInfo:
    language: str
    language_probability: float


class FakeWhisper:
    """Answers each call with one segment spanning the audio it was given."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[Any, FakeInfo]:
        self.calls.append({"samples": audio.shape[0], "first": float(audio[0])} | options)
        length_s = audio.shape[0] / 16_000
        language = options["language"] or "en"
        segment = FakeSegment(0.0, length_s, "x", [FakeWord(0.0, length_s, " x")])
        return iter([segment]), FakeInfo(language, 0.5 if options["language"] is None else 1.0)


def test_windows_are_transcribed_apart_with_the_first_windows_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import faster_whisper.vad

    samples = np.arange(300_000, dtype=np.float32)
    monkeypatch.setattr(
        faster_whisper.vad,
        "get_speech_timestamps",
        lambda audio, options: [{"start": s, "end": e} for s, e in SPANS],
    )
    whisper = FakeWhisper()
    segments, info = _windowed_segments(
        whisper, samples, {"language": None, "beam_size": 5}, window_speech_s=3.0
    )
    found = [(start, end, [(s, e) for s, e, _ in words]) for start, end, words, _ in segments]
    # the first window's one word (0-3 s of its speech) is placed by its middle, in 1-3 s
    assert found == [(1.0, 4.0, [(1.0, 4.0)]), (10.0, 15.0, [(10.0, 15.0)])]
    assert (info.language, info.language_probability) == ("en", 0.5)
    assert [(c["samples"], c["first"], c["language"], c["vad_filter"]) for c in whisper.calls] == [
        (48_000, 16_000.0, None, False),
        (80_000, 160_000.0, "en", False),
    ]


class SlowFirstWhisper(FakeWhisper):
    """Decodes the first window's speech last, so parallel windows finish out of order."""

    def __init__(self, *, fail_at: float | None = None) -> None:
        super().__init__()
        self.first_started = threading.Event()
        self.overlapped = False
        self.fail_at = fail_at

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[Any, FakeInfo]:
        found, info = super().transcribe(audio, **options)
        first = float(audio[0])

        def lazily() -> Any:
            if first == 16_000.0:  # the first window waits until another has started
                self.overlapped = self.first_started.wait(timeout=5)
            else:
                self.first_started.set()
            if first == self.fail_at:
                raise RuntimeError("window failed")
            yield from found

        return lazily(), info


def _regions(monkeypatch: pytest.MonkeyPatch) -> None:
    import faster_whisper.vad

    monkeypatch.setattr(
        faster_whisper.vad,
        "get_speech_timestamps",
        lambda audio, options: [{"start": s, "end": e} for s, e in SPANS],
    )


def test_windows_decoded_at_once_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    _regions(monkeypatch)
    samples = np.arange(300_000, dtype=np.float32)
    options = {"language": None, "beam_size": 5}
    one, _ = _windowed_segments(FakeWhisper(), samples, options, window_speech_s=1.0)
    whisper = SlowFirstWhisper()
    two, info = _windowed_segments(whisper, samples, options, window_speech_s=1.0, workers=2)
    expected = [(1.0, 3.0), (5.0, 6.0), (10.0, 15.0)]
    assert [(start, end) for start, end, *_ in two] == expected
    assert [(start, end) for start, end, *_ in one] == expected
    assert info.language == "en"
    assert whisper.overlapped  # a later window started before the first was done


class DoubtfulWhisper(FakeWhisper):
    """Says the window that starts at 5 s of the recording (80,000) probably holds no speech."""

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[Any, FakeInfo]:
        found, info = super().transcribe(audio, **options)
        doubt = 0.79 if float(audio[0]) == 80_000.0 else 0.2
        return iter([replace(segment, no_speech_prob=doubt) for segment in found]), info


def test_a_second_pass_keeps_only_what_whisper_hears_as_speech(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stretches the speech detector rejected (``spans``) keep no segment Whisper itself
    thinks holds no speech; the first pass keeps faster-whisper's own rule."""
    _regions(monkeypatch)
    samples = np.arange(300_000, dtype=np.float32)
    options = {"language": "en", "beam_size": 5}
    second, _ = _windowed_segments(
        DoubtfulWhisper(), samples, options, window_speech_s=1.0, spans=SPANS
    )
    assert [(start, end) for start, end, *_ in second] == [(1.0, 3.0), (10.0, 15.0)]
    first, _ = _windowed_segments(DoubtfulWhisper(), samples, options, window_speech_s=1.0)
    assert [(start, end) for start, end, *_ in first] == [(1.0, 3.0), (5.0, 6.0), (10.0, 15.0)]
    assert transcribe_module.SECOND_PASS_MAX_NO_SPEECH == 0.6


def test_a_failing_window_raises_and_the_rest_are_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _regions(monkeypatch)
    samples = np.arange(300_000, dtype=np.float32)
    whisper = SlowFirstWhisper(fail_at=80_000.0)
    segments, _ = _windowed_segments(
        whisper, samples, {"language": "en"}, window_speech_s=1.0, workers=2
    )
    with pytest.raises(RuntimeError, match="window failed"):
        list(segments)


@pytest.mark.parametrize(
    ("window_speech_s", "vad_filter", "cpu_threads", "workers"),
    [
        (120.0, True, 2, (1, 2)),
        (120.0, True, 3, (1, 3)),
        (None, True, 2, (2, 1)),
        (120.0, False, 2, (2, 1)),
    ],
)
def test_cpu_cores_decode_windows_side_by_side_one_thread_each(
    monkeypatch: pytest.MonkeyPatch,
    window_speech_s: float | None,
    vad_filter: bool,
    cpu_threads: int,
    workers: tuple[int, int],
) -> None:
    loads: list[tuple[int, int]] = []

    def load(_model: Any, *, cpu_threads: int, num_workers: int, **_: Any) -> FakeWhisper:
        loads.append((cpu_threads, num_workers))
        return FakeWhisper()

    _regions(monkeypatch)
    monkeypatch.setattr(transcribe_module, "load_whisper", load)
    audio = Audio(
        info=None,  # type: ignore[arg-type]
        samples=np.arange(300_000, dtype=np.float32),
        channel_samples=np.arange(300_000, dtype=np.float32)[None],
    )
    transcribe(
        audio,
        model="tiny.en",
        device="cpu",
        cpu_threads=cpu_threads,
        vad_filter=vad_filter,
        window_speech_s=window_speech_s,
    )
    assert loads == [workers]


def test_no_speech_falls_back_to_faster_whispers_own_vad(monkeypatch: pytest.MonkeyPatch) -> None:
    import faster_whisper.vad

    monkeypatch.setattr(faster_whisper.vad, "get_speech_timestamps", lambda audio, options: [])
    whisper = FakeWhisper()
    segments, _info = _windowed_segments(
        whisper, np.ones(32_000, dtype=np.float32), {"language": "de"}, window_speech_s=3.0
    )
    assert [start for start, *_ in segments] == [0.0]
    assert [(c["samples"], c["vad_filter"]) for c in whisper.calls] == [(32_000, True)]


def test_transcribe_module_default_window_is_a_few_minutes() -> None:
    assert 60.0 <= transcribe_module.DEFAULT_WINDOW_SPEECH_S <= 600.0


# --------------------------------------------------------------------------- real speech


@pytest.mark.slow
def test_one_window_gives_faster_whispers_own_words(sample_dir: Path) -> None:
    audio = load_audio(sample_dir / "sample.wav")
    windowed = transcribe(audio, device="cpu")
    whole = transcribe(audio, device="cpu", window_speech_s=None)
    assert windowed == whole


@pytest.mark.slow
def test_real_speech_cut_in_a_pause_keeps_its_words_in_place(sample_dir: Path) -> None:
    call = load_audio(sample_dir / "sample.wav")
    pause = np.zeros(3 * 16_000, np.float32)
    samples = np.concatenate([call.samples, pause, call.samples])
    audio = Audio(info=call.info, samples=samples, channel_samples=samples[None])
    reference = read_stm_text((sample_dir / "sample.stm").read_text())
    words = transcribe(audio, device="cpu", window_speech_s=30.0).words
    starts = [w.start for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start <= w.end <= audio.duration_s + 0.01 for w in words)
    assert not [w for w in words if 30.5 < w.start < 32.5]  # nothing in the middle of the pause
    first = " ".join(w.text for w in words if w.start < 31.5)
    second = " ".join(w.text for w in words if w.start >= 31.5)
    # each window is the call alone: its words score as the call does (18.5 % with base)
    assert word_error_rate(reference, first) <= 0.25
    assert word_error_rate(reference, second) <= 0.25
