"""Reference norms from expert-rated sessions, and the calibrated score built on them.

``pipeline/norms.json`` is written by ``scripts/build_norms.py`` from AnnoMI
(Wu et al., ICASSP 2022): for every session-level measure the analyzer can
compute from a transcript, the quantiles among sessions that experts rated as
high- and low-quality motivational interviewing, how well the measure separates
the two (AUC), and the threshold that separates them best; plus the small
logistic model behind ``evidence.score``. Only these derived statistics are
committed, never the transcripts. ``docs/evidence.md`` explains each number.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pipeline.errors import AnalyzerError

NORMS_PATH = Path(__file__).with_name("norms.json")
QUANTILE_LEVELS: tuple[int, ...] = (5, 25, 50, 75, 95)
"""The percentiles stored for each measure and quality group."""

Better = Literal["higher", "lower"]


class NormsError(AnalyzerError):
    """``norms.json`` is missing or does not have the layout this version reads."""


@dataclass(frozen=True)
class Quantiles:
    """A measure's distribution in one group of reference sessions."""

    n: int
    values: tuple[float, ...]
    """The measure at :data:`QUANTILE_LEVELS` percent, ascending."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **{
                f"p{q}": round(v, 4) + 0.0
                for q, v in zip(QUANTILE_LEVELS, self.values, strict=True)
            },
        }

    def percentile_of(self, value: float) -> float:
        """Approximate percentile rank (0–100) of ``value`` in this group.

        Linear between the stored quantiles, extrapolated with the slope of the
        nearest pair beyond the 5th and 95th percentile and clipped to [0, 100].
        Where several quantiles are equal (a measure that is often 0), a value
        equal to them gets the middle of their percentiles.
        """
        levels, values = QUANTILE_LEVELS, self.values
        tied = [q for q, v in zip(levels, values, strict=True) if v == value]
        if tied:
            return (min(tied) + max(tied)) / 2
        if value < values[0] or value > values[-1]:
            i = 0 if value < values[0] else len(values) - 2
            span = values[i + 1] - values[i]
            slope = (levels[i + 1] - levels[i]) / span if span > 0 else 0.0
            anchor = 0 if value < values[0] else len(values) - 1
            rank = levels[anchor] + slope * (value - values[anchor])
            return min(100.0, max(0.0, rank))
        for i in range(len(values) - 1):
            lo, hi = values[i], values[i + 1]
            if lo <= value <= hi:
                return levels[i] + (levels[i + 1] - levels[i]) * (value - lo) / (hi - lo)
        raise AssertionError("unreachable: value lies within the quantiles")


@dataclass(frozen=True)
class MeasureNorm:
    """One measure among expert-rated high- and low-quality sessions."""

    name: str
    better: Better
    auc: float
    """Probability that a random high-quality session is better on this measure than a
    random low-quality one (ties count half)."""
    high: Quantiles
    low: Quantiles
    threshold: float
    """The cut that best separates the groups (Youden's J) on the reference sessions."""

    def to_dict(self, *, value: float | None, source: str) -> dict[str, Any]:
        """The norm as stored in ``session.json``, with where ``value`` falls."""
        return {
            "source": source,
            "auc": round(self.auc, 3) + 0.0,
            "high": self.high.to_dict(),
            "low": self.low.to_dict(),
            "percentile_high": None if value is None else round(self.high.percentile_of(value), 1),
            "percentile_low": None if value is None else round(self.low.percentile_of(value), 1),
        }


Transform = Literal["identity", "log1p", "logit_share"]


@dataclass(frozen=True)
class ScoreModel:
    """Logistic regression over a few standardized session measures.

    ``probability`` is the estimated probability that expert raters would judge
    the session good, client-centred MI, with equal prior odds of good and poor
    (the reference set has five good sessions for each poor one; a trainee's
    session has no such prior).
    """

    features: tuple[str, ...]
    transforms: tuple[Transform, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    no_below: float
    """Scores below this are in the ``low`` band (verdict ``no``)."""
    yes_from: float
    """Scores from this up are in the ``high`` band (verdict ``yes``)."""

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.intercept
        for name, transform, mean, scale, coef in zip(
            self.features, self.transforms, self.mean, self.scale, self.coef, strict=True
        ):
            z += coef * (_transform(values[name], transform) - mean) / scale
        return 1.0 / (1.0 + math.exp(-z))

    def band(self, score: float) -> Literal["high", "middle", "low"]:
        if score >= self.yes_from:
            return "high"
        if score < self.no_below:
            return "low"
        return "middle"


def _transform(value: float, transform: Transform) -> float:
    if transform == "log1p":
        return math.log1p(max(value, 0.0))
    if transform == "logit_share":
        p = min(max(value, 0.01), 0.99)
        return math.log(p / (1 - p))
    return value


def transform_value(value: float, transform: Transform) -> float:
    """Apply one of the score model's feature transforms (used when fitting it)."""
    return _transform(value, transform)


@dataclass(frozen=True)
class Norms:
    """Everything in ``norms.json``."""

    source: str
    measures: Mapping[str, MeasureNorm]
    score: ScoreModel
    raw: Mapping[str, Any]
    """The parsed file, for the documentation and the report footers."""


def _quantiles(entry: Mapping[str, Any]) -> Quantiles:
    return Quantiles(
        n=int(entry["n"]), values=tuple(float(entry[f"p{q}"]) for q in QUANTILE_LEVELS)
    )


def parse_norms(raw: Mapping[str, Any]) -> Norms:
    """Build :class:`Norms` from the parsed JSON; raises :class:`NormsError` when a key is missing."""
    try:
        measures = {
            name: MeasureNorm(
                name=name,
                better=entry["better"],
                auc=float(entry["auc"]),
                high=_quantiles(entry["high"]),
                low=_quantiles(entry["low"]),
                threshold=float(entry["threshold"]),
            )
            for name, entry in raw["measures"].items()
        }
        s = raw["score_model"]
        score = ScoreModel(
            features=tuple(s["features"]),
            transforms=tuple(s["transforms"]),
            mean=tuple(float(v) for v in s["mean"]),
            scale=tuple(float(v) for v in s["scale"]),
            coef=tuple(float(v) for v in s["coef"]),
            intercept=float(s["intercept"]),
            no_below=float(s["bands"]["no_below"]),
            yes_from=float(s["bands"]["yes_from"]),
        )
        return Norms(source=str(raw["source"]), measures=measures, score=score, raw=raw)
    except (KeyError, TypeError, ValueError) as error:
        raise NormsError(
            f"norms file has an unexpected layout ({error!r}); rebuild it with "
            "scripts/build_norms.py"
        ) from error


@functools.cache
def load_norms(path: Path = NORMS_PATH) -> Norms:
    """Read the packaged norms once per process."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NormsError(f"cannot read the reference norms {path}: {error}") from error
    return parse_norms(raw)


def quantiles_of(values: Sequence[float]) -> Quantiles:
    """The stored quantiles of ``values`` (linear interpolation, as ``numpy.percentile``)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")

    def at(q: float) -> float:
        position = (len(ordered) - 1) * q / 100
        lo = math.floor(position)
        hi = min(lo + 1, len(ordered) - 1)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)

    return Quantiles(n=len(ordered), values=tuple(at(q) for q in QUANTILE_LEVELS))


def auc(high: Sequence[float], low: Sequence[float], *, better: Better) -> float:
    """Probability that a high-group value is better than a low-group value (ties count half)."""
    if not high or not low:
        raise ValueError("both groups need values")
    sign = 1 if better == "higher" else -1
    wins = 0.0
    for h in high:
        for lo in low:
            d = sign * (h - lo)
            wins += 1.0 if d > 0 else 0.5 if d == 0 else 0.0
    return wins / (len(high) * len(low))


def youden_threshold(high: Sequence[float], low: Sequence[float], *, better: Better) -> float:
    """The cut maximizing sensitivity + specificity − 1 for "high is better-or-equal to the cut".

    Candidate cuts are midpoints between consecutive distinct values; ties in
    J go to the cut nearest the middle of the two groups' medians.
    """
    values = sorted(set(high) | set(low))
    if len(values) < 2:
        return values[0]
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(values)]
    mid = (quantiles_of(high).values[2] + quantiles_of(low).values[2]) / 2

    def passes(v: float, cut: float) -> bool:
        return v >= cut if better == "higher" else v <= cut

    def j(cut: float) -> float:
        sensitivity = sum(passes(v, cut) for v in high) / len(high)
        specificity = sum(not passes(v, cut) for v in low) / len(low)
        return sensitivity + specificity - 1

    return max(cuts, key=lambda c: (round(j(c), 12), -abs(c - mid)))
