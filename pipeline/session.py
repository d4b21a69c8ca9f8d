"""One recording end to end, and ``session.json``, the contract every reader relies on.

``analyze_speech`` runs the model stages (decode → transcribe → diarize →
attribute, plus the enrollment comparison when asked); ``score`` runs the
cheap stages (roles → measures → evidence) on their results; and
``session_document`` writes both into one versioned JSON document.

``rescore_document`` re-runs only roles → measures → evidence from a stored
document, so correcting roles never runs a model again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pipeline.attribute import build_utterances
from pipeline.audio import DEFAULT_MAX_DURATION_S, load_audio
from pipeline.channels import CHANNEL_LABELS, diarize_by_channel
from pipeline.diarize import (
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_SEGMENTATION_BATCH_SIZE,
    DEFAULT_SEGMENTATION_STEP,
    diarize,
)
from pipeline.evidence import Evidence, evaluate
from pipeline.measures import SessionMetrics, compute_metrics
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.roles import RoleAssignment, RoleHint, assign_roles, label_turns, label_utterances
from pipeline.transcribe import choose_device, transcribe
from pipeline.types import Audio, AudioInfo, Diarization, SpeakerWord, Transcript, Turn, Utterance

SCHEMA_VERSION = "1.0"

StageProgress = Callable[[str, float, float], None]
"""Called as ``progress(stage, done_s, total_s)``."""

Channel = Literal["left", "right"]


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
    counselor_channel: Channel | None = None
    """Diarize a stereo recording by channel energy; this channel is the counselor."""
    enrollment: str | None = None
    """A recording of the counselor's voice alone, to find them by voice."""


@dataclass(frozen=True)
class SpeechResult:
    """What the model stages produce for one recording."""

    audio: AudioInfo
    transcript: Transcript
    diarization: Diarization
    words: tuple[SpeakerWord, ...]
    utterances: tuple[Utterance, ...]
    options: SpeechOptions = field(default_factory=SpeechOptions)
    enrollment_similarities: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Scored:
    """Roles, measures and the evidence verdict for one session."""

    roles: RoleAssignment
    metrics: SessionMetrics
    evidence: Evidence


def _ignore(_stage: str, _done: float, _total: float) -> None:
    """Default progress callback."""


def transcribe_with(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> Transcript:
    """The transcription stage with a session's settings."""
    return transcribe(
        audio,
        model=options.model,
        language=options.language,
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
        progress=partial(progress, "transcribe"),
    )


def diarize_with(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> Diarization:
    """The diarization stage with a session's settings: by channel energy or by pyannote."""
    if options.counselor_channel is not None:
        diarization = diarize_by_channel(audio)
        progress("diarize", audio.duration_s, audio.duration_s)
        return diarization
    return diarize(
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


def enrollment_with(
    audio: Audio, diarization: Diarization, options: SpeechOptions
) -> dict[str, float] | None:
    """Each speaker's voice similarity to the enrollment recording, when one is given."""
    if options.enrollment is None:
        return None
    from pipeline.enroll import enrollment_similarities

    return enrollment_similarities(
        audio,
        diarization.exclusive,
        diarization.speakers,
        options.enrollment,
        device=choose_device(options.device),
    )


def analyze_speech(
    path: str | Path,
    *,
    options: SpeechOptions = SpeechOptions(),
    progress: StageProgress = _ignore,
) -> SpeechResult:
    """Decode, transcribe, diarize and attribute one recording."""
    audio = load_audio(path, max_duration_s=options.max_duration_s)
    progress("decode", audio.duration_s, audio.duration_s)
    transcript = transcribe_with(audio, options, progress=progress)
    diarization = diarize_with(audio, options, progress=progress)
    words, utterances = build_utterances(transcript, diarization.exclusive)
    similarities = enrollment_with(audio, diarization, options)
    progress("attribute", audio.duration_s, audio.duration_s)
    return SpeechResult(
        audio.info, transcript, diarization, words, utterances, options, similarities
    )


def role_hint(
    *,
    counselor: str | None = None,
    counselor_first: bool = False,
    counselor_channel: Channel | None = None,
    similarities: Mapping[str, float] | None = None,
) -> RoleHint:
    """The role hint implied by the user's options (at most one is expected)."""
    if counselor is not None:
        return RoleHint("explicit", counselor=counselor)
    if counselor_channel is not None:
        return RoleHint(
            "channel", counselor=CHANNEL_LABELS[("left", "right").index(counselor_channel)]
        )
    if counselor_first:
        return RoleHint("first-speaker")
    if similarities is not None:
        return RoleHint("enrollment", similarities=similarities)
    return RoleHint()


def score(
    turns: tuple[Turn, ...],
    utterances: tuple[Utterance, ...],
    *,
    duration_s: float,
    hint: RoleHint = RoleHint(),
    warnings: tuple[str, ...] = (),
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> Scored:
    """Roles → measures → evidence. Pure and fast: no model runs here."""
    roles = assign_roles(turns, utterances, hint=hint)
    metrics = compute_metrics(
        label_turns(turns, roles),
        label_utterances(utterances, roles),
        duration_s=duration_s,
        config=config,
    )
    evidence = evaluate(
        metrics, role_confidence=roles.confidence, warnings=warnings + roles.warnings, config=config
    )
    return Scored(roles, metrics, evidence)


def analyze_document(
    path: str | Path,
    *,
    options: SpeechOptions = SpeechOptions(),
    counselor: str | None = None,
    counselor_first: bool = False,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    progress: StageProgress = _ignore,
) -> dict[str, Any]:
    """One recording end to end: model stages, then roles → measures → evidence, as a document.

    This is what ``session-analyzer analyze`` and the web app run; the Prefect
    flow runs the same stages as separate, cached tasks.
    """
    result = analyze_speech(path, options=options, progress=progress)
    hint = role_hint(
        counselor=counselor,
        counselor_first=counselor_first,
        counselor_channel=options.counselor_channel,
        similarities=result.enrollment_similarities,
    )
    scored = score(
        result.diarization.turns,
        result.utterances,
        duration_s=result.audio.duration_s,
        hint=hint,
        warnings=result.diarization.warnings,
        config=config,
    )
    return session_document(result, scored, config=config)


def _round(value: float) -> float:
    return round(value, 3)


def session_document(
    result: SpeechResult, scored: Scored, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> dict[str, Any]:
    """The ``session.json`` document (times in seconds, millisecond precision)."""
    info = result.audio
    return _document(
        audio={
            "file_name": Path(info.path).name,
            "sha256": info.sha256,
            "duration_s": _round(info.duration_s),
            "original_sample_rate_hz": info.original_sample_rate_hz,
            "channels": info.channels,
            "container": info.container,
            "codec": info.codec,
        },
        models={"transcription": result.transcript.model, "diarization": result.diarization.model},
        settings=asdict(result.options),
        language=result.transcript.language,
        diarization=result.diarization,
        utterances=result.utterances,
        scored=scored,
        config=config,
    )


def _document(
    *,
    audio: dict[str, Any],
    models: dict[str, Any],
    settings: dict[str, Any],
    language: str,
    diarization: Diarization,
    utterances: tuple[Utterance, ...],
    scored: Scored,
    config: MetricsConfig,
) -> dict[str, Any]:
    role = scored.roles.role_of
    ranges: list[list[int]] = []
    index = 0
    for utterance in utterances:
        ranges.append([index, index + len(utterance.words)])
        index += len(utterance.words)
    return {
        "schema_version": SCHEMA_VERSION,
        "audio": audio,
        "models": models,
        "settings": settings,
        "metrics_config": config.to_dict(),
        "language": language,
        "speakers": list(diarization.speakers),
        "roles": scored.roles.to_dict(),
        "segments": [
            {"start": t.start, "end": t.end, "speaker": t.speaker, "role": role(t.speaker)}
            for t in diarization.turns
        ],
        "exclusive_segments": [
            {"start": t.start, "end": t.end, "speaker": t.speaker, "role": role(t.speaker)}
            for t in diarization.exclusive
        ],
        "words": [
            {
                "start": w.start,
                "end": w.end,
                "text": w.text,
                "speaker": w.speaker,
                "role": role(w.speaker),
                "probability": w.probability,
            }
            for u in utterances
            for w in u.words
        ],
        "utterances": [
            {
                "start": u.start,
                "end": u.end,
                "speaker": u.speaker,
                "role": role(u.speaker),
                "text": u.text,
                "word_range": word_range,
            }
            for u, word_range in zip(utterances, ranges, strict=True)
        ],
        "metrics": scored.metrics.to_dict(),
        "evidence": scored.evidence.to_dict(),
        "warnings": list(diarization.warnings) + list(scored.roles.warnings),
    }


def _turns(rows: list[dict[str, Any]]) -> tuple[Turn, ...]:
    return tuple(Turn(r["start"], r["end"], r["speaker"]) for r in rows)


def speech_from_document(
    document: Mapping[str, Any],
) -> tuple[Diarization, tuple[Utterance, ...]]:
    """The diarization and utterances stored in a ``session.json`` document."""
    words = [
        SpeakerWord(w["start"], w["end"], w["text"], w.get("probability", 1.0), w["speaker"])
        for w in document["words"]
    ]
    utterances = tuple(
        Utterance(u["start"], u["end"], u["speaker"], tuple(words[slice(*u["word_range"])]))
        for u in document["utterances"]
    )
    diarization = Diarization(
        turns=_turns(document["segments"]),
        exclusive=_turns(document["exclusive_segments"]),
        model=document["models"]["diarization"],
    )
    return diarization, utterances


def rescore_document(
    document: Mapping[str, Any],
    *,
    hint: RoleHint,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> dict[str, Any]:
    """Re-run roles → measures → evidence on a stored document, e.g. after a role correction."""
    diarization, utterances = speech_from_document(document)
    scored = score(
        diarization.turns,
        utterances,
        duration_s=document["audio"]["duration_s"],
        hint=hint,
        config=config,
    )
    return _document(
        audio=dict(document["audio"]),
        models=dict(document["models"]),
        settings=dict(document["settings"]),
        language=document["language"],
        diarization=diarization,
        utterances=utterances,
        scored=scored,
        config=config,
    )


def swap_roles(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with counselor and client exchanged (measures recomputed)."""
    roles = document["roles"]
    if roles["client"] is None:
        raise ValueError("only one speaker has a role; name the counselor explicitly instead")
    return rescore_document(document, hint=RoleHint("explicit", counselor=roles["client"]))
