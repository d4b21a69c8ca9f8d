"""One recording end to end: decode → transcribe → diarize → attribute, and ``session.json``.

``analyze_speech`` runs the model stages; ``session_document`` turns their
results into the JSON document that is the contract between analysis and
everything that reads it (reports, cohort tables, the web app, users' scripts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.attribute import build_utterances
from pipeline.audio import DEFAULT_MAX_DURATION_S, load_audio
from pipeline.diarize import (
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_SEGMENTATION_BATCH_SIZE,
    DEFAULT_SEGMENTATION_STEP,
    diarize,
)
from pipeline.transcribe import transcribe
from pipeline.types import AudioInfo, Diarization, SpeakerWord, Transcript, Utterance

SCHEMA_VERSION = "1.0"

StageProgress = Callable[[str, float, float], None]
"""Called as ``progress(stage, done_s, total_s)``."""


@dataclass(frozen=True)
class SpeechOptions:
    """Settings of the model stages; part of every cache key."""

    model: str = "base"
    language: str | None = None
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    num_speakers: int | None = 2
    min_speakers: int | None = None
    max_speakers: int | None = None
    pipeline_dir: str | None = None
    segmentation_step: float = DEFAULT_SEGMENTATION_STEP
    segmentation_batch_size: int = DEFAULT_SEGMENTATION_BATCH_SIZE
    embedding_batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE
    max_duration_s: float = DEFAULT_MAX_DURATION_S


@dataclass(frozen=True)
class SpeechResult:
    """What the model stages produce for one recording."""

    audio: AudioInfo
    transcript: Transcript
    diarization: Diarization
    words: tuple[SpeakerWord, ...]
    utterances: tuple[Utterance, ...]
    options: SpeechOptions = field(default_factory=SpeechOptions)


def _ignore(_stage: str, _done: float, _total: float) -> None:
    """Default progress callback."""


def analyze_speech(
    path: str | Path, *, options: SpeechOptions = SpeechOptions(), progress: StageProgress = _ignore
) -> SpeechResult:
    """Decode, transcribe, diarize and attribute one recording."""
    audio = load_audio(path, max_duration_s=options.max_duration_s)
    progress("decode", audio.duration_s, audio.duration_s)
    transcript = transcribe(
        audio,
        model=options.model,
        language=options.language,
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
        progress=partial(progress, "transcribe"),
    )
    diarization = diarize(
        audio,
        num_speakers=options.num_speakers,
        min_speakers=options.min_speakers,
        max_speakers=options.max_speakers,
        pipeline_dir=options.pipeline_dir,
        device=options.device,
        segmentation_step=options.segmentation_step,
        segmentation_batch_size=options.segmentation_batch_size,
        embedding_batch_size=options.embedding_batch_size,
        progress=partial(progress, "diarize"),
    )
    words, utterances = build_utterances(transcript, diarization.exclusive)
    progress("attribute", audio.duration_s, audio.duration_s)
    return SpeechResult(audio.info, transcript, diarization, words, utterances, options)


def session_document(result: SpeechResult) -> dict[str, Any]:
    """The ``session.json`` document for a speech result (times in seconds, ms precision)."""
    info = result.audio
    return {
        "schema_version": SCHEMA_VERSION,
        "audio": {
            "file_name": Path(info.path).name,
            "sha256": info.sha256,
            "duration_s": round(info.duration_s, 3),
            "original_sample_rate_hz": info.original_sample_rate_hz,
            "channels": info.channels,
            "container": info.container,
            "codec": info.codec,
        },
        "models": {"transcription": result.transcript.model, "diarization": result.diarization.model},
        "settings": asdict(result.options),
        "language": result.transcript.language,
        "speakers": list(result.diarization.speakers),
        "segments": [
            {"start": t.start, "end": t.end, "speaker": t.speaker} for t in result.diarization.turns
        ],
        "exclusive_segments": [
            {"start": t.start, "end": t.end, "speaker": t.speaker}
            for t in result.diarization.exclusive
        ],
        "words": [
            {
                "start": w.start,
                "end": w.end,
                "text": w.text,
                "speaker": w.speaker,
                "probability": w.probability,
            }
            for w in result.words
        ],
        "utterances": [
            {"start": u.start, "end": u.end, "speaker": u.speaker, "text": u.text}
            for u in result.utterances
        ],
        "warnings": list(result.diarization.warnings),
    }
