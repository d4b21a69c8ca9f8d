"""Speech to text with faster-whisper: word timestamps, VAD filter, CPU or CUDA.

The model comes from :mod:`models` (offline, verified, loaded once per
process). ``transcribe`` materialises faster-whisper's lazy generator at the
stage boundary so the result is a plain :class:`Transcript`.

On CUDA the speech regions found by Silero VAD (on the CPU) are decoded in
batches by faster-whisper's ``BatchedInferencePipeline`` in float16: on one
H200 that transcribed 10 minutes with ``base`` in 2.2 s against 8.9 s
decoding one window after another (issue 10; not measured in this
repository, which has no GPU in CI). On CPU nothing is batched (windows are
decoded side by side instead, below).

On CPU a recording is transcribed in windows of up to two minutes of speech
(:func:`plan_windows`), cut only between the speech regions Silero VAD finds,
so memory stays flat with length: faster-whisper computes the log-mel
features of everything it is given at once, and its STFT intermediates take
about 50 MB per minute of speech (docs/benchmarks.md, "Memory with length").
The windows are decoded side by side, one per core, each on one CTranslate2
thread: a second thread on one window gains almost nothing (57.5 s with one,
57.9 s with two on the 10-minute composite), two windows at once take about
half the time (docs/benchmarks.md, "Windows decoded side by side").
Each window is the same VAD-concatenated audio faster-whisper would decode,
and its times are mapped back exactly as faster-whisper maps them
(:func:`restore_time`), so a recording with less speech than one window gives
the very words of an unwindowed run. Longer ones get slightly different
words: faster-whisper floors the log-mel at 80 dB below the loudest frame
of what it is given, which differs per window, and its 30 s decoding grid
restarts at each cut (measured in docs/benchmarks.md: WER against the truth
within about a point either way).
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from models.loaders import cuda_available, load_whisper
from models.registry import DEFAULT_WHISPER_MODEL, resolve_whisper
from pipeline.blas_threads import single_threaded_blas
from pipeline.types import SAMPLE_RATE_HZ, Audio, Transcript, TranscriptSegment, Word

ProgressCallback = Callable[[float, float], None]
"""Called as ``progress(done_s, total_s)`` while a stage works through the audio."""


DEFAULT_BATCH_SIZE = 16
"""Speech windows decoded at once on CUDA (the batch size measured in issue 10)."""

DEFAULT_WINDOW_SPEECH_S = 120.0
"""Seconds of speech in one window on CPU: ~100 MB of features each, enough windows to share the cores."""

SECOND_PASS_MAX_NO_SPEECH = 0.6
"""Words from stretches the speech detector rejected (``speech_spans_s``) are kept only
where Whisper's own no-speech probability is at most this (its default threshold).
faster-whisper drops a segment only when that probability is high *and* the decoding is
poor; on two seconds of coughs it fell back to sampling and in some runs kept a made-up
sentence ("I'll just walk down the bridge.") at no-speech probability 0.79."""

Decoding = Literal["batched", "sequential"]

Span = tuple[int, int]
"""A speech region as ``(start, end)`` sample indices of the recording, end excluded."""


def choose_device(device: str = "auto") -> str:
    """``cuda`` when asked for, or under ``auto`` when CTranslate2 and torch both see a GPU.

    Whisper runs in CTranslate2 and diarization in torch; ``auto`` picks CUDA
    only when both can use it (:func:`models.loaders.cuda_available`), so one
    session never splits across devices by accident.
    """
    if device != "auto":
        return device
    return "cuda" if cuda_available() else "cpu"


def choose_decoding(device: str, batch_size: int, *, vad_filter: bool = True) -> Decoding:
    """``batched`` on CUDA with a batch size above 1 and the VAD on, else ``sequential``.

    Batching pays on a GPU, which decodes many 30 s windows in the time of
    one; on CPU it would change the transcript (windows cut at speech regions
    and decoded apart) for no measured gain, so the CPU keeps the sequential
    decoder the accuracy numbers were measured with. The batched pipeline cuts
    its windows from the VAD's speech regions, so without the VAD it cannot run.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batched = device == "cuda" and batch_size > 1 and vad_filter
    return "batched" if batched else "sequential"


def choose_compute_type(device: str, compute_type: str = "auto") -> str:
    """int8 on CPU and float16 on CUDA unless the caller chose."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def plan_windows(spans: Sequence[Span], *, max_speech_samples: int) -> tuple[tuple[Span, ...], ...]:
    """Group consecutive speech regions into windows of at most ``max_speech_samples`` of speech.

    Windows are cut only between two regions, i.e. in a pause the VAD heard
    (at least 1.2 s with faster-whisper's defaults: 2 s of silence less 0.4 s
    of padding on each side). A region longer than the limit forms a window
    of its own rather than being cut inside speech.

    Parameters
    ----------
    spans
        Speech regions ``(start, end)`` in samples, sorted and disjoint, as
        ``faster_whisper.vad.get_speech_timestamps`` returns them.
    max_speech_samples
        Most samples of speech in one window (summed over its regions).

    Returns
    -------
    tuple of tuple of Span
        The regions, in order, each in exactly one window.

    Examples
    --------
    >>> plan_windows([(0, 4), (6, 9), (12, 20), (25, 27)], max_speech_samples=8)
    (((0, 4), (6, 9)), ((12, 20),), ((25, 27),))
    """
    if max_speech_samples < 1:
        raise ValueError(f"max_speech_samples must be at least 1, got {max_speech_samples}")
    windows: list[tuple[Span, ...]] = []
    current: list[Span] = []
    speech = 0
    for start, end in spans:
        if current and speech + (end - start) > max_speech_samples:
            windows.append(tuple(current))
            current, speech = [], 0
        current.append((start, end))
        speech += end - start
    if current:
        windows.append(tuple(current))
    return tuple(windows)


def restore_time(
    time_s: float,
    spans: Sequence[Span],
    *,
    region: int | None = None,
    is_end: bool = False,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> float:
    """Map a time in the concatenated speech of ``spans`` back to the recording.

    The same arithmetic as faster-whisper's ``SpeechTimestampsMap`` (1.2.1),
    so windowed and unwindowed runs place words identically: the time is
    moved by the silence before the region it falls in (``region`` forces
    one; ``is_end`` puts a time exactly on a region's end in that region) and
    rounded to 10 ms.

    Examples
    --------
    >>> restore_time(1.5, [(16_000, 48_000), (80_000, 96_000)])  # first region, 1 s of silence
    2.5
    >>> restore_time(2.5, [(16_000, 48_000), (80_000, 96_000)])  # second region, 3 s of silence
    5.5
    """
    if region is None:
        region = region_index(time_s, spans, is_end=is_end, sample_rate_hz=sample_rate_hz)
    silence = spans[region][0] - sum(end - start for start, end in spans[:region])
    return round(silence / sample_rate_hz + time_s, 2)


def region_index(
    time_s: float,
    spans: Sequence[Span],
    *,
    is_end: bool = False,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> int:
    """Index of the region of ``spans`` that a time in their concatenated speech falls in."""
    ends = np.cumsum([end - start for start, end in spans]).tolist()
    sample = int(time_s * sample_rate_hz)
    if is_end and sample in ends:
        return int(ends.index(sample))
    return min(bisect.bisect(ends, sample), len(ends) - 1)


_Restored = tuple[float, float, list[tuple[float, float, Any]], str]
"""A segment as ``(start, end, [(word start, word end, faster-whisper word)], text)``."""


def _as_found(raw: Any) -> _Restored:
    """A faster-whisper segment whose times are already the recording's."""
    words = [(w.start, w.end, w) for w in raw.words or ()]
    return raw.start, raw.end, words, raw.text


def _restore_words(
    raw: Any, spans: Sequence[Span]
) -> tuple[float, float, list[tuple[float, float, Any]]]:
    """A faster-whisper segment's ``(start, end, [(word start, word end, word)])`` in the recording.

    Both ends of a word are mapped through the region of its middle, as
    faster-whisper's ``restore_speech_timestamps`` does.
    """
    words = []
    for word in raw.words or ():
        region = region_index((word.start + word.end) / 2, spans)
        words.append(
            (
                restore_time(word.start, spans, region=region),
                restore_time(word.end, spans, region=region),
                word,
            )
        )
    if words:
        return words[0][0], words[-1][1], words
    return restore_time(raw.start, spans), restore_time(raw.end, spans, is_end=True), words


def _windowed_segments(
    whisper: Any,
    samples: npt.NDArray[np.float32],
    options: dict[str, Any],
    *,
    window_speech_s: float,
    workers: int = 1,
    spans: Sequence[Span] | None = None,
) -> tuple[Iterator[_Restored], Any]:
    """faster-whisper's VAD-filtered transcription, one window of speech regions at a time.

    Returns the segments (start, end, words, text; times in the recording) as
    an iterator in recording order and the first window's ``TranscriptionInfo``
    (language detected there is passed to the later windows, as faster-whisper
    detects it once from the first 30 s of speech). With ``workers`` > 1 that
    many windows are decoded at once, each on its own CTranslate2 replica
    (``WhisperModel(num_workers=...)``): each window's words are the same
    whichever worker decodes it, so the result does not depend on the count.
    ``spans``: the speech regions to transcribe instead of the VAD's; segments
    Whisper thinks hold no speech (:data:`SECOND_PASS_MAX_NO_SPEECH`) are dropped
    from them.
    """
    # faster_whisper.vad is not in the package's __all__; these two names are
    # what WhisperModel.transcribe itself calls, with the same defaults.
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    max_no_speech = 1.0 if spans is None else SECOND_PASS_MAX_NO_SPEECH
    if spans is None:
        found_spans = get_speech_timestamps(samples, VadOptions())
        spans = [(int(c["start"]), int(c["end"])) for c in found_spans]
    if math.isinf(window_speech_s):
        windows: tuple[tuple[Span, ...], ...] = (tuple(spans),)
    else:
        limit = max(1, int(window_speech_s * SAMPLE_RATE_HZ))
        windows = plan_windows(spans, max_speech_samples=limit)
    if not spans:
        # no speech: let faster-whisper decide what that gives (and which language)
        found, info = whisper.transcribe(samples, **options, vad_filter=True)
        return map(_as_found, found), info

    def transcribe_window(
        window: Sequence[Span], language: str | None
    ) -> tuple[Iterator[Any], Any]:
        speech = np.concatenate([samples[start:end] for start, end in window])
        found: Iterator[Any]
        found, window_info = whisper.transcribe(
            speech, **{**options, "language": language}, vad_filter=False
        )
        return found, window_info

    first_segments, info = transcribe_window(windows[0], options["language"])

    def restored(index: int, raws: Iterable[Any]) -> Iterator[_Restored]:
        for raw in raws:
            if raw.no_speech_prob > max_no_speech:
                continue
            start, end, words = _restore_words(raw, windows[index])
            yield start, end, words, raw.text

    def decoded(index: int) -> list[_Restored]:
        raws = first_segments if index == 0 else transcribe_window(windows[index], info.language)[0]
        return list(restored(index, raws))

    if workers <= 1 or len(windows) == 1:
        return itertools.chain.from_iterable(map(decoded, range(len(windows)))), info
    return _in_parallel(decoded, len(windows), workers=workers), info


def _in_parallel(
    decoded: Callable[[int], list[_Restored]], count: int, *, workers: int
) -> Iterator[_Restored]:
    """``decoded(0)``, ..., ``decoded(count - 1)`` on ``workers`` threads, yielded in order.

    At most ``workers`` windows are in memory being decoded at once (the pool
    starts a window only when a thread is free); their segments are kept until
    the earlier windows are done, a few hundred per window at most.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="whisper")
    try:
        for segments in pool.map(decoded, range(count)):
            yield from segments
    finally:
        # after a failure (or an abandoned iterator) the windows not started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def transcribe(
    audio: Audio,
    *,
    model: str = DEFAULT_WHISPER_MODEL,
    language: str | None = None,
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    beam_size: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    vad_filter: bool = True,
    window_speech_s: float | None = DEFAULT_WINDOW_SPEECH_S,
    progress: ProgressCallback | None = None,
    speech_spans_s: Sequence[tuple[float, float]] | None = None,
) -> Transcript:
    """Transcribe a decoded recording with word-level timestamps.

    Parameters
    ----------
    model
        ``base`` (default, multilingual), ``tiny.en``, a local faster-whisper
        directory, or a hub name when hub downloads are allowed.
    language
        ISO code such as ``en``; ``None`` detects it from the first 30 s.
    device, compute_type
        ``auto`` picks CUDA with float16 when available, else CPU with int8.
    cpu_threads
        CPU cores for CTranslate2; 0 uses every core. Windowed (the default on
        CPU) that many windows are decoded at once with one thread each;
        otherwise one decoding uses that many threads.
    batch_size
        Speech windows decoded at once on CUDA (``BatchedInferencePipeline``);
        1 decodes them one after another. Ignored on CPU
        (:func:`choose_decoding`).
    window_speech_s
        On CPU with the VAD on, transcribe this many seconds of speech at a
        time (cut between speech regions, :func:`plan_windows`) so memory does
        not grow with the recording's length; ``None`` (or ``math.inf``)
        hands faster-whisper the whole recording at once.
    progress
        Called with seconds transcribed and total seconds after each segment.
    speech_spans_s
        Transcribe only these ``(start, end)`` stretches, in seconds, instead of
        the VAD's speech regions (decoded one window of them after another, on
        any device): how :mod:`pipeline.transcript_gaps` transcribes speech the
        VAD missed. Their words are kept only where Whisper's no-speech
        probability is at most :data:`SECOND_PASS_MAX_NO_SPEECH`.
    """
    single_threaded_blas()
    resolved = resolve_whisper(model)
    chosen_device = choose_device(device)
    spans = None
    if speech_spans_s is not None:
        spans = [(round(a * SAMPLE_RATE_HZ), round(b * SAMPLE_RATE_HZ)) for a, b in speech_spans_s]
        vad_filter, batch_size = True, 1  # the windowed path, with these spans as its regions
        window_speech_s = window_speech_s or DEFAULT_WINDOW_SPEECH_S
    decoding = choose_decoding(chosen_device, batch_size, vad_filter=vad_filter)
    cores = cpu_threads or (os.cpu_count() or 1)
    # CTranslate2 gains almost nothing from a second thread on one window (docs/benchmarks.md),
    # so on CPU the cores decode that many windows at once, one thread each.
    windowed = decoding == "sequential" and vad_filter and window_speech_s is not None
    workers = cores if windowed else 1
    whisper = load_whisper(
        resolved,
        device=chosen_device,
        compute_type=choose_compute_type(chosen_device, compute_type),
        cpu_threads=cores // workers,
        num_workers=workers,
    )
    options: dict[str, Any] = {
        "language": language,
        "beam_size": beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
    }
    raw_segments: Iterator[_Restored]
    if decoding == "batched":
        from faster_whisper import BatchedInferencePipeline

        # The pipeline holds no weights of its own: wrapping the memoised model is free.
        # It computes features per 30 s chunk already, so its memory does not grow with length.
        batched = BatchedInferencePipeline(model=whisper)
        found, info = batched.transcribe(
            audio.samples, batch_size=batch_size, vad_filter=vad_filter, **options
        )
        raw_segments = map(_as_found, found)
    elif vad_filter and window_speech_s is not None:  # windowed (batched went first)
        raw_segments, info = _windowed_segments(
            whisper,
            audio.samples,
            options,
            window_speech_s=window_speech_s,
            workers=workers,
            spans=spans,
        )
    else:
        found, info = whisper.transcribe(audio.samples, vad_filter=vad_filter, **options)
        raw_segments = map(_as_found, found)
    segments: list[TranscriptSegment] = []
    for start, end, raw_words, text in raw_segments:
        words = tuple(
            Word(
                start=round(float(word_start), 3),
                end=round(float(word_end), 3),
                text=w.word.strip(),
                probability=round(float(w.probability), 4),
            )
            for word_start, word_end, w in raw_words
            if w.word.strip()
        )
        segments.append(
            TranscriptSegment(start=float(start), end=float(end), text=text.strip(), words=words)
        )
        if progress is not None:
            progress(min(float(end), audio.duration_s), audio.duration_s)
    if progress is not None:
        progress(audio.duration_s, audio.duration_s)
    return Transcript(
        language=info.language,
        language_probability=float(info.language_probability),
        segments=tuple(segments),
        model=resolved.id,
    )
