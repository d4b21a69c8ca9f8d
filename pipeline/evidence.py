"""Whether the measures show a client-led session: criteria and a verdict.

:func:`evaluate` compares a few measures of :class:`~pipeline.measures.SessionMetrics`
with thresholds from :class:`~pipeline.metrics_config.MetricsConfig` and gives
a verdict, ``"yes"``, ``"no"`` or ``"inconclusive"``, with sentences a reader
can check. ``docs/metrics.md`` explains each criterion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.measures import CLIENT, COUNSELOR, SessionMetrics
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig

Verdict = Literal["yes", "no", "inconclusive"]
Comparison = Literal[">=", "<="]


@dataclass(frozen=True)
class Criterion:
    """One measure compared with its threshold; ``passed`` is ``None`` when not measurable."""

    name: str
    value: float | None
    threshold: float
    comparison: Comparison
    passed: bool | None
    description: str
    reason: str
    """A sentence stating the value against the threshold."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 3) + 0.0,
            "threshold": round(self.threshold, 3) + 0.0,
            "comparison": self.comparison,
            "passed": self.passed,
            "description": self.description,
        }


@dataclass(frozen=True)
class Evidence:
    """The verdict, the sentences that explain it, and the criteria behind it."""

    client_led: Verdict
    reasons: tuple[str, ...]
    criteria: tuple[Criterion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_led": self.client_led,
            "reasons": list(self.reasons),
            "criteria": [c.to_dict() for c in self.criteria],
        }


def _number(value: float, threshold: float, *, scale: float = 1.0, digits: int = 0) -> str:
    """Format ``value * scale`` with enough decimals that it does not print as the threshold.

    So a failing 0.4996 shows as "49.96%", never as "50%" next to "at least 50%".
    """
    for d in range(digits, digits + 4):
        shown = f"{value * scale:.{d}f}"
        if value == threshold or shown != f"{threshold * scale:.{d}f}":
            return shown
    return f"{value * scale:.{digits + 3}f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _criterion(
    *,
    name: str,
    value: float | None,
    threshold: float,
    comparison: Comparison,
    description: str,
    sentence: Callable[[float], str],
    unmeasurable: str,
) -> Criterion:
    if value is None:
        return Criterion(name, None, threshold, comparison, None, description, unmeasurable)
    passed = value >= threshold if comparison == ">=" else value <= threshold
    return Criterion(name, value, threshold, comparison, passed, description, sentence(value))


def criteria(
    metrics: SessionMetrics, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> tuple[Criterion, ...]:
    """Return the criteria of a client-led session, in a fixed order."""
    share_t = config.min_client_share
    rate_t = config.max_counselor_interruptions_per_10min
    mono_t = config.max_counselor_monologue_s
    ratio_t = config.min_reflection_to_question_ratio
    n_int = metrics.interruptions.counselor_interrupts_client
    n_refl = metrics.reflections.total
    n_q = metrics.questions.total
    return (
        _criterion(
            name="client_share",
            value=metrics.client.share,
            threshold=share_t,
            comparison=">=",
            description="Client's share of the counselor's and client's speech time.",
            sentence=lambda v: (
                f"Client spoke {_number(v, share_t, scale=100)}% of the counselor's and "
                f"client's speech time (threshold: at least {share_t * 100:.0f}%)."
            ),
            unmeasurable="Client share is not measurable: nobody spoke.",
        ),
        _criterion(
            name="counselor_interruptions_per_10min",
            value=metrics.interruptions.counselor_interrupts_client_per_10min,
            threshold=rate_t,
            comparison="<=",
            description=(
                "Times per 10 minutes the counselor started a turn while the client was "
                "speaking and the client stopped within the yield window."
            ),
            sentence=lambda v: (
                f"Counselor interrupted the client {_count(n_int, 'time')}, "
                f"{_number(v, rate_t, digits=1)} per 10 minutes "
                f"(threshold: at most {rate_t:.1f})."
            ),
            unmeasurable="Counselor interruption rate is not measurable: the recording is empty.",
        ),
        _criterion(
            name="longest_counselor_monologue_s",
            value=metrics.longest_counselor_monologue_s,
            threshold=mono_t,
            comparison="<=",
            description="Longest counselor floor turn, in seconds.",
            sentence=lambda v: (
                f"Counselor's longest turn lasted {_number(v, mono_t, digits=1)} s "
                f"(threshold: at most {mono_t:.0f} s)."
            ),
            unmeasurable="",
        ),
        _criterion(
            name="reflection_to_question_ratio",
            value=metrics.reflection_to_question_ratio,
            threshold=ratio_t,
            comparison=">=",
            description=(
                "Estimated counselor reflections per question (a lexical estimate, not MITI "
                "coding; MITI 4.2.1 calls 1 fair and 2 good)."
            ),
            sentence=lambda v: (
                f"Counselor made an estimated {_number(v, ratio_t, digits=2)} reflections "
                f"per question ({_count(n_refl, 'reflection')}, {_count(n_q, 'question')}; "
                f"threshold: at least {ratio_t:.1f})."
            ),
            unmeasurable=(
                "Reflection-to-question ratio is not measurable: no counselor questions were found."
            ),
        ),
    )


def evaluate(
    metrics: SessionMetrics,
    *,
    role_confidence: float,
    warnings: Sequence[str] = (),
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> Evidence:
    """Decide whether the session was client-led.

    The verdict is ``"inconclusive"`` when nobody (counselor or client) spoke,
    when ``role_confidence`` is below ``min_role_confidence``, or when a role
    has less than ``min_role_share`` of the speech. Otherwise it is ``"no"`` if
    any measurable criterion fails and ``"yes"`` if all measurable ones pass.

    ``reasons`` holds, in order: why the verdict is inconclusive or a summary,
    one sentence per criterion, then ``warnings`` (e.g. from diarization) as given.
    """
    found = criteria(metrics, config=config)
    blockers = []
    speech = metrics.counselor.speech_s + metrics.client.speech_s
    if speech <= 0:
        blockers.append("No counselor or client speech was detected.")
    if role_confidence < config.min_role_confidence:
        blockers.append(
            f"Speaker roles were assigned with confidence {role_confidence:.2f}, below "
            f"{config.min_role_confidence:.2f}: counselor and client may be swapped."
        )
    if speech > 0:
        for role in (COUNSELOR, CLIENT):
            share = metrics.role(role).share
            if share < config.min_role_share:
                blockers.append(
                    f"The {role} has only "
                    f"{_number(share, config.min_role_share, scale=100)}% of the speech "
                    f"(minimum {config.min_role_share * 100:.0f}%): the diarization may "
                    "have merged or mislabelled the speakers."
                )
    measurable = [c for c in found if c.passed is not None]
    failed = [c for c in measurable if not c.passed]
    verdict: Verdict
    if blockers or not measurable:
        verdict = "inconclusive"
        summary = blockers or ["No criterion could be measured."]
    elif failed:
        verdict = "no"
        names = ", ".join(c.name for c in failed)
        summary = [f"{len(failed)} of {len(measurable)} measurable criteria not met: {names}."]
    else:
        verdict = "yes"
        summary = [f"All {len(measurable)} measurable criteria met."]
    reasons = (*summary, *(c.reason for c in found if c.reason), *warnings)
    return Evidence(client_led=verdict, reasons=reasons, criteria=found)
