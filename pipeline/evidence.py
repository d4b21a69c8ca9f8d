"""Whether the measures show a client-led session: criteria, a calibrated score, a verdict.

Three layers, each stored in ``session.json``:

1. **Criteria.** Seven session measures, talk time and interruptions first,
   each with its value, a threshold, the comparison, whether it passed, which
   direction is better, and where the value falls among expert-rated high- and
   low-quality sessions (:mod:`pipeline.norms`). Thresholds come from those
   norms, not from hand-picked numbers.
2. **Score.** The estimated probability that expert raters would judge the
   session good, client-centred MI, from a small logistic model over a few of
   those measures (fitted and cross-validated by ``scripts/build_norms.py``).
3. **Verdict.** ``yes`` / ``no`` / ``inconclusive`` from the score's bands, and
   ``inconclusive`` whenever the measurement itself is unreliable (uncertain
   roles, a doubtful diarization, too little speech, one speaker) or when the
   interruptions contradict a good score. The reasons say which and what to do.

``docs/evidence.md`` gives the reference data, the fitted numbers and the limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pipeline.behaviour import BehaviourSummary
from pipeline.measures import CLIENT, COUNSELOR, SessionMetrics
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.norms import Better, MeasureNorm, Norms, NormsError, load_norms
from pipeline.voice_levels import QuietVoice

Verdict = Literal["yes", "no", "inconclusive"]
Comparison = Literal[">=", "<="]
Unit = Literal["share", "per_10min", "seconds", "ratio", "per_utterance", "words"]
Quality = Literal["good", "doubtful", "poor"]


@dataclass(frozen=True)
class MeasureSpec:
    """What a criterion measures and how to read it."""

    name: str
    label: str
    unit: Unit
    better: Better
    description: str


MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec(
        "client_share",
        "Client share of talk time",
        "share",
        "higher",
        "Client's share of the counselor's and client's speech time.",
    ),
    MeasureSpec(
        "counselor_interruptions_per_10min",
        "Counselor interruptions per 10 minutes",
        "per_10min",
        "lower",
        "Times per 10 minutes the counselor started talking while the client was speaking "
        "and the client stopped before finishing.",
    ),
    MeasureSpec(
        "longest_counselor_monologue_s",
        "Longest counselor turn",
        "seconds",
        "lower",
        "Longest counselor floor turn, in seconds.",
    ),
    MeasureSpec(
        "mean_counselor_turn_words",
        "Mean counselor turn length",
        "words",
        "lower",
        "Mean number of words in a counselor floor turn.",
    ),
    MeasureSpec(
        "reflection_to_question_ratio",
        "Reflections per question",
        "ratio",
        "higher",
        "Estimated counselor reflections per question (MITI's R:Q; MITI 4.2.1 calls 1 fair, "
        "2 good).",
    ),
    MeasureSpec(
        "therapist_input_per_utterance",
        "Information and advice per counselor turn",
        "per_utterance",
        "lower",
        "Share of counselor turns estimated to give information, advice or options, or to "
        "negotiate.",
    ),
    MeasureSpec(
        "change_talk_share",
        "Client change talk share",
        "share",
        "higher",
        "Estimated client change talk among the client's change and sustain talk.",
    ),
)
"""The criteria, in the order the report shows them (talk time and interruptions first)."""


CODED_LANGUAGES = frozenset({"en"})
"""Languages the behaviour coder and the expert-rated reference sessions (AnnoMI) are in."""

CODED_MEASURES = frozenset(
    {"reflection_to_question_ratio", "therapist_input_per_utterance", "change_talk_share"}
)
"""Criteria whose values come from the behaviour coder reading the words."""


def uncoded_language(language: str | None) -> str | None:
    """Why the words cannot be coded, or ``None`` when they can (or the language is unknown).

    The coder is a TF-IDF model over English words: in another language nearly
    every word is unknown to it, so it sees no reflections and little else, and
    the score would rest on talk time alone with the coded inputs read as zeros.
    A Spanish two-minute session of good MI (client 78 % of the talk) scored 51 %
    that way, its reflections counted as none (docs/evidence.md, "Language").
    """
    if language is None or language in CODED_LANGUAGES:
        return None
    return (
        f"Whisper heard the session as language '{language}', not English: the behaviour "
        "coder and the expert-rated sessions behind the score are English only, so "
        "questions, reflections, advice and change talk cannot be estimated and no score "
        "is given. If the session is in English, analyze it again with --language en."
    )


@dataclass(frozen=True)
class EvidenceInputs:
    """The session measures the criteria and the score read.

    Built from :class:`~pipeline.measures.SessionMetrics` at run time
    (:func:`inputs_from_metrics`) and from expert-rated transcripts when the
    norms are built, so both go through the same definitions.
    """

    client_share: float | None
    counselor_interruptions_per_10min: float | None
    longest_counselor_monologue_s: float | None
    behaviour: BehaviourSummary

    def values(self) -> dict[str, float | None]:
        """Each criterion's value, by name (``None`` when not measurable)."""
        b = self.behaviour
        return {
            "client_share": self.client_share,
            "counselor_interruptions_per_10min": self.counselor_interruptions_per_10min,
            "longest_counselor_monologue_s": self.longest_counselor_monologue_s,
            "mean_counselor_turn_words": b.mean_counselor_turn_words,
            "reflection_to_question_ratio": b.reflection_to_question_ratio,
            "therapist_input_per_utterance": b.therapist_input_per_turn,
            "change_talk_share": b.change_talk_share,
        }

    def score_features(self) -> dict[str, float] | None:
        """The score model's inputs; ``None`` without client speech or counselor turns.

        The behaviour rates use the coder's expected counts
        (:attr:`~pipeline.behaviour.BehaviourSummary.expected`), smoothed so every
        session has a value: reflections vs questions as log((R + 0.5) / (Q + 0.5)),
        change talk as (change + 1) / (change + sustain + 2).
        """
        b = self.behaviour
        if self.client_share is None or b.counselor_turns == 0:
            return None
        mean_words = b.mean_counselor_turn_words
        assert mean_words is not None  # counselor_turns > 0
        e = b.expected
        return {
            "client_share": self.client_share,
            "mean_counselor_turn_words": mean_words,
            "reflection_question_balance": math.log(
                (e["reflection"] + 0.5) / (e["question"] + 0.5)
            ),
            "therapist_input_per_utterance": e["therapist_input"] / b.counselor_turns,
            "change_talk_share_smoothed": (e["change"] + 1) / (e["change"] + e["sustain"] + 2),
        }


def inputs_from_metrics(metrics: SessionMetrics) -> EvidenceInputs:
    speech = metrics.counselor.speech_s + metrics.client.speech_s
    return EvidenceInputs(
        client_share=metrics.client.share if speech > 0 else None,
        counselor_interruptions_per_10min=(
            metrics.interruptions.counselor_interrupts_client_per_10min
        ),
        longest_counselor_monologue_s=(
            metrics.longest_counselor_monologue_s if metrics.counselor.turns else None
        ),
        behaviour=metrics.behaviour,
    )


@dataclass(frozen=True)
class Criterion:
    """One measure compared with its threshold; ``passed`` is ``None`` when not measurable."""

    spec: MeasureSpec
    value: float | None
    threshold: float
    passed: bool | None
    norm: MeasureNorm | None
    """``None`` where the reference sessions cannot measure it (interruptions)."""
    reason: str
    """A sentence stating the value against the threshold and the reference sessions."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def comparison(self) -> Comparison:
        return ">=" if self.spec.better == "higher" else "<="

    def to_dict(self, *, source: str) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "label": self.spec.label,
            "value": None if self.value is None else round(self.value, 4) + 0.0,
            "unit": self.spec.unit,
            "threshold": round(self.threshold, 4) + 0.0,
            "comparison": self.comparison,
            "passed": self.passed,
            "better": self.spec.better,
            "description": self.spec.description,
            "norms": None
            if self.norm is None
            else self.norm.to_dict(value=self.value, source=source),
        }


@dataclass(frozen=True)
class Reliability:
    """Whether the measurement can carry a verdict, and why not."""

    role_confidence: float
    diarization_quality: Quality | None
    blockers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role_confidence": round(self.role_confidence, 3) + 0.0,
            "diarization_quality": self.diarization_quality,
            "blockers": list(self.blockers),
        }


@dataclass(frozen=True)
class Evidence:
    """The verdict, the score, the sentences that explain them, and the criteria behind them."""

    client_led: Verdict
    score: float | None
    score_band: Literal["high", "middle", "low"] | None
    reasons: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    reliability: Reliability
    source: str

    unscored_because: str | None = None
    """Why no score was estimated although there was speech (a language the coder cannot read)."""

    @property
    def score_meaning(self) -> str:
        if self.score is None:
            if self.unscored_because is not None:
                return f"No score: {self.unscored_because}"
            return (
                "No score: the session has too little counselor and client speech to estimate one."
            )
        return (
            f"Estimated probability ({self.score * 100:.0f}%) that expert raters would judge "
            "this session good, client-centred motivational interviewing, from a model fitted "
            "on expert-rated sessions (AnnoMI); an estimate, not a rating."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_led": self.client_led,
            "score": None if self.score is None else round(self.score, 3) + 0.0,
            "score_band": self.score_band,
            "score_meaning": self.score_meaning,
            "reasons": list(self.reasons),
            "criteria": [c.to_dict(source=self.source) for c in self.criteria],
            "reliability": self.reliability.to_dict(),
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


_FORMATS: dict[Unit, tuple[float, int, str]] = {
    "share": (100.0, 0, "%"),
    "per_10min": (1.0, 1, " per 10 min"),
    "seconds": (1.0, 0, " s"),
    "ratio": (1.0, 2, ""),
    "per_utterance": (100.0, 0, "% of turns"),
    "words": (1.0, 1, " words"),
}


def format_value(value: float, unit: Unit, *, against: float | None = None) -> str:
    """A value in its unit, as the reasons and the report print it."""
    scale, digits, suffix = _FORMATS[unit]
    shown = (
        _number(value, against, scale=scale, digits=digits)
        if against is not None
        else f"{value * scale:.{digits}f}"
    )
    return f"{shown}{suffix}"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``22nd`` ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


INTERRUPTION_RECALL_NOTE = (
    " Detection misses many interruptions (on 24 test recordings that no rule was chosen "
    "on it found 62 of 120 in mono mixes, and 33 of 62 in stereo with one party per "
    "channel, docs/metrics.md): a count under the threshold is a lower bound."
)
"""Said whenever the interruption criterion passes: the count can only be too low."""


def _placement(norm: MeasureNorm | None, value: float) -> str:
    if norm is None:
        return ""
    high = ordinal(round(norm.high.percentile_of(value)))
    low = ordinal(round(norm.low.percentile_of(value)))
    return (
        f"; among expert-rated sessions this is at the {high} percentile of good MI "
        f"and the {low} of poor MI"
    )


def _criterion(
    spec: MeasureSpec,
    value: float | None,
    norms: Norms,
    config: MetricsConfig,
    *,
    uncoded: bool = False,
) -> Criterion:
    norm = norms.measures.get(spec.name)
    if norm is not None:
        threshold = norm.threshold
    elif spec.name == "counselor_interruptions_per_10min":
        threshold = config.max_counselor_interruptions_per_10min
    else:
        raise NormsError(f"norms.json has no entry for {spec.name}; rebuild the norms")
    if uncoded and spec.name in CODED_MEASURES:
        reason = f"{spec.label}: not measurable in this language (the coder reads English only)."
        return Criterion(spec, None, threshold, None, norm, reason)
    if value is None:
        return Criterion(spec, None, threshold, None, norm, f"{spec.label}: not measurable.")
    passed = value >= threshold if spec.better == "higher" else value <= threshold
    limit = "at least" if spec.better == "higher" else "at most"
    reason = (
        f"{spec.label}: {format_value(value, spec.unit, against=threshold)} "
        f"(threshold: {limit} {format_value(threshold, spec.unit)}"
        f"{_placement(norm, value)})."
    )
    if spec.name == "counselor_interruptions_per_10min" and passed:
        reason += INTERRUPTION_RECALL_NOTE
    return Criterion(spec, value, threshold, passed, norm, reason)


def criteria(
    inputs: EvidenceInputs,
    *,
    norms: Norms | None = None,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    uncoded: bool = False,
) -> tuple[Criterion, ...]:
    """Return the criteria in :data:`MEASURES` order.

    Thresholds come from the norms; the reference transcripts do not mark
    interruptions the way the analyzer measures them, so that one threshold is
    ``config.max_counselor_interruptions_per_10min``. ``uncoded``: the words are
    in a language the coder cannot read, so :data:`CODED_MEASURES` are not measurable.
    """
    norms = norms or load_norms()
    values = inputs.values()
    return tuple(
        _criterion(spec, values[spec.name], norms, config, uncoded=uncoded) for spec in MEASURES
    )


def _blockers(
    metrics: SessionMetrics,
    *,
    role_confidence: float,
    diarization_quality: Quality | None,
    diarization_cues: Sequence[str],
    config: MetricsConfig,
) -> list[str]:
    blockers = []
    speech = metrics.counselor.speech_s + metrics.client.speech_s
    if speech <= 0:
        blockers.append("No counselor or client speech was detected: check the recording.")
    elif speech < config.min_speech_s:
        blockers.append(
            f"Only {speech:.0f} s of counselor and client speech were found (minimum "
            f"{config.min_speech_s:.0f} s): too little to judge the session."
        )
    if diarization_quality in ("doubtful", "poor"):
        cues = " ".join(diarization_cues)
        blockers.append(
            f"Telling the speakers apart was {diarization_quality}: the talk-time figures may "
            f"be wrong. {cues}".rstrip()
        )
    if role_confidence < config.min_role_confidence:
        blockers.append(
            f"Speaker roles were assigned with confidence {role_confidence:.2f}, below "
            f"{config.min_role_confidence:.2f}: counselor and client may be swapped. Name the "
            "counselor (--counselor, --counselor-channel or --enrollment) and rescore."
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
    return blockers


def _undercounted_score(
    quiet: QuietVoice,
    inputs: EvidenceInputs,
    norms: Norms,
    config: MetricsConfig,
    *,
    score: float,
    yes_cut: float,
    no_cut: float,
) -> float | None:
    """The score with the quiet role's talk share ``config.quiet_voice_share_error``
    higher, when that undercount could have produced the verdict the score gives
    (a ``yes`` with a quiet counselor, a ``no`` with a quiet client) and the verdict
    does not survive it; else None."""
    if inputs.client_share is None:
        return None
    if quiet.role == COUNSELOR and score >= yes_cut:
        delta = -config.quiet_voice_share_error
    elif quiet.role == CLIENT and score < no_cut:
        delta = config.quiet_voice_share_error
    else:
        return None
    share = min(0.99, max(0.01, inputs.client_share + delta))
    features = replace(inputs, client_share=share).score_features()
    if features is None:
        return None
    moved = norms.score.probability(features)
    survives = moved >= yes_cut if delta < 0 else moved < no_cut
    return None if survives else moved


def beyond(edge: float, margin_logit: float) -> float:
    """The score ``margin_logit`` log-odds above ``edge`` (below it when negative)."""
    if not 0.0 < edge < 1.0:
        return edge
    return 1.0 / (1.0 + math.exp(-(math.log(edge / (1.0 - edge)) + margin_logit)))


def _with_margin(cut: float, margin_logit: float) -> str:
    if margin_logit == 0.0:
        return ""
    return f", {cut * 100:.1f}% with the measurement error of recordings"


def evaluate(
    metrics: SessionMetrics,
    *,
    role_confidence: float,
    diarization_quality: Quality | None = None,
    diarization_cues: Sequence[str] = (),
    warnings: Sequence[str] = (),
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    norms: Norms | None = None,
    language: str | None = None,
    quiet: QuietVoice | None = None,
) -> Evidence:
    """Score the session and decide whether it was client-led.

    The verdict is ``"inconclusive"`` when the measurement is unreliable (no or
    too little speech, a ``"doubtful"`` or ``"poor"`` diarization, role
    confidence below ``min_role_confidence``, a role below ``min_role_share``
    of the speech), when no score can be computed, when the score falls
    between the bands of :class:`~pipeline.norms.ScoreModel`, when the transcript's
    ``language`` is one the coder cannot read (no score then), or when the score
    is high but the counselor interrupted the client more than the threshold.
    ``quiet``: a role whose voice is far quieter than the other's
    (:func:`pipeline.voice_levels.quiet_voice`), so that its talk share is
    probably too low; the verdict that error favours (``yes`` with a quiet
    counselor, ``no`` with a quiet client) becomes ``"inconclusive"`` unless the
    score still gives it with the quiet role's share
    ``config.quiet_voice_share_error`` higher, and either way the reasons warn
    of it. Otherwise it is ``"yes"`` in the high band and ``"no"`` in the low band, when
    the score lies at least ``score_margin_logit`` (log-odds) beyond the band's
    edge; closer to the edge, within the measurement error of a recording, it is
    ``"inconclusive"``.

    ``reasons`` holds, in order: why the verdict is what it is, one sentence
    per measurable criterion, then ``warnings`` as given.
    """
    norms = norms or load_norms()
    inputs = inputs_from_metrics(metrics)
    words = metrics.counselor.words + metrics.client.words
    unreadable = uncoded_language(language) if words > 0 else None
    found = criteria(inputs, norms=norms, config=config, uncoded=unreadable is not None)
    blockers = _blockers(
        metrics,
        role_confidence=role_confidence,
        diarization_quality=diarization_quality,
        diarization_cues=diarization_cues,
        config=config,
    )
    if unreadable is not None:
        blockers.append(unreadable)
    features = None if unreadable is not None else inputs.score_features()
    score = norms.score.probability(features) if features is not None else None
    band = norms.score.band(score) if score is not None else None
    margin = config.score_margin_logit
    yes_cut = beyond(norms.score.yes_from, margin)
    no_cut = beyond(norms.score.no_below, -margin)
    interruptions = next(c for c in found if c.name == "counselor_interruptions_per_10min")
    undercount = None
    if quiet is not None and score is not None:
        undercount = _undercounted_score(
            quiet, inputs, norms, config, score=score, yes_cut=yes_cut, no_cut=no_cut
        )
    verdict: Verdict
    if blockers:
        verdict, summary = "inconclusive", blockers
    elif score is None or band is None:
        verdict = "inconclusive"
        summary = ["Too few counselor turns or no client speech: no score could be estimated."]
    elif band == "high" and interruptions.passed is False:
        verdict = "inconclusive"
        summary = [
            f"The score ({score * 100:.0f}%) is in the range of good MI, but the counselor "
            f"interrupted the client more than "
            f"{config.max_counselor_interruptions_per_10min:.1f} times per 10 minutes: "
            "listen to the marked interruptions before concluding."
        ]
    elif undercount is not None and quiet is not None:
        verdict = "inconclusive"
        kind, direction = ("good", "high") if band == "high" else ("poor", "low")
        summary = [
            f"Score {score * 100:.0f}%: in the range of expert-rated {kind} MI, but the "
            f"{quiet.role}'s voice is {quiet.gap_db:.0f} dB quieter than the {quiet.other}'s, "
            f"so the client's share of talk time is probably too {direction}; with it "
            f"{config.quiet_voice_share_error * 100:.0f} points "
            f"{'lower' if direction == 'high' else 'higher'} the score would be "
            f"{undercount * 100:.0f}%: listen to the recording before concluding, or record "
            "each party on its own channel."
        ]
        quiet = None  # said
    elif band == "high" and score >= yes_cut:
        verdict = "yes"
        summary = [
            f"Score {score * 100:.0f}%: the measures resemble expert-rated good MI "
            f"(score at least {norms.score.yes_from * 100:.0f}%{_with_margin(yes_cut, margin)})."
        ]
    elif band == "low" and score < no_cut:
        verdict = "no"
        summary = [
            f"Score {score * 100:.0f}%: the measures resemble expert-rated poor MI "
            f"(score below {norms.score.no_below * 100:.0f}%{_with_margin(no_cut, margin)})."
        ]
    elif band in ("high", "low"):
        verdict = "inconclusive"
        kind, edge, cut = (
            ("good", norms.score.yes_from, yes_cut)
            if band == "high"
            else ("poor", norms.score.no_below, no_cut)
        )
        summary = [
            f"Score {score * 100:.0f}%: in the range of expert-rated {kind} MI, but within "
            f"the measurement error of recordings from its edge ({edge * 100:.0f}%): a score "
            f"from a recording can differ from its transcript's by that much, so "
            + (
                f"a yes needs at least {cut * 100:.1f}%"
                if band == "high"
                else f"a no needs a score below {cut * 100:.1f}%"
            )
            + "; the measures below show where the session stands."
        ]
    else:
        verdict = "inconclusive"
        summary = [
            f"Score {score * 100:.0f}%: between the ranges of expert-rated good and poor MI "
            f"({norms.score.no_below * 100:.0f}–{norms.score.yes_from * 100:.0f}%); the "
            "measures below show where the session stands."
        ]
    if blockers and diarization_quality in ("doubtful", "poor"):
        warnings = [w for w in warnings if w not in diarization_cues]  # already in a blocker
    if quiet is not None:
        warnings = [*warnings, quiet.warning()]
    reasons = (*summary, *(c.reason for c in found if c.value is not None), *warnings)
    return Evidence(
        client_led=verdict,
        score=score,
        score_band=band,
        reasons=reasons,
        criteria=found,
        reliability=Reliability(role_confidence, diarization_quality, tuple(blockers)),
        source=norms.source,
        unscored_because=unreadable,
    )
