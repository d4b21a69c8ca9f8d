"""Speech to text with faster-whisper: word timestamps, VAD filter, CPU or CUDA.

The model comes from :mod:`models` (offline, verified, loaded once per
process). ``transcribe`` materialises faster-whisper's lazy generator at the
stage boundary so the result is a plain :class:`Transcript`.

On CUDA the speech regions found by Silero VAD (on the CPU) are decoded in
batches by faster-whisper's ``BatchedInferencePipeline`` in float16: on one
H200 that transcribed 10 minutes with ``base`` in 2.2 s against 8.9 s
decoding one window after another (issue 10; not measured in this
repository, which has no GPU in CI). On CPU, decoding stays sequential: the
CPU results, and the accuracy bounds set on them, do not change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from models.loaders import cuda_available, load_whisper
from models.registry import DEFAULT_WHISPER_MODEL, resolve_whisper
from pipeline.types import Audio, Transcript, TranscriptSegment, Word

ProgressCallback = Callable[[float, float], None]
"""Called as ``progress(done_s, total_s)`` while a stage works through the audio."""


DEFAULT_BATCH_SIZE = 16
"""Speech windows decoded at once on CUDA (the batch size measured in issue 10)."""

Decoding = Literal["batched", "sequential"]


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
    progress: ProgressCallback | None = None,
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
        CTranslate2 threads on CPU; 0 uses every core.
    batch_size
        Speech windows decoded at once on CUDA (``BatchedInferencePipeline``);
        1 decodes them one after another. Ignored on CPU
        (:func:`choose_decoding`).
    progress
        Called with seconds transcribed and total seconds after each segment.
    """
    resolved = resolve_whisper(model)
    chosen_device = choose_device(device)
    whisper = load_whisper(
        resolved,
        device=chosen_device,
        compute_type=choose_compute_type(chosen_device, compute_type),
        cpu_threads=cpu_threads or (os.cpu_count() or 1),
    )
    options: dict[str, Any] = {
        "language": language,
        "beam_size": beam_size,
        "word_timestamps": True,
        "vad_filter": vad_filter,
        "condition_on_previous_text": False,
    }
    if choose_decoding(chosen_device, batch_size, vad_filter=vad_filter) == "batched":
        from faster_whisper import BatchedInferencePipeline

        # The pipeline holds no weights of its own: wrapping the memoised model is free.
        batched = BatchedInferencePipeline(model=whisper)
        raw_segments, info = batched.transcribe(audio.samples, batch_size=batch_size, **options)
    else:
        raw_segments, info = whisper.transcribe(audio.samples, **options)
    segments: list[TranscriptSegment] = []
    for raw in raw_segments:
        words = tuple(
            Word(
                start=round(float(w.start), 3),
                end=round(float(w.end), 3),
                text=w.word.strip(),
                probability=round(float(w.probability), 4),
            )
            for w in raw.words or ()
            if w.word.strip()
        )
        segments.append(
            TranscriptSegment(
                start=float(raw.start), end=float(raw.end), text=raw.text.strip(), words=words
            )
        )
        if progress is not None:
            progress(min(float(raw.end), audio.duration_s), audio.duration_s)
    if progress is not None:
        progress(audio.duration_s, audio.duration_s)
    return Transcript(
        language=info.language,
        language_probability=float(info.language_probability),
        segments=tuple(segments),
        model=resolved.id,
    )
