"""Human-readable reports of one session: a self-contained HTML page and Markdown.

Both renderers are pure functions of the ``session.json`` document (a plain
dict), so they can run anywhere the document is: after an analysis, in the web
app, or on an archived file.

The HTML is rendered from Jinja2 templates in ``pipeline/templates/report/``
(autoescaped). This module turns the document into a *view*: plain strings and
SVG coordinates, already formatted, so the templates only lay them out and the
web app can render the same fragments (``report/_sections.html``,
``report/_macros.html``) in its own template environment. ``render_html``
returns one file with inline CSS and inline SVG charts, no scripts and no
external resources, that a clinical supervisor can open offline, print or
attach to an e-mail.

Every piece of text taken from the document is escaped. Optional keys may be
missing or ``None`` (schema 1.0 documents have no score, labels, units or
norms): the report then shows "—" instead of failing.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import jinja2

from pipeline.voice_levels import LEVEL_KEY_PREFIX

__all__ = [
    "ReportView",
    "Strip",
    "environment",
    "norm_strip",
    "render_html",
    "render_markdown",
    "report_view",
    "template_loader",
]

GENERATOR = "session-analyzer"
"""Named in the footer of every report."""

TEMPLATE_PACKAGE = "pipeline"
TEMPLATE_FOLDER = "templates"
PAGE_TEMPLATE = "report/page.html"

LOW_ROLE_CONFIDENCE = 0.6
"""Below this role-assignment confidence the report adds a prominent warning."""

PRIVACY_NOTICE = (
    "This report contains health information about a client. Share it only with "
    "people authorised to see it, and store it as you would a clinical record."
)
TRANSCRIPT_REMOVED_NOTE = (
    "The audio and the transcript were deleted after the analysis (retention setting); "
    "the measures above were kept."
)
BLOCKER_ADVICE = (
    "Fix what is listed (for example correct the speaker roles, or record each person on "
    "their own channel) and analyze again; until then read the measures as rough estimates."
)

ROLE_COLOURS = {"counselor": "#2563a8", "client": "#d9731a", "other": "#8a9099"}
VERDICT_COLOURS = {"yes": "#1f7a44", "no": "#b42318", "inconclusive": "#b26a00"}
UNKNOWN_VERDICT_COLOUR = "#5f6b7a"
VERDICT_EXPLANATIONS = {
    "yes": "The measures below are consistent with a client-led session.",
    "no": "The measures below indicate that the counselor led this session.",
    "inconclusive": "The recording does not allow a reliable judgement; see why below.",
}
BAND_LABELS = {"high": "high", "middle": "middle", "low": "low"}
COMPARISON_SYMBOLS = {
    ">=": "≥",
    "ge": "≥",
    "<=": "≤",
    "le": "≤",
    ">": ">",
    "gt": ">",
    "<": "<",
    "lt": "<",
    "==": "=",
    "eq": "=",
}
TICK_STEPS_S = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200)
"""Candidate spacings of time-axis ticks; the smallest giving at most ``MAX_TICKS`` wins."""
MAX_TICKS = 10
DASH = "—"
RANGE = "\u2013"
"""En dash between the two ends of a range."""
STRIP_MARGIN_PCT = 3.0
"""Room (percent of the strip's width) left at each end for the session's mark."""

Doc = Mapping[str, Any]


# --------------------------------------------------------------------------- reading


def _map(value: Any) -> Doc:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _maps(value: Any) -> list[Doc]:
    return [item for item in _seq(value) if isinstance(item, Mapping)]


def _float(value: Any) -> float | None:
    """A finite number, or ``None`` for anything else (bools, strings, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _strings(value: Any) -> list[str]:
    return [str(item) for item in _seq(value) if item is not None and str(item).strip()]


def _get(document: Doc, *path: str) -> Any:
    node: Any = document
    for key in path:
        node = _map(node).get(key)
    return node


# ----------------------------------------------------------------------- formatting


def _clock(seconds: float | None) -> str:
    """``mm:ss`` (``h:mm:ss`` from one hour on), rounded down to the second."""
    if seconds is None:
        return DASH
    total = int(max(seconds, 0.0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _span(seconds: float) -> str:
    """A length of time in words: ``45 s``, ``5 min``, ``2.5 min``."""
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} min"


def _seconds(value: Any, digits: int = 1) -> str:
    number = _float(value)
    return DASH if number is None else f"{number:.{digits}f} s"


def _percent(value: Any, digits: int = 1) -> str:
    number = _float(value)
    return DASH if number is None else f"{number * 100:.{digits}f}%"


def _number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    number = _float(value)
    if number is None:
        return DASH if value is None or isinstance(value, int | float) else str(value)
    return f"{number:.{digits}f}"


def _count(value: Any) -> str:
    number = _float(value)
    if number is None:
        return DASH
    return str(int(number)) if number == int(number) else f"{number:.1f}"


UNIT_FORMATS: dict[str, Callable[[float], str]] = {
    "share": lambda v: f"{v * 100:.1f}%",
    "per_10min": lambda v: f"{v:.2f}",
    "seconds": lambda v: f"{v:.1f} s",
    "ratio": lambda v: f"{v:.2f}",
    "per_utterance": lambda v: f"{v:.2f}",
    "words": lambda v: f"{v:.1f} words",
}
"""How a criterion's value, threshold and reference quantiles are written, by ``unit``."""


def _criterion_value(name: str, value: Any, unit: str | None = None) -> str:
    """A criterion's value (or threshold) in its unit, else in the unit its name suggests."""
    number = _float(value)
    if number is None:
        return _number(value)
    if unit in UNIT_FORMATS:
        return UNIT_FORMATS[unit](number)
    if name.endswith("_s"):
        return _seconds(number)
    if ("share" in name or "confidence" in name) and 0.0 <= number <= 1.0:
        return _percent(number)
    return _number(number)


def _threshold(criterion: Doc) -> str:
    name = _text(criterion.get("name"))
    threshold = criterion.get("threshold")
    if threshold is None:
        return DASH
    comparison = _text(criterion.get("comparison")).strip()
    symbol = COMPARISON_SYMBOLS.get(comparison.lower(), comparison)
    value = _criterion_value(name, threshold, _text(criterion.get("unit")) or None)
    return f"{symbol} {value}" if symbol else value


def _passed_mark(passed: Any) -> str:
    if passed is True:
        return "✓"
    return "✗" if passed is False else DASH


def _verdict(document: Doc) -> str:
    return _text(_get(document, "evidence", "client_led")).strip().lower() or "unknown"


def _role_label(role: Any, speaker: Any = None) -> str:
    if role in ("counselor", "client"):
        return str(role).capitalize()
    return f"Other ({speaker})" if speaker else "Other"


def _lane(role: Any) -> str:
    return str(role) if role in ("counselor", "client") else "other"


def _duration(document: Doc) -> float:
    """The recording's duration, else the end of its last segment or utterance, else 0."""
    duration = _float(_get(document, "audio", "duration_s"))
    if duration is not None and duration > 0:
        return duration
    ends = [
        _float(item.get("end")) or 0.0
        for key in ("segments", "utterances")
        for item in _maps(document.get(key))
    ]
    return max(ends, default=0.0)


def _tick_step(duration_s: float) -> int:
    for step in TICK_STEPS_S:
        if duration_s / step <= MAX_TICKS:
            return step
    return math.ceil(duration_s / MAX_TICKS / 3600) * 3600


def _ticks(duration_s: float) -> list[float]:
    if duration_s <= 0:
        return [0.0]
    step = _tick_step(duration_s)
    return [float(t) for t in range(0, int(duration_s) + 1, step)]


def _warnings(document: Doc) -> list[str]:
    """Role and document warnings, plus one for a low role confidence, without duplicates."""
    found = _strings(_get(document, "roles", "warnings")) + _strings(document.get("warnings"))
    confidence = _float(_get(document, "roles", "confidence"))
    if confidence is not None and confidence < LOW_ROLE_CONFIDENCE:
        found.append(
            f"Low confidence ({confidence * 100:.0f}%) that counselor and client were told "
            "apart correctly: check the transcript before relying on the verdict."
        )
    return list(dict.fromkeys(found))


def _blockers(document: Doc) -> list[str]:
    """Why the verdict is inconclusive (schema 2.0 ``evidence.reliability.blockers``)."""
    return list(dict.fromkeys(_strings(_get(document, "evidence", "reliability", "blockers"))))


def _not_in(texts: Sequence[str], blockers: Sequence[str]) -> tuple[str, ...]:
    """``texts`` less those a blocker already says (the evidence repeats its blockers as
    reasons, and a blocker quotes the diarization cues that are also warnings)."""
    said = " ".join(blockers).casefold()
    return tuple(t for t in texts if t.strip().casefold().rstrip(".") not in said)


def _shares(metrics: Doc) -> dict[str, float] | None:
    """Counselor, client and other shares of all speech, or ``None`` without speech."""
    speech = {role: _float(_get(metrics, role, "speech_s")) for role in ("counselor", "client")}
    shares = {role: _float(_get(metrics, role, "share")) for role in ("counselor", "client")}
    if shares["counselor"] is None or shares["client"] is None:
        total = sum(value or 0.0 for value in speech.values())
        if total <= 0:
            return None
        shares = {role: (value or 0.0) / total for role, value in speech.items()}
    counselor = min(max(shares["counselor"] or 0.0, 0.0), 1.0)
    client = min(max(shares["client"] or 0.0, 0.0), 1.0 - counselor)
    if counselor + client <= 0:
        return None
    return {"counselor": counselor, "client": client, "other": max(1.0 - counselor - client, 0.0)}


def _backchannels(metrics: Doc, role: str) -> Any:
    value = _get(metrics, role, "backchannels")
    return value if value is not None else _get(metrics, "backchannels", role)


def _interruption_events(metrics: Doc) -> list[Doc]:
    events = [
        e
        for e in _maps(_get(metrics, "interruptions", "events"))
        if _float(e.get("start")) is not None
    ]
    return sorted(events, key=lambda e: _float(e.get("start")) or 0.0)


def _event_title(event: Doc) -> str:
    interrupter = _text(event.get("interrupter")) or "someone"
    interrupted = _text(event.get("interrupted")) or "someone"
    start = _clock(_float(event.get("start")))
    if event.get("kind") == "overlap_attempt":
        return f"{start} {interrupter} talks over {interrupted} (overlap attempt, no floor taken)"
    return f"{start} {interrupter} interrupts {interrupted}"


def _role_rows(metrics: Doc) -> list[tuple[str, str, str]]:
    """(measure, counselor, client) rows of the key-numbers table."""
    interruptions = _map(metrics.get("interruptions"))
    latency = _map(metrics.get("latency"))

    def both(label: str, key: str, fmt: Callable[[Any], str]) -> tuple[str, str, str]:
        return (label, fmt(_get(metrics, "counselor", key)), fmt(_get(metrics, "client", key)))

    def made(role: str, other: str) -> str:
        count = _count(interruptions.get(f"{role}_interrupts_{other}"))
        rate = _float(interruptions.get(f"{role}_interrupts_{other}_per_10min"))
        return count if rate is None else f"{count} ({rate:.1f} per 10 min)"

    return [
        ("Interruptions made", made("counselor", "client"), made("client", "counselor")),
        both("Speech time", "speech_s", _seconds),
        both("Share of speech", "share", _percent),
        both("Turns", "turns", _count),
        both("Words", "words", _count),
        both("Share of words", "word_share", _percent),
        both("Words per minute", "words_per_minute", lambda v: _number(v, 0)),
        both("Median turn", "median_turn_s", _seconds),
        both("Mean turn", "mean_turn_s", _seconds),
        both("Longest turn", "longest_turn_s", _seconds),
        (
            "Backchannels (“mm-hmm”, “right”)",
            _count(_backchannels(metrics, "counselor")),
            _count(_backchannels(metrics, "client")),
        ),
        (
            "Overlap attempts (no floor taken)",
            _count(interruptions.get("overlap_attempts_by_counselor")),
            _count(interruptions.get("overlap_attempts_by_client")),
        ),
        (
            "Median pause before answering",
            _seconds(latency.get("client_to_counselor_s"), 2),
            _seconds(latency.get("counselor_to_client_s"), 2),
        ),
    ]


def _total(metrics: Doc, key: str) -> Any:
    """A count, stored as ``total`` (or ``count``) under ``metrics[key]`` (1.0) or under
    ``metrics["behaviour"][key]`` (2.0)."""
    counts = _map(metrics.get(key)) or _map(_get(metrics, "behaviour", key))
    return counts.get("total", counts.get("count"))


def _kinds(counts: Doc, kinds: Sequence[str]) -> str:
    """`` (simple 2, complex 2)``: the parts of a count that has them, else ``""``."""
    parts = [f"{kind} {_count(counts.get(kind))}" for kind in kinds if kind in counts]
    return f" ({', '.join(parts)})" if parts else ""


def _session_rows(metrics: Doc) -> list[tuple[str, str]]:
    """(measure, value) rows about the whole session; MI behaviour counts are estimates."""
    behaviour = _map(metrics.get("behaviour"))
    questions = _map(metrics.get("questions")) or _map(behaviour.get("questions"))
    open_q, closed_q = questions.get("open"), questions.get("closed")
    total_q = questions.get("total")
    if total_q is None and _float(open_q) is not None and _float(closed_q) is not None:
        total_q = (_float(open_q) or 0.0) + (_float(closed_q) or 0.0)
    monologue_s = _float(metrics.get("monologue_threshold_s")) or 60.0
    ratio = metrics.get("reflection_to_question_ratio")
    if ratio is None:
        ratio = behaviour.get("reflection_to_question_ratio")
    rows = [
        ("Talk ratio, client to counselor", _number(metrics.get("talk_ratio_client_to_counselor"))),
        ("Silence", _seconds(metrics.get("silence_s"))),
        ("Overlapping speech", _seconds(metrics.get("overlap_s"))),
        ("Longest counselor monologue", _seconds(metrics.get("longest_counselor_monologue_s"))),
        (
            f"Counselor turns over {monologue_s:g} s",
            _count(metrics.get("counselor_turns_over_60s")),
        ),
        (
            "Overlap attempts (no floor taken), all",
            _count(_get(metrics, "interruptions", "overlap_attempts")),
        ),
        (
            "Counselor questions, open / closed (estimate)",
            f"{_count(open_q)} / {_count(closed_q)} (total {_count(total_q)})",
        ),
        (
            "Counselor reflections (estimate)",
            _count(_total(metrics, "reflections"))
            + _kinds(_map(behaviour.get("reflections")), ("simple", "complex")),
        ),
        ("Reflection-to-question ratio (estimate)", _number(ratio)),
    ]
    if not behaviour:
        rows.append(
            ("Advice or persuasion cues (estimate)", _count(_total(metrics, "advice_cues")))
        )
        return rows
    talk = _map(behaviour.get("client_talk"))
    rows += [
        (
            "Mean counselor turn (estimate)",
            _criterion_value("", behaviour.get("mean_counselor_turn_words"), "words"),
        ),
        (
            "Counselor information, advice, options (estimate)",
            _count(_total(metrics, "therapist_input"))
            + _kinds(
                _map(behaviour.get("therapist_input")),
                ("information", "advice", "options", "negotiation"),
            ),
        ),
        (
            "Client change / neutral / sustain talk (estimate)",
            f"{_count(talk.get('change'))} / {_count(talk.get('neutral'))} / "
            f"{_count(talk.get('sustain'))}",
        ),
        ("Change talk share (estimate)", _percent(behaviour.get("change_talk_share"), 0)),
    ]
    return rows


def _footer_items(document: Doc) -> list[tuple[str, str]]:
    audio = _map(document.get("audio"))
    duration = _float(audio.get("duration_s"))
    models = _map(document.get("models"))
    sha = _text(audio.get("sha256"))
    items = [
        ("File", _text(audio.get("file_name")) or DASH),
        ("Duration", DASH if duration is None else f"{_clock(duration)} ({duration:.1f} s)"),
        ("SHA-256", f"{sha[:12]}…" if sha else DASH),
        ("Language", _text(document.get("language")) or DASH),
    ]
    items += [(f"Model ({key})", _text(value)) for key, value in models.items() if value]
    items.append(("Schema version", _text(document.get("schema_version")) or DASH))
    return items


# ------------------------------------------------------------- reference-band strips


@dataclass(frozen=True)
class Band:
    """One quality group's spread on a strip, as percentages of the strip's width.

    ``p5``/``p95`` are the whiskers, ``p25``/``p75`` the box, ``p50`` the median.
    """

    group: str
    """``high`` (expert-rated good MI) or ``low`` (poor MI)."""
    label: str
    n: int | None
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    middle: str
    """The middle half in the criterion's unit: ``35.0%–55.0%``."""
    title: str
    """A tooltip with every quantile."""

    @property
    def box_width(self) -> float:
        return round(self.p75 - self.p25, 2)

    @property
    def whisker_width(self) -> float:
        return round(self.p95 - self.p5, 2)


@dataclass(frozen=True)
class Strip:
    """A criterion against the reference sessions: two bands, this session's mark, the threshold.

    Positions are percentages of the strip's width, so the same geometry draws an
    inline SVG (``x="25.0%"``) in a report and a CSS strip (``left:25.0%``) in a table.
    """

    bands: tuple[Band, ...]
    mark: float | None
    """Where this session's value falls, or ``None`` without a value."""
    threshold: float | None
    value: str
    """This session's value in the criterion's unit (for the mark's tooltip)."""
    label: str
    """An accessible one-line description of the whole strip."""
    dots: tuple[float, ...] = ()
    """Further values on the same axis (a trainee's sessions in a cohort report)."""


def _quantiles(group: Any) -> dict[str, float] | None:
    values = {key: _float(_map(group).get(key)) for key in ("p5", "p25", "p50", "p75", "p95")}
    if any(value is None for value in values.values()):
        return None
    return {key: float(value) for key, value in values.items() if value is not None}


GROUP_LABELS = {"high": "Expert-rated good MI", "low": "Expert-rated poor MI"}


def norm_strip(
    norms: Any,
    value: Any,
    *,
    threshold: Any = None,
    others: Sequence[float] = (),
    fmt: Callable[[float], str] = lambda v: f"{v:.2f}",
    mark_label: str = "This session",
) -> Strip | None:
    """Lay out a criterion's reference bands, its value and its threshold on one axis.

    Parameters
    ----------
    norms : mapping
        ``{"high": {"n", "p5", "p25", "p50", "p75", "p95"}, "low": {...}}`` as in a
        schema 2.0 criterion's ``norms``.
    value, threshold : float or None
        This session's value and the criterion's threshold, in the quantiles' unit.
    others : sequence of float
        Further values drawn as dots (a trainee's sessions around their median).
    mark_label : str
        What the mark is, for the accessible label ("This session", "Trainee").
    fmt : callable
        Writes a number in the criterion's unit (tooltips, the "middle half" text).

    Returns
    -------
    Strip or None
        ``None`` when neither group has all five quantiles. The axis runs from the
        smallest to the largest of the quantiles, the value and the threshold, with
        ``STRIP_MARGIN_PCT`` left free at each end.
    """
    groups = {name: _quantiles(_map(norms).get(name)) for name in ("high", "low")}
    present = {name: q for name, q in groups.items() if q is not None}
    if not present:
        return None
    number, limit = _float(value), _float(threshold)
    extra = [v for v in (_float(o) for o in others) if v is not None]
    points = [v for q in present.values() for v in q.values()]
    points += [v for v in (number, limit, *extra) if v is not None]
    low, high = min(points), max(points)
    if high - low <= 0:
        high = low + 1.0
    inner = 100.0 - 2 * STRIP_MARGIN_PCT

    def x(v: float) -> float:
        return round(STRIP_MARGIN_PCT + (v - low) / (high - low) * inner, 2)

    bands = []
    for name, q in present.items():
        n = _float(_map(_map(norms).get(name)).get("n"))
        count = None if n is None else int(n)
        label = GROUP_LABELS[name]
        title = (
            f"{label}{'' if count is None else f' (n={count})'}: middle half "
            f"{fmt(q['p25'])}{RANGE}{fmt(q['p75'])}, median {fmt(q['p50'])}, "
            f"5th{RANGE}95th percentile {fmt(q['p5'])}{RANGE}{fmt(q['p95'])}"
        )
        bands.append(
            Band(
                group=name,
                label=label,
                n=count,
                p5=x(q["p5"]),
                p25=x(q["p25"]),
                p50=x(q["p50"]),
                p75=x(q["p75"]),
                p95=x(q["p95"]),
                middle=f"{fmt(q['p25'])}{RANGE}{fmt(q['p75'])}",
                title=title,
            )
        )
    shown = DASH if number is None else fmt(number)
    described = "; ".join(b.title for b in bands)
    return Strip(
        bands=tuple(bands),
        mark=None if number is None else x(number),
        threshold=None if limit is None else x(limit),
        value=shown,
        label=f"{mark_label} {shown}. {described}",
        dots=tuple(x(v) for v in extra),
    )


def _place(percentile: float, group: str) -> str:
    """``above 62% of expert-rated good sessions``; the ends of the range in words."""
    if percentile >= 99.5:
        return f"above nearly all expert-rated {group} sessions"
    if percentile < 0.5:
        return f"below nearly all expert-rated {group} sessions"
    return f"above {percentile:.0f}% of expert-rated {group} sessions"


def _percentile_text(norms: Doc) -> str:
    """Where the value falls among the reference sessions, as one sentence, or ``""``.

    ``Above 62% of expert-rated good sessions and 88% of poor ones.``
    """
    high, low = _float(norms.get("percentile_high")), _float(norms.get("percentile_low"))
    if high is None and low is None:
        return ""
    if high is not None and low is not None and 0.5 <= high < 99.5 and 0.5 <= low < 99.5:
        return f"Above {high:.0f}% of expert-rated good sessions and {low:.0f}% of poor ones."
    parts = [_place(v, g) for v, g in ((high, "good"), (low, "poor")) if v is not None]
    text = "; ".join(parts)
    return f"{text[0].upper()}{text[1:]}."


# ------------------------------------------------------------------------------ view


@dataclass(frozen=True)
class CriterionView:
    """One criterion of the verdict as the report shows it."""

    name: str
    label: str
    description: str
    value: str
    threshold: str
    better: str
    """``higher``, ``lower`` or ``""`` (schema 1.0)."""
    passed: bool | None
    strip: Strip | None
    percentile: str
    auc: str
    """How well the measure separates good from poor MI (``AUC 0.65``), or ``""``."""


@dataclass(frozen=True)
class ScoreView:
    """The calibrated score (schema 2.0) with its band and its meaning."""

    value: str
    """``0.81``, or "—" when not computable."""
    percent: str
    band: str
    """``high``/``middle``/``low`` or ``""``."""
    meaning: str
    mark: float | None
    """The score's position on a 0–100% gauge."""


@dataclass(frozen=True)
class SvgText:
    x: str
    y: str
    text: str
    anchor: str = "start"
    size: int = 12
    cls: str = ""
    style: str = ""
    weight: str = ""


@dataclass(frozen=True)
class TalkPart:
    role: str
    label: str
    x: str
    width: str
    colour: str
    title: str
    text: SvgText | None


@dataclass(frozen=True)
class Segment:
    lane: str
    x: str
    y: str
    width: str
    height: str
    colour: str
    start: str
    end: str
    title: str


@dataclass(frozen=True)
class Marker:
    index: int
    kind: str
    """``interruption`` or ``attempt``."""
    start: str
    title: str
    x: str
    y1: str
    y2: str
    path: str
    fill: str
    colour: str
    dashed: bool
    target: int | None


@dataclass(frozen=True)
class Lane:
    x: str
    y: str
    width: str
    height: str
    label: SvgText


@dataclass(frozen=True)
class Axis:
    """A time axis: the base line and the ticks (``x``, ``mm:ss``)."""

    y: str
    left: str
    right: str
    tick_bottom: str
    label_y: str
    ticks: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Timeline:
    width: str
    height: str
    lanes: tuple[Lane, ...]
    segments: tuple[Segment, ...]
    markers: tuple[Marker, ...]
    axis: Axis


@dataclass(frozen=True)
class CoursePoint:
    x: str
    y: str
    title: str


@dataclass(frozen=True)
class TimeCourse:
    width: str
    height: str
    backgrounds: tuple[tuple[str, str, str, str, str], ...]
    """(x, y, width, height, fill) of the client-side and counselor-side halves."""
    grid: tuple[tuple[str, str, str, str, bool], ...]
    """(x1, y, x2, label, is the 50% line)."""
    labels: tuple[SvgText, ...]
    paths: tuple[str, ...]
    points: tuple[CoursePoint, ...]
    empty: SvgText | None
    axis: Axis
    note: str


@dataclass(frozen=True)
class Line:
    """One transcript line."""

    index: int
    lane: str
    start: str
    speaker: str
    clock: str
    who: str
    flag: str
    text: str


@dataclass(frozen=True)
class ReportView:
    """Everything the report templates show, formatted; built by :func:`report_view`."""

    file_name: str
    subtitle: str
    schema_version: str
    verdict: str
    verdict_colour: str
    verdict_explanation: str
    score: ScoreView | None
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    blockers: tuple[str, ...]
    blocker_advice: str
    roles: tuple[tuple[str, str], ...]
    criteria: tuple[CriterionView, ...]
    has_norms: bool
    norms_source: str
    talk_parts: tuple[TalkPart, ...]
    talk_label: str
    talk_legend: tuple[tuple[str, str, str, str], ...]
    """(role, colour, label, "59.7 s · 35.7%")."""
    chips: tuple[str, ...]
    role_rows: tuple[tuple[str, str, str], ...]
    session_rows: tuple[tuple[str, str], ...]
    timeline: Timeline
    events: tuple[tuple[str, int | None], ...]
    """(title, transcript line) of each interruption, in time order."""
    time_course: TimeCourse
    transcript: tuple[Line, ...]
    transcript_note: str
    footer: tuple[tuple[str, str], ...]
    generator: str
    privacy: str
    role_colours: Mapping[str, str]


def _f(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def _score(evidence: Doc) -> ScoreView | None:
    """The score block, or ``None`` for a 1.0 document (no score keys at all)."""
    if not any(key in evidence for key in ("score", "score_band", "score_meaning")):
        return None
    score = _float(evidence.get("score"))
    if score is not None:
        score = min(max(score, 0.0), 1.0)
    band = _text(evidence.get("score_band")).strip().lower()
    return ScoreView(
        value=DASH if score is None else f"{score:.2f}",
        percent=DASH if score is None else f"{score * 100:.0f}%",
        band=BAND_LABELS.get(band, ""),
        meaning=_text(evidence.get("score_meaning")).strip(),
        mark=None if score is None else round(score * 100, 2),
    )


def _criteria(evidence: Doc) -> list[CriterionView]:
    views = []
    for criterion in _maps(evidence.get("criteria")):
        name = _text(criterion.get("name"))
        unit = _text(criterion.get("unit")) or None
        norms = _map(criterion.get("norms"))

        def fmt(v: float, name: str = name, unit: str | None = unit) -> str:
            return _criterion_value(name, v, unit)

        description = _text(criterion.get("description"))
        label = _text(criterion.get("label")) or description or name
        auc = _float(norms.get("auc"))
        passed = criterion.get("passed")
        better = _text(criterion.get("better")).strip().lower()
        views.append(
            CriterionView(
                name=name,
                label=label,
                description=description if description != label else "",
                value=_criterion_value(name, criterion.get("value"), unit),
                threshold=_threshold(criterion),
                better=better if better in ("higher", "lower") else "",
                passed=passed if isinstance(passed, bool) else None,
                strip=norm_strip(
                    norms, criterion.get("value"), threshold=criterion.get("threshold"), fmt=fmt
                ),
                percentile=_percentile_text(norms),
                auc="" if auc is None else f"AUC {auc:.2f}",
            )
        )
    return views


def _norms_source(evidence: Doc) -> str:
    sources = [
        _text(_map(c.get("norms")).get("source")).strip() for c in _maps(evidence.get("criteria"))
    ]
    return next((s for s in sources if s), "")


def _roles(document: Doc) -> list[tuple[str, str]]:
    roles = _map(document.get("roles"))
    confidence = _float(roles.get("confidence"))
    rows = [
        ("Counselor", _text(roles.get("counselor")) or DASH),
        ("Client", _text(roles.get("client")) or DASH),
        ("Assigned by", _text(roles.get("method")) or DASH),
        ("Confidence", DASH if confidence is None else f"{confidence * 100:.0f}%"),
    ]
    others = _strings(roles.get("others"))
    if others:
        rows.append(("Other speakers", ", ".join(others)))
    diarization = _map(document.get("diarization"))
    quality = _text(diarization.get("quality")) or _text(
        _get(document, "evidence", "reliability", "diarization_quality")
    )
    method = _text(diarization.get("method"))
    if quality or method:
        shown = quality or DASH
        rows.append(("Speaker separation", f"{shown} ({method})" if method else shown))
    channels = _map(diarization.get("channels"))
    if (_float(_map(channels.get("evidence")).get("channels")) or 0) >= 2:
        rows.append(("Stereo channels", _text(channels.get("reason")) or DASH))
    measures = _map(diarization.get("measures"))
    unheard = _float(measures.get("speech_without_words"))
    if unheard is not None:
        rows.append(("Speech without words", f"{_percent(unheard, 0)} of the detected speech"))
    counselor, client = (
        _float(measures.get(LEVEL_KEY_PREFIX + _text(roles.get(role))))
        for role in ("counselor", "client")
    )
    if counselor is not None and client is not None:
        apart = abs(counselor - client)
        rows.append(
            (
                "Voice levels",
                f"counselor {counselor:.0f} dBFS, client {client:.0f} dBFS ({apart:.0f} dB apart)",
            )
        )
    return rows


def _talk(metrics: Doc) -> tuple[list[TalkPart], str]:
    shares = _shares(metrics)
    if shares is None:
        return [], "No speech detected"
    parts = []
    x = 0.0
    for role in ("counselor", "client", "other"):
        share = shares[role]
        if share <= 0:
            continue
        w = share * 1000.0
        text = None
        if w >= 70:
            label = f"{_role_label(role)} {_percent(share)}" if w >= 200 else _percent(share)
            text = SvgText(
                _f(x + w / 2), "27.5", label, "middle", 15, style="fill:#fff", weight="700"
            )
        parts.append(
            TalkPart(
                role=role,
                label=_role_label(role),
                x=_f(x),
                width=_f(w),
                colour=ROLE_COLOURS[role],
                title=f"{_role_label(role)}: {_percent(share)}",
                text=text,
            )
        )
        x += w
    label = ", ".join(f"{_role_label(r)} {_percent(s)}" for r, s in shares.items() if s > 0)
    return parts, f"Share of speech: {label}"


def _chips(metrics: Doc) -> list[str]:
    other_s = _float(metrics.get("other_speech_s"))
    return [
        f"Silence {_seconds(metrics.get('silence_s'))}",
        f"Overlapping speech {_seconds(metrics.get('overlap_s'))}",
        *([f"Other speakers {_seconds(other_s)}"] if other_s else []),
        f"Client-to-counselor talk ratio {_number(metrics.get('talk_ratio_client_to_counselor'))}",
    ]


def _utterance_finder(utterances: Sequence[Doc]) -> Callable[[Doc], int | None]:
    """Map an interruption event to the index of the transcript line that best shows it."""
    starts = [_float(u.get("start")) or 0.0 for u in utterances]

    def find(event: Doc) -> int | None:
        if not utterances:
            return None
        start = _float(event.get("start")) or 0.0
        interrupter = event.get("interrupter")
        hi = bisect.bisect_right(starts, start + 2.0)
        lo = bisect.bisect_left(starts, start - 2.0)
        near = [i for i in range(lo, hi) if utterances[i].get("role") == interrupter]
        if near:
            return min(near, key=lambda i: abs(starts[i] - start))
        return max(bisect.bisect_right(starts, start) - 1, 0)

    return find


def _axis(
    x: Callable[[float], float], duration_s: float, y: float, left: float, right: float
) -> Axis:
    return Axis(
        y=_f(y),
        left=_f(left),
        right=_f(right),
        tick_bottom=_f(y + 5),
        label_y=_f(y + 18),
        ticks=tuple((_f(x(tick)), _clock(tick)) for tick in _ticks(duration_s)),
    )


def _timeline(document: Doc, find: Callable[[Doc], int | None]) -> Timeline:
    segments = _maps(document.get("segments"))
    events = _interruption_events(_map(document.get("metrics")))
    duration = _duration(document)
    span = duration if duration > 0 else 1.0
    lanes = ["counselor", "client"]
    if any(_lane(s.get("role")) == "other" for s in segments):
        lanes.append("other")
    width, left, right, top, lane_h, gap = 1000.0, 92.0, 24.0, 22.0, 28.0, 8.0
    plot_w = width - left - right
    axis_y = top + len(lanes) * (lane_h + gap)

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), span) / span

    lane_views = []
    for i, lane in enumerate(lanes):
        y = top + i * (lane_h + gap)
        label = SvgText(
            _f(left - 10), _f(y + lane_h / 2 + 4.5), _role_label(lane), "end", 13, weight="600"
        )
        lane_views.append(Lane(_f(left), _f(y), _f(plot_w), _f(lane_h), label))
    segment_views = []
    for segment in segments:
        start = _float(segment.get("start")) or 0.0
        end = _float(segment.get("end"))
        end = start if end is None else max(end, start)
        lane = _lane(segment.get("role"))
        y = top + lanes.index(lane) * (lane_h + gap)
        segment_views.append(
            Segment(
                lane=lane,
                x=_f(x(start), 2),
                y=_f(y),
                width=_f(max(x(end) - x(start), 0.6), 2),
                height=_f(lane_h),
                colour=ROLE_COLOURS[lane],
                start=_f(start, 3),
                end=_f(end, 3),
                title=(
                    f"{_clock(start)}{RANGE}{_clock(end)} "
                    f"{_role_label(segment.get('role'), segment.get('speaker'))}"
                ),
            )
        )
    markers = []
    for n, event in enumerate(events):
        start = _float(event.get("start")) or 0.0
        colour = ROLE_COLOURS[_lane(event.get("interrupter"))]
        attempt = event.get("kind") == "overlap_attempt"
        ex = x(start)
        markers.append(
            Marker(
                index=n,
                kind="attempt" if attempt else "interruption",
                start=_f(start, 3),
                title=_event_title(event),
                x=_f(ex, 2),
                y1=_f(top - 4),
                y2=_f(axis_y - gap),
                path=(
                    f"M{ex - 6:.2f},{top - 16:.1f} L{ex + 6:.2f},{top - 16:.1f} "
                    f"L{ex:.2f},{top - 5:.1f} Z"
                ),
                fill="#fff" if attempt else colour,
                colour=colour,
                dashed=attempt,
                target=find(event),
            )
        )
    return Timeline(
        width=f"{width:.0f}",
        height=f"{axis_y + 26:.0f}",
        lanes=tuple(lane_views),
        segments=tuple(segment_views),
        markers=tuple(markers),
        axis=_axis(x, duration, axis_y, left, width - right),
    )


def _time_course(document: Doc) -> TimeCourse:
    course = _map(_get(document, "metrics", "time_course"))
    windows = _maps(course.get("windows"))
    duration = _duration(document)
    ends = [_float(w.get("end")) or 0.0 for w in windows]
    span = max([duration, *ends]) or 1.0
    width, height, left, right, top, bottom = 1000.0, 230.0, 52.0, 24.0, 12.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), span) / span

    def y(share: float) -> float:
        return top + (1.0 - min(max(share, 0.0), 1.0)) * plot_h

    backgrounds = (
        (_f(left), _f(top), _f(plot_w), _f(plot_h / 2), "#fdf3ea"),
        (_f(left), _f(y(0.5)), _f(plot_w), _f(plot_h / 2), "#eef4fb"),
    )
    grid = tuple(
        (_f(left), _f(y(share)), _f(width - right), f"{share * 100:.0f}%", share == 0.5)
        for share in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    grid_labels = tuple(
        SvgText(_f(left - 8), _f(y(share) + 4), f"{share * 100:.0f}%", "end", 11)
        for share in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    labels = (
        *grid_labels,
        SvgText(_f(left + 8), _f(top + 15), "client talks more ↑", size=11, style="fill:#a8520c"),
        SvgText(
            _f(left + 8),
            _f(top + plot_h - 7),
            "counselor talks more ↓",
            size=11,
            style="fill:#2563a8",
        ),
    )
    points: list[CoursePoint] = []
    runs: list[list[tuple[float, float]]] = [[]]
    for window in windows:
        client_share = _float(window.get("client_share"))
        start = _float(window.get("start")) or 0.0
        end = _float(window.get("end"))
        end = start if end is None else min(max(end, start), span)
        if client_share is None:
            if runs[-1]:
                runs.append([])
            continue
        point = (x((start + end) / 2), y(client_share))
        runs[-1].append(point)
        points.append(
            CoursePoint(
                _f(point[0]),
                _f(point[1]),
                f"{_clock(_float(window.get('start')))}{RANGE}{_clock(_float(window.get('end')))}: "
                f"client {_percent(client_share, 0)} of speech",
            )
        )
    paths = tuple(
        " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(run))
        for run in runs
        if len(run) >= 2
    )
    empty = (
        None
        if points
        else SvgText(
            _f(left + plot_w / 2),
            _f(top + plot_h / 2 - 10),
            "Not enough speech for a time course",
            "middle",
            14,
        )
    )
    window_s, step_s = _float(course.get("window_s")), _float(course.get("step_s"))
    note = ""
    if window_s is not None and step_s is not None:
        note = (
            f" Each point is the share within a {_span(window_s)} window; windows start every "
            f"{_span(step_s)}. Gaps are windows without speech."
        )
    return TimeCourse(
        width=f"{width:.0f}",
        height=f"{height:.0f}",
        backgrounds=backgrounds,
        grid=grid,
        labels=labels,
        paths=paths,
        points=tuple(points),
        empty=empty,
        axis=_axis(x, span, top + plot_h, left, width - right),
        note=note,
    )


def _transcript(document: Doc, find: Callable[[Doc], int | None]) -> list[Line]:
    utterances = _maps(document.get("utterances"))
    flags: dict[int, str] = {}
    for event in _interruption_events(_map(document.get("metrics"))):
        target = find(event)
        if target is not None and event.get("interrupter") == utterances[target].get("role"):
            flags[target] = "overlap" if event.get("kind") == "overlap_attempt" else "interrupts"
    lines = []
    for i, utterance in enumerate(utterances):
        start = _float(utterance.get("start")) or 0.0
        role, speaker = utterance.get("role"), utterance.get("speaker")
        lines.append(
            Line(
                index=i,
                lane=_lane(role),
                start=_f(start, 3),
                speaker=_text(speaker),
                clock=_clock(start),
                who=_role_label(role, speaker),
                flag=flags.get(i, ""),
                text=_text(utterance.get("text")).strip(),
            )
        )
    return lines


def report_view(document: Mapping[str, Any]) -> ReportView:
    """Everything the report templates show, formatted, from a ``session.json`` document.

    The web app renders the same view with the shared templates
    (``report/_sections.html``) inside its own page.
    """
    metrics = _map(document.get("metrics"))
    evidence = _map(document.get("evidence"))
    verdict = _verdict(document)
    file_name = _text(_get(document, "audio", "file_name")) or "recording"
    duration = _float(_get(document, "audio", "duration_s"))
    find = _utterance_finder(_maps(document.get("utterances")))
    criteria = _criteria(evidence)
    talk_parts, talk_label = _talk(metrics)
    legend = tuple(
        (
            role,
            ROLE_COLOURS[role],
            _role_label(role),
            f"{_seconds(_get(metrics, role, 'speech_s'))} · {_percent(_get(metrics, role, 'share'))}",
        )
        for role in ("counselor", "client")
    )
    removed = bool(document.get("transcript_removed"))
    transcript = [] if removed else _transcript(document, find)
    blockers = _blockers(document)
    return ReportView(
        file_name=file_name,
        subtitle=f"{file_name} · {_clock(duration)}" if duration is not None else file_name,
        schema_version=_text(document.get("schema_version")),
        verdict=verdict,
        verdict_colour=VERDICT_COLOURS.get(verdict, UNKNOWN_VERDICT_COLOUR),
        verdict_explanation=VERDICT_EXPLANATIONS.get(verdict, "No verdict was recorded."),
        score=_score(evidence),
        reasons=_not_in(_strings(evidence.get("reasons")), blockers),
        warnings=_not_in(_warnings(document), blockers),
        blockers=tuple(blockers),
        blocker_advice=BLOCKER_ADVICE,
        roles=tuple(_roles(document)),
        criteria=tuple(criteria),
        has_norms=any(c.strip is not None for c in criteria),
        norms_source=_norms_source(evidence),
        talk_parts=tuple(talk_parts),
        talk_label=talk_label,
        talk_legend=legend,
        chips=tuple(_chips(metrics)),
        role_rows=tuple(_role_rows(metrics)),
        session_rows=tuple(_session_rows(metrics)),
        timeline=_timeline(document, find),
        events=tuple((_event_title(e), find(e)) for e in _interruption_events(metrics)),
        time_course=_time_course(document),
        transcript=tuple(transcript),
        transcript_note=(
            TRANSCRIPT_REMOVED_NOTE
            if removed
            else ""
            if transcript
            else "No speech was transcribed."
        ),
        footer=tuple(_footer_items(document)),
        generator=GENERATOR,
        privacy=PRIVACY_NOTICE,
        role_colours=ROLE_COLOURS,
    )


# ----------------------------------------------------------------------------- HTML


def template_loader() -> jinja2.BaseLoader:
    """The loader of the report templates (``report/...``), for other environments too.

    The web app adds it to its own environment to render ``report/_sections.html``
    and ``report/_macros.html`` inside its pages.
    """
    return jinja2.PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER)


@functools.cache
def environment() -> jinja2.Environment:
    """The report templates (``pipeline/templates``), autoescaped, strict about undefined names.

    The templates ship as package data and load relative to the package, so an
    installed wheel renders the same report as a source checkout.
    """
    return jinja2.Environment(
        loader=template_loader(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(document: dict[str, Any]) -> str:
    """Render a ``session.json`` document as one self-contained HTML page.

    Parameters
    ----------
    document : dict
        The session document (``schema_version``, ``audio``, ``roles``,
        ``segments``, ``utterances``, ``metrics``, ``evidence``...), schema 1.0 or 2.0.

    Returns
    -------
    str
        A complete HTML5 document with inline CSS and SVG, no scripts and no
        external resources: a summary with the verdict, the score and its meaning,
        why a verdict is inconclusive, and each criterion against the expert-rated
        reference sessions; talk-time bars and key numbers; a speaker timeline with
        interruptions; the client's share over time; the transcript (line ``t-<i>``
        with ``data-start`` seconds) and a footer with provenance and a privacy notice.
    """
    template = environment().get_template(PAGE_TEMPLATE)
    return template.render(report=report_view(document))


# ------------------------------------------------------------------------- Markdown


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#"})


def _md(value: Any) -> str:
    """Text that Markdown shows literally: HTML characters as entities (some renderers pass
    ``\\<`` through as a tag), Markdown characters backslash-escaped, newlines flattened."""
    text = " ".join(_text(value).split())
    return escape(text, quote=False).translate(_MD_SPECIAL)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, right: int = 1) -> str:
    align = ["---" if i < right else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_reference(criterion: CriterionView) -> str:
    if criterion.strip is None:
        return DASH
    return "; ".join(
        f"{'good' if b.group == 'high' else 'poor'} {b.middle}" for b in criterion.strip.bands
    )


def render_markdown(document: dict[str, Any]) -> str:
    """Render a ``session.json`` document as Markdown with the same content as the HTML.

    Sections: verdict, score and reasons, why a verdict is inconclusive (what a reason or
    warning would repeat is said once, there), warnings,
    criteria table (with the middle half of expert-rated good and poor sessions and
    where this session falls), speakers, key numbers, interruption events
    (``mm:ss``) and the transcript, one line per utterance as
    ``**[mm:ss] Counselor:** text``. Document text is escaped.
    """
    view = report_view(document)
    metrics = _map(document.get("metrics"))
    out = [
        f"# Session report: {_md(view.file_name)}",
        "",
        f"## Client-led: {_md(view.verdict)}",
        "",
    ]
    out += [_md(view.verdict_explanation), ""]
    if view.score is not None:
        band = f" ({view.score.band} band)" if view.score.band else ""
        out += [f"**Score: {_md(view.score.value)}**{band}", ""]
        if view.score.meaning:
            out += [_md(view.score.meaning), ""]
    if view.reasons:
        out += [f"- {_md(r)}" for r in view.reasons] + [""]
    if view.blockers:
        out += ["### Why there is no verdict", ""]
        out += [f"- **{_md(b)}**" for b in view.blockers] + ["", _md(view.blocker_advice), ""]
    if view.warnings:
        out += ["### ⚠ Warnings", ""] + [f"- **{_md(w)}**" for w in view.warnings] + [""]

    out += ["## Criteria", ""]
    if view.criteria and view.has_norms:
        out.append(
            _md_table(
                (
                    "Criterion",
                    "Value",
                    "Threshold",
                    "Better",
                    "Middle half of expert-rated sessions",
                    "This session",
                    "Passed",
                ),
                (
                    (
                        c.label if c.label == c.name else f"{c.label} ({c.name})",
                        c.value,
                        c.threshold,
                        c.better or DASH,
                        _md_reference(c),
                        c.percentile or DASH,
                        _passed_mark(c.passed),
                    )
                    for c in view.criteria
                ),
            )
        )
        if view.norms_source:
            out += ["", f"Reference sessions: {_md(view.norms_source)}."]
    elif view.criteria:
        out.append(
            _md_table(
                ("Criterion", "Value", "Threshold", "Passed"),
                ((c.name, c.value, c.threshold, _passed_mark(c.passed)) for c in view.criteria),
            )
        )
    else:
        out.append("No criteria were recorded.")
    out.append("")

    out += ["## Speakers", ""]
    out += [f"- {_md(k)}: {_md(v)}" for k, v in view.roles]
    out.append("")

    out += ["## Key numbers", ""]
    out += [_md_table(("Measure", "Counselor", "Client"), view.role_rows), ""]
    out += [_md_table(("Whole session", "Value"), view.session_rows), ""]
    out += ["Questions, reflections and advice cues are estimates from the words alone.", ""]

    out += ["## Interruptions", ""]
    events = _interruption_events(metrics)
    out += [f"- {_md(_event_title(e))}" for e in events] or ["None detected."]
    out.append("")

    out += ["## Transcript", ""]
    for line in view.transcript:
        out += [f"**[{line.clock}] {_md(line.who)}:** {_md(line.text)}", ""]
    if view.transcript_note:
        out += [_md(view.transcript_note), ""]

    out += ["---", ""]
    out += [f"- {_md(k)}: {_md(v)}" for k, v in view.footer]
    out += ["", f"Generated by {GENERATOR} from session.json.", "", f"*{_md(PRIVACY_NOTICE)}*", ""]
    return "\n".join(out)
