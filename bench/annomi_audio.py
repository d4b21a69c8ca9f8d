"""The verdict from audio against the experts: voiced AnnoMI transcripts, end to end.

Usage::

    python scripts/voice_annomi.py AnnoMI-full.csv VOICES_DIR --out DIR   # once
    python -m bench.annomi_audio --folder DIR [--cache DIR] [--json FILE] [--condition NAME]

For every voiced transcript in ``DIR`` (``*.truth.json`` with an ``annomi``
block) it runs the product's pipeline without orchestration (decode,
transcribe, diarize, roles, measures, evidence: what ``session-analyzer
analyze`` computes) and sets the verdict beside the experts' quality label and
beside the band the transcript's *text* gets from the same coder and norms.
It also reports what the audio path changed on the way: DER against the
placed segments, word error rate against the spoken text, the client's share
of talk time against the truth, the diarization check and the role confidence.

A transcript voiced with ``--stereo`` is run twice, as its mono mix and as
its stereo recording (each party on its own channel, split automatically),
one row each in that order (``--condition`` degrades the mix: both rows are then
mono copies).

``--condition`` first degrades every recording as a telephone or codec would
(:data:`bench.degraded.CONDITIONS`: 8 kHz PCM, G.711, AMR-NB, low-bitrate
Opus, the noisy 300-3400 Hz band), so the same sessions can be judged as
phone calls.

A *confident wrong verdict* is ``yes`` for a session the experts rated low,
or ``no`` for one they rated high: the failure the product must not have.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.degraded import CONDITIONS_BY_NAME, degrade
from bench.events import Case, analyzed, cases
from bench.truth import reference_turns
from pipeline.accuracy import diarization_error_rate, word_error_rate, words_text
from pipeline.audio import load_audio
from pipeline.document import score
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.session import SpeechResult, role_hint

WRONG = {"low": "yes", "high": "no"}
"""The confident verdict that contradicts each expert quality label."""


@dataclass(frozen=True)
class Outcome:
    """One voiced transcript: the experts' label, the text's band, and what the audio gave."""

    name: str
    transcript_id: int
    reserved: bool
    mi_quality: str
    text_score: float | None
    text_band: str | None
    verdict: str
    audio_score: float | None
    audio_band: str | None
    blockers: tuple[str, ...]
    diarization_quality: str | None
    role_confidence: float
    client_share: float | None
    truth_client_share: float
    der: float
    wer: float
    duration_s: float

    @property
    def confidently_wrong(self) -> bool:
        return self.verdict == WRONG[self.mi_quality]


def outcome(
    case: Case, result: SpeechResult, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> Outcome:
    """Score ``result`` as the product does and compare it with ``case``'s truth."""
    truth = case.truth
    scored = score(
        result.diarization.turns,
        result.utterances,
        duration_s=result.audio.duration_s,
        hint=role_hint(similarities=result.enrollment_similarities),
        warnings=result.diarization.warnings,
        quality=result.diarization.quality,
        config=config,
        language=result.transcript.language,
    )
    evidence = scored.evidence
    reference = reference_turns(truth)
    spoken = " ".join(s["text"] for s in sorted(truth["segments"], key=lambda s: s["start"]))
    annomi: Mapping[str, Any] = truth["annomi"]
    return Outcome(
        name=case.name,
        transcript_id=int(annomi["transcript_id"]),
        reserved=bool(annomi["reserved"]),
        mi_quality=str(annomi["mi_quality"]),
        text_score=annomi["text_score"],
        text_band=annomi["text_band"],
        verdict=evidence.client_led,
        audio_score=evidence.score,
        audio_band=evidence.score_band,
        blockers=evidence.reliability.blockers,
        diarization_quality=evidence.reliability.diarization_quality,
        role_confidence=evidence.reliability.role_confidence,
        client_share=scored.metrics.client.share,
        truth_client_share=float(truth["client_share"]),
        der=diarization_error_rate(
            reference, result.diarization.turns, duration_s=result.audio.duration_s
        ),
        wer=word_error_rate(spoken, words_text(result.words)),
        duration_s=result.audio.duration_s,
    )


def _f(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(outcomes: Sequence[Outcome]) -> str:
    """A markdown table, one row per transcript."""
    lines = [
        "| transcript | experts | text score (band) | audio score (band) | verdict | "
        "check | role conf. | client share (truth) | DER | WER |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        wrong = " **wrong**" if o.confidently_wrong else ""
        lines.append(
            f"| {o.transcript_id}{'' if o.reserved else ' (fit)'} | {o.mi_quality} | "
            f"{_f(o.text_score)} ({o.text_band or '—'}) | {_f(o.audio_score)} "
            f"({o.audio_band or '—'}) | {o.verdict}{wrong} | {o.diarization_quality or '—'} | "
            f"{o.role_confidence:.2f} | {_f(o.client_share)} ({o.truth_client_share:.2f}) | "
            f"{o.der:.1%} | {o.wer:.1%} |"
        )
    return "\n".join(lines)


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts that answer: how often is the audio verdict confident, right, or wrong?"""
    confident = [o for o in outcomes if o.verdict in ("yes", "no")]
    same_band = [o for o in outcomes if o.audio_band is not None and o.audio_band == o.text_band]
    score_changes = [
        abs(o.audio_score - o.text_score)
        for o in outcomes
        if o.audio_score is not None and o.text_score is not None
    ]
    share_errors = [
        abs(o.client_share - o.truth_client_share) for o in outcomes if o.client_share is not None
    ]
    return {
        "sessions": len(outcomes),
        "confident": len(confident),
        "confident_right": sum(not o.confidently_wrong for o in confident),
        "confident_wrong": sum(o.confidently_wrong for o in confident),
        "inconclusive": len(outcomes) - len(confident),
        "blocked": sum(bool(o.blockers) for o in outcomes),
        "audio_band_equals_text_band": len(same_band),
        "mean_abs_score_change": _mean(score_changes),
        "mean_client_share_error": _mean(share_errors),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def run(
    folder: Path,
    *,
    cache_dir: Path | None = None,
    condition: str = "clean",
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> list[Outcome]:
    """Every voiced transcript in ``folder``, in name order, degraded by ``condition``."""
    chosen = [case for case in cases(folder) if "annomi" in case.truth]
    with tempfile.TemporaryDirectory() as tmp:
        if condition != "clean":
            chosen = [
                replace(
                    case,
                    path=degrade(
                        load_audio(case.path).samples,
                        CONDITIONS_BY_NAME[condition],
                        Path(tmp),
                        stem=case.name,
                    ),
                )
                for case in chosen
            ]
        return [
            outcome(case, analyzed(case, cache_dir=cache_dir), config=config) for case in chosen
        ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True, help="scripts/voice_annomi.py --out")
    parser.add_argument("--cache", type=Path, help="keep model-stage results here between runs")
    parser.add_argument("--json", type=Path, help="also write every outcome here")
    parser.add_argument(
        "--condition",
        choices=list(CONDITIONS_BY_NAME),
        default="clean",
        help="degrade each recording first (bench.degraded); default: as voiced",
    )
    parser.add_argument(
        "--score-margin-logit",
        type=float,
        default=DEFAULT_METRICS_CONFIG.score_margin_logit,
        help="the verdict's margin beyond a band's edge (MetricsConfig.score_margin_logit)",
    )
    parser.add_argument(
        "--quiet-voice-gap-db",
        type=float,
        default=DEFAULT_METRICS_CONFIG.quiet_voice_gap_db,
        help="a voice this much quieter withholds the verdict its undercount favours "
        "(MetricsConfig.quiet_voice_gap_db; inf: off)",
    )
    parser.add_argument(
        "--quiet-voice-share-error",
        type=float,
        default=DEFAULT_METRICS_CONFIG.quiet_voice_share_error,
        help="the undercount of a quiet voice's share a verdict must survive "
        "(MetricsConfig.quiet_voice_share_error)",
    )
    args = parser.parse_args(argv)
    config = replace(
        DEFAULT_METRICS_CONFIG,
        score_margin_logit=args.score_margin_logit,
        quiet_voice_gap_db=args.quiet_voice_gap_db,
        quiet_voice_share_error=args.quiet_voice_share_error,
    )
    outcomes = run(args.folder, cache_dir=args.cache, condition=args.condition, config=config)
    if not outcomes:
        raise SystemExit(f"{args.folder}: no voiced AnnoMI transcript (*.truth.json with 'annomi')")
    print(table(outcomes))
    totals = summary(outcomes)
    print(json.dumps(totals, indent=1))
    if args.json:
        args.json.write_text(
            json.dumps({"outcomes": [asdict(o) for o in outcomes], "summary": totals}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
