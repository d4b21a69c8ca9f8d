"""Speech to text with faster-whisper: word timestamps, VAD filter, CPU or CUDA.

The model comes from :mod:`models` (offline, verified, loaded once per
process). ``transcribe`` materialises faster-whisper's lazy generator at the
stage boundary so the result is a plain :class:`Transcript`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from models.loaders import cuda_available, load_whisper
from models.registry import DEFAULT_WHISPER_MODEL, resolve_whisper
from pipeline.types import Audio, Transcript, TranscriptSegment, Word

ProgressCallback = Callable[[float, float], None]
"""Called as ``progress(done_s, total_s)`` while a stage works through the audio."""


def choose_device(device: str = "auto") -> str:
    """``cuda`` when asked for or available under ``auto``, else ``cpu``."""
    if device != "auto":
        return device
    return "cuda" if cuda_available() else "cpu"


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
    raw_segments, info = whisper.transcribe(
        audio.samples,
        language=language,
        beam_size=beam_size,
        word_timestamps=True,
        vad_filter=vad_filter,
        condition_on_previous_text=False,
    )
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
