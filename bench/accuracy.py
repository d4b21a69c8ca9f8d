"""Accuracy against known truth: the real sample call and the synthesized sessions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.data import truth_sessions
from bench.truth import reference_turns
from pipeline.accuracy import (
    diarization_error_rate,
    pyannote_sample_dir,
    read_rttm,
    read_stm_text,
    word_error_rate,
)
from pipeline.audio import load_audio
from pipeline.diarize import diarize
from pipeline.session import SpeechOptions, analyze_speech, role_hint, score
from pipeline.transcribe import transcribe
from pipeline.types import Turn

MATCH_TOLERANCE_S = 1.0


def sample_call_accuracy(
    diarization_configs: Mapping[str, Mapping[str, Any]],
    transcribe_configs: Mapping[str, Mapping[str, Any]],
) -> dict[str, float]:
    """DER per diarization config and WER per transcription config on the real call."""
    sample = pyannote_sample_dir()
    audio = load_audio(sample / "sample.wav")
    reference = read_rttm((sample / "sample.rttm").read_text())
    text = read_stm_text((sample / "sample.stm").read_text())
    results = {}
    for name, cfg in diarization_configs.items():
        hypothesis = diarize(audio, **cfg).turns
        results[f"DER, {name}"] = diarization_error_rate(
            reference, hypothesis, duration_s=audio.duration_s
        )
    for name, cfg in transcribe_configs.items():
        words = transcribe(audio, **cfg).words
        results[f"WER, {name}"] = word_error_rate(text, " ".join(w.text for w in words))
    return results


def _overlap(a: Turn, b: Turn) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def truth_role_of_speakers(turns: Sequence[Turn], truth: Mapping[str, Any]) -> dict[str, str]:
    """Map each diarized speaker to the truth role it overlaps most."""
    reference = reference_turns(truth)
    mapping = {}
    for speaker in {t.speaker for t in turns}:
        mine = [t for t in turns if t.speaker == speaker]
        totals: dict[str, float] = {}
        for ref in reference:
            totals[ref.speaker] = totals.get(ref.speaker, 0.0) + sum(_overlap(t, ref) for t in mine)
        mapping[speaker] = max(totals, key=lambda role: totals[role])
    return mapping


def _matched(
    found: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]], key: str
) -> int:
    """How many truth events have a found event of the same ``key`` within the tolerance."""
    used: set[int] = set()
    hits = 0
    for event in truth:
        for index, candidate in enumerate(found):
            if (
                index not in used
                and candidate[key] == event[key]
                and abs(candidate["start"] - event["start"]) <= MATCH_TOLERANCE_S
            ):
                used.add(index)
                hits += 1
                break
    return hits


def role_accuracy_table() -> tuple[list[list[str]], dict[str, Any]]:
    """Roles, talk share, interruptions and backchannels on each synthesized session."""
    rows = []
    roles_right = share_errors = 0.0
    found_i = truth_i = matched_i = 0
    truth_b = matched_b = 0
    sessions = truth_sessions()
    for session in sessions:
        result = analyze_speech(session.audio, options=SpeechOptions(**session.options))
        hint = role_hint(counselor_channel=session.options.get("counselor_channel"))
        scored = score(
            result.diarization.turns,
            result.utterances,
            duration_s=result.audio.duration_s,
            hint=hint,
        )
        truth_roles = truth_role_of_speakers(result.diarization.turns, session.truth)
        right = (
            scored.roles.counselor is not None
            and truth_roles.get(scored.roles.counselor) == "counselor"
        )
        metrics = scored.metrics.to_dict()
        share_error = abs(metrics["client"]["share"] - session.truth["client_share"])
        events = [e for e in metrics["interruptions"]["events"] if e["kind"] == "interruption"]
        truth_events = session.truth["interruptions"]
        hits = _matched(events, truth_events, "interrupter")
        backchannels = metrics["backchannels"]["events"]
        truth_backchannels = session.truth["backchannels"]
        bc_hits = _matched(backchannels, truth_backchannels, "role")
        roles_right += right
        share_errors += share_error
        found_i += len(events)
        truth_i += len(truth_events)
        matched_i += hits
        truth_b += len(truth_backchannels)
        matched_b += bc_hits
        rows.append(
            [
                session.name,
                f"{'right' if right else 'WRONG'} ({scored.roles.method}, {scored.roles.confidence:.2f})",
                f"{metrics['client']['share']:.3f} ({session.truth['client_share']:.3f})",
                f"{share_error:.3f}",
                f"{hits}/{len(truth_events)}",
                str(len(events) - hits),
                f"{bc_hits}/{len(truth_backchannels)}",
            ]
        )
    summary = {
        "sessions": str(len(sessions)),
        "role accuracy": roles_right / len(sessions),
        "mean talk-share abs error": share_errors / len(sessions),
        "interruption precision": matched_i / found_i if found_i else 1.0,
        "interruption recall": matched_i / truth_i if truth_i else 1.0,
        "backchannel recall": matched_b / truth_b if truth_b else 1.0,
    }
    return rows, summary
