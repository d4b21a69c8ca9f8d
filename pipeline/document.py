"""The ``session.json`` document: scoring, building it, reading it back, rescoring it.

Nothing here runs a model or imports torch: correcting roles (``swap_roles``,
``rescore_document``) re-runs roles → measures → evidence from a stored
document, fast enough for a web request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.channels import CHANNEL_LABELS
from pipeline.diarization_quality import diarization_block, read_diarization_block
from pipeline.evidence import Evidence, evaluate
from pipeline.measures import SessionMetrics, compute_metrics
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.roles import RoleAssignment, RoleHint, assign_roles, label_turns, label_utterances
from pipeline.transcript_gaps import coverage_warning
from pipeline.types import Diarization, DiarizationQuality, SpeakerWord, Turn, Utterance
from pipeline.voice_levels import quiet_voice

SCHEMA_VERSION = "2.0"
"""2.0: calibrated score, criteria with norms, reliability, MI behaviour codes."""

Channel = Literal["left", "right"]


@dataclass(frozen=True)
class Scored:
    """Roles, measures and the evidence verdict for one session."""

    roles: RoleAssignment
    metrics: SessionMetrics
    evidence: Evidence


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


def _coverage(quality: DiarizationQuality | None) -> tuple[str, ...]:
    """The warning that much of the speech has no words, if it applies."""
    share = None if quality is None else quality.measures.get("speech_without_words")
    warning = coverage_warning(share)
    return () if warning is None else (warning,)


def score(
    turns: tuple[Turn, ...],
    utterances: tuple[Utterance, ...],
    *,
    duration_s: float,
    hint: RoleHint = RoleHint(),
    warnings: tuple[str, ...] = (),
    quality: DiarizationQuality | None = None,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    language: str | None = None,
) -> Scored:
    """Roles → measures → evidence. Fast: no speech model runs here (the MI coder is tiny).

    ``language``: the transcript's; outside the coder's languages there is no
    score and no verdict (:func:`pipeline.evidence.uncoded_language`).
    """
    roles = assign_roles(turns, utterances, hint=hint)
    warnings = (*warnings, *_coverage(quality))
    metrics = compute_metrics(
        label_turns(turns, roles),
        label_utterances(utterances, roles),
        duration_s=duration_s,
        config=config,
    )
    quiet = None
    if quality is not None:
        quiet = quiet_voice(quality.measures, roles.role_of, min_gap_db=config.quiet_voice_gap_db)
    evidence = evaluate(
        metrics,
        role_confidence=roles.confidence,
        diarization_quality=None if quality is None else quality.level,
        diarization_cues=() if quality is None else quality.cues,
        warnings=warnings + roles.warnings,
        config=config,
        language=language,
        quiet=quiet,
    )
    return Scored(roles, metrics, evidence)


def build_document(
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
        "warnings": [
            *diarization.warnings,
            *_coverage(diarization.quality),
            *scored.roles.warnings,
        ],
        "diarization": diarization_block(diarization),
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
    # documents written before the ``diarization`` block have no quality or stereo decision
    quality, channels = read_diarization_block(document.get("diarization"))
    diarization = Diarization(
        turns=_turns(document["segments"]),
        exclusive=_turns(document["exclusive_segments"]),
        model=document["models"]["diarization"],
        warnings=quality.cues if quality is not None and quality.level != "good" else (),
        quality=quality,
        channels=channels,
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
        warnings=diarization.warnings,
        quality=diarization.quality,
        config=config,
        language=document["language"],
    )
    return build_document(
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
