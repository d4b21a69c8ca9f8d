"""Event accuracy on the realistic fixtures: interruptions, terminal overlaps, backchannels.

Runs the real model stages (:func:`pipeline.session.analyze_speech`) once per
recording in ``tests/fixtures/realistic`` (mono mix and stereo versions), then
scores the result under each interruption rule and matches the events found
against the planted truth of ``<name>.truth.json``::

    python -m bench.events [--cache DIR] [--rules completion timing]
        [--folder DIR | --heldout | --fresh]

``--heldout`` scores ``tests/fixtures/realistic_heldout`` (other scripts and
voices, never used to choose a setting) instead of the development set
``tests/fixtures/realistic``; ``--fresh`` scores ``tests/fixtures/realistic_fresh``
(a third set, made after some rule ideas had come from held-out errors, never
inspected while choosing anything); ``--folder`` any folder of such fixtures.

Matching: a found event matches a planted one of the same kind and the same
interrupter (backchannels: the same role) whose onset lies within
:data:`MATCH_TOLERANCE_S`; each event matches at most once (in time order).
Roles are the pipeline's own (stereo: by channel), never taken from the truth.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cache import pickled
from bench.truth import reference_turns
from pipeline.measures import floor_stretches, interruption_events
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.roles import RoleHint, assign_roles, label_turns, label_utterances
from pipeline.session import SpeechOptions, SpeechResult, analyze_speech, role_hint
from pipeline.types import Utterance

REALISTIC = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "realistic"
HELDOUT = REALISTIC.with_name("realistic_heldout")
"""Held-out fixtures: reported, never tuned on (``scripts/make_realistic_fixtures.py --set heldout``)."""
FRESH = REALISTIC.with_name("realistic_fresh")
"""Fresh fixtures, for reporting only (``scripts/make_realistic_fixtures.py --set fresh``)."""
MATCH_TOLERANCE_S = 0.5
"""A found event matches a planted one whose onset is at most this far away."""
KINDS = ("interruption", "terminal_overlap", "overlap_attempt", "backchannel")


@dataclass(frozen=True)
class Case:
    """One recording to analyze: a fixture in its mono or stereo version."""

    name: str
    variant: str  # "mono" | "stereo"
    path: Path
    truth: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.variant})"


def cases(folder: Path = REALISTIC) -> Iterator[Case]:
    """Every recording of the realistic fixtures with its truth."""
    for truth_path in sorted(folder.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text())
        name = truth_path.name.removesuffix(".truth.json")
        for variant, file_name in sorted(truth["audio_files"].items()):
            yield Case(name, variant, folder / file_name, truth)


def speech_options(case: Case) -> SpeechOptions:
    """Default options; stereo files are split by channel (automatically when supported)."""
    fields = {f.name for f in dataclasses.fields(SpeechOptions)}
    if case.variant == "stereo" and "channels" not in fields:
        return SpeechOptions(counselor_channel="left")
    return SpeechOptions()


def analyzed(case: Case, *, cache_dir: Path | None = None) -> SpeechResult:
    """The model stages' result for ``case``, optionally cached on disk by content."""
    options = speech_options(case)
    if cache_dir is None:
        return analyze_speech(case.path, options=options)
    key = hashlib.sha256(case.path.read_bytes() + repr(options).encode()).hexdigest()[:16]
    return pickled(
        cache_dir / f"{case.path.stem}-{key}.pickle",
        lambda: analyze_speech(case.path, options=options),
    )


def found_events(
    result: SpeechResult, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> dict[str, list[dict[str, Any]]]:
    """Every overlap event (terminal overlaps included) and backchannel, by kind.

    Roles come from the pipeline (:func:`pipeline.roles.assign_roles` with the
    hint the options imply), as in ``session.json``.
    """
    options = result.options
    hint: RoleHint = role_hint(counselor_channel=options.counselor_channel)
    turns, utterances = result.diarization.turns, result.utterances
    roles = assign_roles(turns, utterances, hint=hint)
    labelled_turns = label_turns(turns, roles)
    labelled_utterances = label_utterances(utterances, roles)
    stretches = floor_stretches(labelled_turns, labelled_utterances, config=config)
    words = tuple(w for u in labelled_utterances for w in u.words)
    events = interruption_events(stretches, labelled_turns, words=words, config=config)
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for e in events:
        out[e.kind].append({"start": e.start, "who": e.interrupter})
    out["backchannel"] = [{"start": s.start, "who": s.role} for s in stretches if s.backchannel]
    return out


def reference_events(
    result: SpeechResult,
    truth: Mapping[str, Any],
    *,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> dict[str, list[dict[str, Any]]]:
    """Like :func:`found_events`, but on the truth's turns (split at their pauses,
    :func:`bench.truth.reference_turns`) and roles: a diagnostic that separates the
    interruption rule from the diarization.

    The ASR words are the pipeline's, each given to the role whose planted segment
    holds its midpoint (a full sentence before an attempt or a backchannel).
    """
    segments = truth["segments"]
    turns = reference_turns(truth)
    words = []
    for w in result.words:
        mid = (w.start + w.end) / 2
        holders = [s for s in segments if s["start"] - 0.05 <= mid <= s["end"] + 0.05]
        if holders:
            holders.sort(key=lambda s: (s["kind"] != "speech", -s["start"]))
            words.append(dataclasses.replace(w, speaker=holders[0]["role"]))
    utterances = tuple(Utterance(w.start, w.end, w.speaker, (w,)) for w in words)
    stretches = floor_stretches(turns, utterances, config=config)
    events = interruption_events(stretches, turns, words=words, config=config)
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for e in events:
        out[e.kind].append({"start": e.start, "who": e.interrupter})
    out["backchannel"] = [{"start": s.start, "who": s.role} for s in stretches if s.backchannel]
    return out


def planted_events(truth: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The truth's events in the same shape as :func:`found_events`."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for e in truth["events"]:
        out[e["kind"]].append({"start": e["start"], "who": e["interrupter"]})
    out["backchannel"] = [{"start": b["start"], "who": b["role"]} for b in truth["backchannels"]]
    return out


def matches(
    found: Sequence[Mapping[str, Any]],
    planted: Sequence[Mapping[str, Any]],
    *,
    tolerance_s: float = MATCH_TOLERANCE_S,
) -> int:
    """How many planted events have their own found event: same ``who``, onset within tolerance.

    Greedy in time order, each found event used at most once; among candidates
    the nearest onset wins.
    """
    used: set[int] = set()
    hits = 0
    for event in sorted(planted, key=lambda e: e["start"]):
        best, best_distance = None, tolerance_s
        for index, candidate in enumerate(found):
            distance = abs(candidate["start"] - event["start"])
            if index not in used and candidate["who"] == event["who"] and distance <= best_distance:
                best, best_distance = index, distance
        if best is not None:
            used.add(best)
            hits += 1
    return hits


@dataclass(frozen=True)
class Counts:
    """Planted, found and matched events of one kind."""

    planted: int = 0
    found: int = 0
    matched: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.planted + other.planted, self.found + other.found, self.matched + other.matched
        )

    @property
    def precision(self) -> float | None:
        return self.matched / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.planted if self.planted else None


def evaluate(
    result: SpeechResult,
    truth: Mapping[str, Any],
    *,
    config: MetricsConfig,
    reference_turns: bool = False,
) -> dict[str, Counts]:
    """Counts per kind, plus ``terminal_as_interruption``: planted terminal overlaps
    that came out as interruptions (found = all planted terminal overlaps).

    ``reference_turns``: judge on the truth's turns (:func:`reference_events`).
    """
    found = (
        reference_events(result, truth, config=config)
        if reference_turns
        else found_events(result, config=config)
    )
    planted = planted_events(truth)
    out = {
        kind: Counts(len(planted[kind]), len(found[kind]), matches(found[kind], planted[kind]))
        for kind in KINDS
    }
    wrong = matches(found["interruption"], planted["terminal_overlap"])
    out["terminal_as_interruption"] = Counts(
        len(planted["terminal_overlap"]), len(planted["terminal_overlap"]), wrong
    )
    return out


def rule_config(rule: str, overrides: Mapping[str, float] | None = None) -> MetricsConfig:
    """The default settings with ``interruption_rule`` set to ``rule`` and numeric
    ``overrides`` (e.g. ``{"completion_max_trailing_s": 0.3}``) applied."""
    if rule not in ("completion", "timing"):
        raise ValueError(f"unknown interruption rule {rule!r}: use 'completion' or 'timing'")
    changes: dict[str, Any] = {"interruption_rule": rule, **(overrides or {})}
    return dataclasses.replace(DEFAULT_METRICS_CONFIG, **changes)


def parse_overrides(items: Sequence[str]) -> dict[str, float]:
    """``["name=value", ...]`` as numeric :class:`MetricsConfig` overrides.

    >>> parse_overrides(["completion_max_trailing_s=0.3", "cut_off_tails=0"])
    {'completion_max_trailing_s': 0.3, 'cut_off_tails': False}
    """
    numeric = {
        f.name
        for f in dataclasses.fields(MetricsConfig)
        if isinstance(getattr(DEFAULT_METRICS_CONFIG, f.name), (int, float))
    }
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if name not in numeric or math.isnan(number):
            raise ValueError(f"--set {item!r}: use NAME=NUMBER with a numeric MetricsConfig field")
        out[name] = (
            bool(number) if isinstance(getattr(DEFAULT_METRICS_CONFIG, name), bool) else number
        )
    return out


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(
    results: Mapping[str, Mapping[str, Mapping[str, Counts]]],
) -> list[str]:
    """Markdown rows: per rule and variant, precision/recall of each kind (matched/planted)."""
    rows = [
        "| rule | recordings | interruption P | interruption R | terminal overlap P | "
        "terminal overlap R | terminal → interruption | attempt P | attempt R | "
        "backchannel P | backchannel R |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rule, by_variant in results.items():
        for variant, c in by_variant.items():
            i, t, a, b = (
                c["interruption"],
                c["terminal_overlap"],
                c["overlap_attempt"],
                c["backchannel"],
            )
            wrong = c["terminal_as_interruption"]
            rows.append(
                f"| {rule} | {variant} | {_fmt(i.precision)} ({i.matched}/{i.found}) | "
                f"{_fmt(i.recall)} ({i.matched}/{i.planted}) | "
                f"{_fmt(t.precision)} | {_fmt(t.recall)} | {wrong.matched}/{wrong.planted} | "
                f"{_fmt(a.precision)} | {_fmt(a.recall)} | "
                f"{_fmt(b.precision)} ({b.matched}/{b.found}) | "
                f"{_fmt(b.recall)} ({b.matched}/{b.planted}) |"
            )
    return rows


def run(
    *,
    rules: Sequence[str] = ("timing", "completion"),
    folder: Path = REALISTIC,
    cache_dir: Path | None = None,
    reference_turns: bool = False,
    overrides: Mapping[str, float] | None = None,
) -> dict[str, dict[str, dict[str, Counts]]]:
    """Counts per rule, per variant (``mono``, ``stereo``) summed over the fixtures."""
    out: dict[str, dict[str, dict[str, Counts]]] = {rule: {} for rule in rules}
    for case in cases(folder):
        result = analyzed(case, cache_dir=cache_dir)
        for rule in rules:
            counts = evaluate(
                result,
                case.truth,
                config=rule_config(rule, overrides),
                reference_turns=reference_turns,
            )
            total = out[rule].setdefault(case.variant, {})
            for kind, c in counts.items():
                total[kind] = total.get(kind, Counts()) + c
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="keep model-stage results here between runs")
    parser.add_argument("--rules", nargs="+", default=["timing", "completion"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--folder",
        "--fixtures",
        dest="fixtures",
        type=Path,
        default=REALISTIC,
        help="folder of fixtures (default: the development set tests/fixtures/realistic)",
    )
    where.add_argument(
        "--heldout",
        dest="fixtures",
        action="store_const",
        const=HELDOUT,
        help="the held-out set tests/fixtures/realistic_heldout",
    )
    where.add_argument(
        "--fresh",
        dest="fixtures",
        action="store_const",
        const=FRESH,
        help="the fresh set tests/fixtures/realistic_fresh (reporting only)",
    )
    parser.add_argument(
        "--reference-turns",
        action="store_true",
        help="diagnostic: judge on the truth's turns and roles with the pipeline's words",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        nargs="+",
        default=[],
        help="override numeric MetricsConfig fields, e.g. completion_max_trailing_s=0.3 "
        "(true/false fields as 1/0: cut_off_tails=0)",
    )
    args = parser.parse_args(argv)
    results = run(
        rules=args.rules,
        folder=args.fixtures,
        cache_dir=args.cache,
        reference_turns=args.reference_turns,
        overrides=parse_overrides(args.overrides),
    )
    for row in table(results):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
