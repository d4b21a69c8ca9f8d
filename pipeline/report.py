"""Human-readable reports of one session: a self-contained HTML page and Markdown.

Both renderers are pure functions of the ``session.json`` document (a plain
dict), so they can run anywhere the document is: after an analysis, in the web
app, or on an archived file. ``render_html`` returns one file with inline CSS
and inline SVG charts, no scripts and no external resources, that a clinical
supervisor can open offline, print or attach to an e-mail.

Every piece of text taken from the document is escaped. Optional keys may be
missing or ``None``: the report then shows "—" instead of failing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["render_html", "render_markdown"]

GENERATOR = "session-analyzer"
"""Named in the footer of every report."""

LOW_ROLE_CONFIDENCE = 0.6
"""Below this role-assignment confidence the report adds a prominent warning."""

PRIVACY_NOTICE = (
    "This report contains health information about a client. Share it only with "
    "people authorised to see it, and store it as you would a clinical record."
)

ROLE_COLOURS = {"counselor": "#2563a8", "client": "#d9731a", "other": "#8a9099"}
VERDICT_COLOURS = {"yes": "#1f7a44", "no": "#b42318", "inconclusive": "#b26a00"}
UNKNOWN_VERDICT_COLOUR = "#5f6b7a"
VERDICT_EXPLANATIONS = {
    "yes": "The measures below are consistent with a client-led session.",
    "no": "At least one measure indicates that the counselor led this session.",
    "inconclusive": "The recording does not allow a reliable judgement; see the reasons.",
}
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
"""En dash between the two ends of a time range."""

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


def _criterion_value(name: str, value: Any) -> str:
    """A criterion's value (or threshold) in the unit its name suggests."""
    number = _float(value)
    if number is None:
        return _number(value)
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
    value = _criterion_value(name, threshold)
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
        ("Interruptions made", made("counselor", "client"), made("client", "counselor")),
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
    """A lexical count, stored as ``total`` (or ``count``) under ``metrics[key]``."""
    counts = _map(metrics.get(key))
    return counts.get("total", counts.get("count"))


def _session_rows(metrics: Doc) -> list[tuple[str, str]]:
    """(measure, value) rows about the whole session; lexical counts are estimates."""
    questions = _map(metrics.get("questions"))
    open_q, closed_q = questions.get("open"), questions.get("closed")
    total_q = questions.get("total")
    if total_q is None and _float(open_q) is not None and _float(closed_q) is not None:
        total_q = (_float(open_q) or 0.0) + (_float(closed_q) or 0.0)
    monologue_s = _float(metrics.get("monologue_threshold_s")) or 60.0
    return [
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
        ("Counselor reflections (estimate)", _count(_total(metrics, "reflections"))),
        (
            "Reflection-to-question ratio (estimate)",
            _number(metrics.get("reflection_to_question_ratio")),
        ),
        ("Advice or persuasion cues (estimate)", _count(_total(metrics, "advice_cues"))),
    ]


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


# ----------------------------------------------------------------------------- HTML


CSS = """
:root { --counselor: #2563a8; --client: #d9731a; --other: #8a9099; --ink: #1d2733;
  --muted: #5f6b7a; --line: #dde3ea; --bg: #f4f6f9; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 40px; }
header.page { display: flex; justify-content: space-between; align-items: baseline;
  flex-wrap: wrap; gap: 4px 16px; margin-bottom: 16px; }
h1 { font-size: 24px; margin: 0; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 14px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.sub, .note { color: var(--muted); font-size: 13px; }
section.card { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 22px; margin-bottom: 18px; }
.summary { display: grid; grid-template-columns: minmax(0, 1.6fr) minmax(0, 1fr); gap: 22px; }
.verdict { border-left: 8px solid var(--verdict); padding: 6px 0 6px 16px; }
.verdict .big { font-size: 34px; font-weight: 750; color: var(--verdict); margin: 0;
  line-height: 1.15; }
.verdict .explain { margin: 4px 0 0; color: var(--muted); }
ul.reasons { margin: 14px 0 0; padding-left: 20px; }
ul.reasons li { margin: 4px 0; }
.roles { background: var(--bg); border-radius: 8px; padding: 12px 16px; font-size: 14px;
  align-self: start; }
.roles dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; }
.roles dt { color: var(--muted); }
.roles dd { margin: 0; font-weight: 600; }
.warnings { background: #fff4e0; border: 1px solid #f0c36d; border-left: 6px solid #b26a00;
  border-radius: 8px; padding: 10px 14px; margin-bottom: 16px; }
.warnings strong { color: #7a4a00; }
.warnings ul { margin: 4px 0 0; padding-left: 20px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em;
  font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td code { font-size: 12px; color: var(--muted); }
.pass { color: #1f7a44; font-weight: 700; } .fail { color: #b42318; font-weight: 700; }
.na { color: var(--muted); }
.tables { display: grid; grid-template-columns: minmax(0, 1.2fr) minmax(0, 1fr); gap: 22px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 13px; margin: 8px 0; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.swatch { width: 12px; height: 12px; border-radius: 3px; display: inline-block; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0 0; }
.chip { background: var(--bg); border-radius: 999px; padding: 3px 12px; font-size: 13px; }
svg { display: block; width: 100%; height: auto; font-family: inherit; }
svg text { fill: var(--ink); }
ol.events { margin: 8px 0 0; padding-left: 24px; font-size: 14px; }
ol.events li { margin: 2px 0; }
ol.events.many { columns: 2 24em; column-gap: 32px; }
.transcript p { margin: 0; padding: 5px 10px; border-left: 4px solid var(--other);
  border-radius: 0 4px 4px 0; }
.transcript p + p { margin-top: 3px; }
.transcript .counselor { border-color: var(--counselor); background: #eef4fb; }
.transcript .client { border-color: var(--client); background: #fdf3ea; }
.transcript .other { background: #f2f3f5; }
.transcript .ts { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
.transcript .who { font-weight: 700; margin: 0 4px; }
.transcript .counselor .who { color: var(--counselor); }
.transcript .client .who { color: #a8520c; }
.transcript .flag { font-size: 11px; font-weight: 600; border-radius: 4px; padding: 0 5px;
  margin-left: 4px; background: #fde2e0; color: #8a1c12; white-space: nowrap; }
.transcript p:target { outline: 2px solid var(--ink); }
a { color: inherit; }
footer { font-size: 13px; color: var(--muted); padding: 4px 4px 0; }
footer dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 14px; margin: 0 0 10px; }
footer dd { margin: 0; overflow-wrap: anywhere; }
.privacy { border: 1px solid var(--line); background: #fff; border-radius: 8px;
  padding: 8px 12px; color: var(--ink); }
@media (max-width: 760px) { .summary, .tables { grid-template-columns: 1fr; }
 }
@media print { body { background: #fff; font-size: 12px; } main { max-width: none; padding: 0; }
  section.card { border: none; padding: 0; margin-bottom: 20px; }
  section.card, tr, .transcript p, svg { break-inside: avoid; }
  #transcript { break-inside: auto; } .transcript p:target { outline: none; } }
"""


def _e(value: Any) -> str:
    return escape(_text(value), quote=True)


def _svg_text(
    x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{_e(text)}</text>"
    )


def _html_warnings(document: Doc) -> str:
    warnings = _warnings(document)
    if not warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return (
        f'<div class="warnings" role="alert"><strong>⚠ Check before relying on this '
        f"report</strong><ul>{items}</ul></div>"
    )


def _html_criteria(document: Doc) -> str:
    criteria = _maps(_get(document, "evidence", "criteria"))
    if not criteria:
        return '<p class="note">No criteria were recorded.</p>'
    rows = []
    for criterion in criteria:
        name = _text(criterion.get("name"))
        passed = criterion.get("passed")
        if passed is True:
            mark = '<td class="num pass" title="passed">✓</td>'
        elif passed is False:
            mark = '<td class="num fail" title="not passed">✗</td>'
        else:
            mark = '<td class="num na" title="not assessed">—</td>'
        description = _text(criterion.get("description"))
        label = (
            f"{_e(description)}<br><code>{_e(name)}</code>"
            if description
            else (f"<code>{_e(name)}</code>")
        )
        rows.append(
            f"<tr><td>{label}</td>"
            f'<td class="num">{_e(_criterion_value(name, criterion.get("value")))}</td>'
            f'<td class="num">{_e(_threshold(criterion))}</td>{mark}</tr>'
        )
    return (
        '<table class="criteria"><thead><tr><th>Criterion</th><th class="num">Value</th>'
        '<th class="num">Threshold</th><th class="num">Passed</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _html_roles(document: Doc) -> str:
    roles = _map(document.get("roles"))
    confidence = _float(roles.get("confidence"))
    others = _strings(roles.get("others"))
    rows = [
        ("Counselor", _text(roles.get("counselor")) or DASH),
        ("Client", _text(roles.get("client")) or DASH),
        ("Assigned by", _text(roles.get("method")) or DASH),
        ("Confidence", DASH if confidence is None else f"{confidence * 100:.0f}%"),
    ]
    if others:
        rows.append(("Other speakers", ", ".join(others)))
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<div class="roles"><h3 style="margin-top:0">Speakers</h3><dl>{body}</dl></div>'


def _html_summary(document: Doc) -> str:
    verdict = _verdict(document)
    colour = VERDICT_COLOURS.get(verdict, UNKNOWN_VERDICT_COLOUR)
    explanation = VERDICT_EXPLANATIONS.get(verdict, "No verdict was recorded.")
    reasons = _strings(_get(document, "evidence", "reasons"))
    reasons_html = (
        '<ul class="reasons">' + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>"
        if reasons
        else ""
    )
    return (
        '<section class="card" id="summary"><h2>Summary</h2>'
        f"{_html_warnings(document)}"
        '<div class="summary"><div>'
        f'<div class="verdict" style="--verdict:{colour}" data-verdict="{_e(verdict)}">'
        f'<p class="big">Client-led: {_e(verdict)}</p><p class="explain">{_e(explanation)}</p>'
        f"</div>{reasons_html}</div>{_html_roles(document)}</div>"
        f"<h3>Criteria</h3>{_html_criteria(document)}</section>"
    )


def _svg_talk_bar(metrics: Doc) -> str:
    shares = _shares(metrics)
    width, height = 1000.0, 44.0
    if shares is None:
        return (
            f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
            'aria-label="No speech detected">'
            f'<rect x="0" y="4" width="{width:.0f}" height="36" rx="6" fill="#e6e9ee"/>'
            f"{_svg_text(width / 2, 27, 'No speech detected', anchor='middle', size=14)}"
            "</svg>"
        )
    parts = []
    x = 0.0
    for role in ("counselor", "client", "other"):
        share = shares[role]
        if share <= 0:
            continue
        w = share * width
        parts.append(
            f'<rect class="talk {role}" x="{x:.1f}" y="4" width="{w:.1f}" height="36" '
            f'fill="{ROLE_COLOURS[role]}"><title>{_e(_role_label(role))}: '
            f"{_e(_percent(share))}</title></rect>"
        )
        if w >= 70:
            label = f"{_role_label(role)} {_percent(share)}" if w >= 200 else _percent(share)
            parts.append(
                _svg_text(
                    x + w / 2,
                    27.5,
                    label,
                    anchor="middle",
                    size=15,
                    extra=' font-weight="700" style="fill:#fff"',
                )
            )
        x += w
    label = ", ".join(f"{_role_label(r)} {_percent(s)}" for r, s in shares.items() if s > 0)
    return (
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="Share of speech: {_e(label)}">'
        f'<clipPath id="talk-clip"><rect x="0" y="4" width="{width:.0f}" height="36" rx="6"/>'
        f'</clipPath><g clip-path="url(#talk-clip)">{"".join(parts[::1])}</g></svg>'
    )


def _html_talk_time(document: Doc) -> str:
    metrics = _map(document.get("metrics"))
    legend = []
    for role in ("counselor", "client"):
        speech = _seconds(_get(metrics, role, "speech_s"))
        share = _percent(_get(metrics, role, "share"))
        legend.append(
            f'<span><i class="swatch" style="background:{ROLE_COLOURS[role]}"></i>'
            f"<b>{_role_label(role)}</b> {_e(speech)} · {_e(share)}</span>"
        )
    chips = [
        f"Silence {_seconds(metrics.get('silence_s'))}",
        f"Overlapping speech {_seconds(metrics.get('overlap_s'))}",
        *(
            [f"Other speakers {_seconds(other_s)}"]
            if (other_s := _float(metrics.get("other_speech_s")))
            else []
        ),
        f"Client-to-counselor talk ratio {_number(metrics.get('talk_ratio_client_to_counselor'))}",
    ]
    role_rows = "".join(
        f'<tr><td>{_e(label)}</td><td class="num">{_e(c)}</td><td class="num">{_e(k)}</td></tr>'
        for label, c, k in _role_rows(metrics)
    )
    session_rows = "".join(
        f'<tr><td>{_e(label)}</td><td class="num">{_e(v)}</td></tr>'
        for label, v in _session_rows(metrics)
    )
    return (
        '<section class="card" id="talk-time"><h2>Talk time</h2>'
        f"{_svg_talk_bar(metrics)}"
        f'<div class="legend">{"".join(legend)}</div>'
        f'<div class="chips">{"".join(f"<span class=chip>{_e(c)}</span>" for c in chips)}</div>'
        '<div class="tables"><div><h3>By role</h3><table><thead><tr><th>Measure</th>'
        '<th class="num">Counselor</th><th class="num">Client</th></tr></thead>'
        f"<tbody>{role_rows}</tbody></table></div>"
        '<div><h3>Whole session</h3><table><thead><tr><th>Measure</th><th class="num">Value</th>'
        f"</tr></thead><tbody>{session_rows}</tbody></table>"
        '<p class="note">Questions, reflections and advice cues are estimated from the words '
        "alone; a human coder (MITI) may count differently.</p></div></div></section>"
    )


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


def _time_axis(
    x: Callable[[float], float], duration_s: float, y: float, left: float, right: float
) -> str:
    parts = [f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="#9aa4b1"/>']
    for tick in _ticks(duration_s):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{y:.1f}" x2="{tx:.1f}" y2="{y + 5:.1f}" stroke="#9aa4b1"/>'
        )
        parts.append(
            _svg_text(tx, y + 18, _clock(tick), anchor="middle", size=11, extra=' class="tick"')
        )
    return "".join(parts)


def _svg_timeline(document: Doc, find: Callable[[Doc], int | None]) -> str:
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
    height = axis_y + 26

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), span) / span

    parts = []
    for i, lane in enumerate(lanes):
        y = top + i * (lane_h + gap)
        parts.append(
            f'<rect class="lane" x="{left:.1f}" y="{y:.1f}" width="{plot_w:.1f}" '
            f'height="{lane_h:.1f}" fill="#f1f3f6" rx="3"/>'
        )
        parts.append(
            _svg_text(
                left - 10,
                y + lane_h / 2 + 4.5,
                _role_label(lane),
                anchor="end",
                size=13,
                extra=' font-weight="600"',
            )
        )
    for segment in segments:
        start = _float(segment.get("start")) or 0.0
        end = _float(segment.get("end"))
        end = start if end is None else max(end, start)
        lane = _lane(segment.get("role"))
        y = top + lanes.index(lane) * (lane_h + gap)
        w = max(x(end) - x(start), 0.6)
        title = (
            f"{_clock(start)}{RANGE}{_clock(end)} "
            f"{_role_label(segment.get('role'), segment.get('speaker'))}"
        )
        parts.append(
            f'<rect class="seg {lane}" x="{x(start):.2f}" y="{y:.1f}" width="{w:.2f}" '
            f'height="{lane_h:.1f}" fill="{ROLE_COLOURS[lane]}" '
            f'data-start="{start:.3f}" data-end="{end:.3f}"><title>{_e(title)}</title>'
            "</rect>"
        )
    for n, event in enumerate(events):
        start = _float(event.get("start")) or 0.0
        colour = ROLE_COLOURS[_lane(event.get("interrupter"))]
        attempt = event.get("kind") == "overlap_attempt"
        ex = x(start)
        fill = "#fff" if attempt else colour
        dash = ' stroke-dasharray="3 2"' if attempt else ""
        marker = (
            f'<line x1="{ex:.2f}" y1="{top - 4:.1f}" x2="{ex:.2f}" y2="{axis_y - gap:.1f}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<path d="M{ex - 6:.2f},{top - 16:.1f} L{ex + 6:.2f},{top - 16:.1f} '
            f'L{ex:.2f},{top - 5:.1f} Z" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'
        )
        target = find(event)
        if target is not None:
            marker = f'<a href="#t-{target}">{marker}</a>'
        parts.append(
            f'<g class="intr {"attempt" if attempt else "interruption"}" id="intr-{n}" '
            f'data-start="{start:.3f}"><title>{_e(_event_title(event))}</title>{marker}</g>'
        )
    parts.append(_time_axis(x, duration, axis_y, left, width - right))
    return (
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        'aria-label="Who spoke when, with interruptions marked">'
        f"{''.join(parts)}</svg>"
    )


def _html_timeline(document: Doc) -> str:
    metrics = _map(document.get("metrics"))
    events = _interruption_events(metrics)
    find = _utterance_finder(_maps(document.get("utterances")))
    legend = "".join(
        f'<span><i class="swatch" style="background:{ROLE_COLOURS[r]}"></i>{_role_label(r)}</span>'
        for r in ("counselor", "client")
    )
    legend += "<span>▼ interruption (colour of the interrupter)</span>"
    legend += "<span>▽ overlap attempt (the other kept the floor)</span>"
    if events:
        items = []
        for event in events:
            target = find(event)
            text = _e(_event_title(event))
            items.append(
                f'<li><a href="#t-{target}">{text}</a></li>'
                if target is not None
                else f"<li>{text}</li>"
            )
        many = " many" if len(items) > 6 else ""
        listing = (
            f'<h3>Interruptions and overlaps</h3><ol class="events{many}">{"".join(items)}</ol>'
        )
    else:
        listing = '<p class="note">No interruptions or overlap attempts were detected.</p>'
    return (
        '<section class="card" id="timeline"><h2>Who spoke when</h2>'
        f'<div class="legend">{legend}</div>{_svg_timeline(document, find)}{listing}</section>'
    )


def _svg_time_course(document: Doc) -> str:
    windows = _maps(_get(document, "metrics", "time_course", "windows"))
    duration = _duration(document)
    ends = [_float(w.get("end")) or 0.0 for w in windows]
    span = max([duration, *ends]) or 1.0
    width, height, left, right, top, bottom = 1000.0, 230.0, 52.0, 24.0, 12.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * min(max(t, 0.0), span) / span

    def y(share: float) -> float:
        return top + (1.0 - min(max(share, 0.0), 1.0)) * plot_h

    parts = [
        f'<rect x="{left:.1f}" y="{top:.1f}" width="{plot_w:.1f}" height="{plot_h / 2:.1f}" '
        'fill="#fdf3ea"/>',
        f'<rect x="{left:.1f}" y="{y(0.5):.1f}" width="{plot_w:.1f}" '
        f'height="{plot_h / 2:.1f}" fill="#eef4fb"/>',
    ]
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        gy = y(share)
        style = (
            'stroke="#3b4654" stroke-width="1.2" stroke-dasharray="6 4" class="ref50"'
            if share == 0.5
            else 'stroke="#dde3ea"'
        )
        parts.append(
            f'<line x1="{left:.1f}" y1="{gy:.1f}" x2="{width - right:.1f}" y2="{gy:.1f}" {style}/>'
        )
        parts.append(_svg_text(left - 8, gy + 4, f"{share * 100:.0f}%", anchor="end", size=11))
    parts.append(
        _svg_text(left + 8, top + 15, "client talks more ↑", size=11, extra=' style="fill:#a8520c"')
    )
    parts.append(
        _svg_text(
            left + 8,
            top + plot_h - 7,
            "counselor talks more ↓",
            size=11,
            extra=' style="fill:#2563a8"',
        )
    )
    points: list[tuple[float, float, Doc]] = []
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
        points.append((*point, window))
    for run in runs:
        if len(run) >= 2:
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(run)
            )
            parts.append(
                f'<path class="course" d="{path}" fill="none" stroke="#d9731a" '
                'stroke-width="2.5" stroke-linejoin="round"/>'
            )
    for px, py, window in points:
        title = (
            f"{_clock(_float(window.get('start')))}{RANGE}{_clock(_float(window.get('end')))}: "
            f"client {_percent(window.get('client_share'), 0)} of speech"
        )
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#fff" stroke="#d9731a" '
            f'stroke-width="2"><title>{_e(title)}</title></circle>'
        )
    if not points:
        parts.append(
            _svg_text(
                left + plot_w / 2,
                top + plot_h / 2 - 10,
                "Not enough speech for a time course",
                anchor="middle",
                size=14,
            )
        )
    parts.append(_time_axis(x, span, top + plot_h, left, width - right))
    return (
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        'aria-label="Client share of speech over time">'
        f"{''.join(parts)}</svg>"
    )


def _html_time_course(document: Doc) -> str:
    course = _map(_get(document, "metrics", "time_course"))
    window, step = _float(course.get("window_s")), _float(course.get("step_s"))
    detail = ""
    if window is not None and step is not None:
        detail = (
            f" Each point is the share within a {_span(window)} window; windows start every "
            f"{_span(step)}. Gaps are windows without speech."
        )
    return (
        '<section class="card" id="time-course"><h2>Client share of speech over time</h2>'
        f"{_svg_time_course(document)}"
        f'<p class="note">Above the dashed 50% line the client spoke more than the counselor.'
        f"{_e(detail)}</p></section>"
    )


def _html_transcript(document: Doc) -> str:
    utterances = _maps(document.get("utterances"))
    if not utterances:
        return (
            '<section class="card" id="transcript"><h2>Transcript</h2>'
            '<p class="note">No speech was transcribed.</p></section>'
        )
    flags: dict[int, str] = {}
    find = _utterance_finder(utterances)
    for event in _interruption_events(_map(document.get("metrics"))):
        target = find(event)
        if target is not None and event.get("interrupter") == utterances[target].get("role"):
            attempt = event.get("kind") == "overlap_attempt"
            flags[target] = "overlap" if attempt else "interrupts"
    lines = []
    for i, utterance in enumerate(utterances):
        start = _float(utterance.get("start")) or 0.0
        role = utterance.get("role")
        speaker = utterance.get("speaker")
        flag = f'<span class="flag">{flags[i]}</span>' if i in flags else ""
        lines.append(
            f'<p class="{_lane(role)}" id="t-{i}" data-start="{start:.3f}" '
            f'title="{_e(speaker)}"><span class="ts">[{_clock(start)}]</span>'
            f'<span class="who">{_e(_role_label(role, speaker))}</span>{flag} '
            f"{_e(utterance.get('text')).strip()}</p>"
        )
    body = "\n".join(lines)
    return f'<section class="card transcript" id="transcript"><h2>Transcript</h2>{body}</section>'


def _html_footer(document: Doc) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in _footer_items(document))
    return (
        f"<footer><dl>{items}</dl>"
        f"<p>Generated by {GENERATOR} from session.json. Measures are automatic estimates "
        "from speech recognition and speaker diarization; they support, not replace, a "
        "supervisor's judgement.</p>"
        f'<p class="privacy"><strong>Privacy.</strong> {_e(PRIVACY_NOTICE)}</p></footer>'
    )


def render_html(document: dict[str, Any]) -> str:
    """Render a ``session.json`` document as one self-contained HTML page.

    Parameters
    ----------
    document : dict
        The session document (``schema_version``, ``audio``, ``roles``,
        ``segments``, ``utterances``, ``metrics``, ``evidence``...).

    Returns
    -------
    str
        A complete HTML5 document with inline CSS and SVG, no scripts and no
        external resources: a summary with the verdict and criteria, talk-time
        bars and key numbers, a speaker timeline with interruptions, the client's
        share over time, the transcript (line ``t-<i>`` with ``data-start``
        seconds) and a footer with provenance and a privacy notice.
    """
    file_name = _text(_get(document, "audio", "file_name")) or "recording"
    duration = _float(_get(document, "audio", "duration_s"))
    subtitle = f"{file_name} · {_clock(duration)}" if duration is not None else file_name
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="robots" content="noindex">'
        f"<title>Session report · {_e(file_name)}</title><style>{CSS}</style></head>\n"
        f'<body><main><header class="page"><h1>Session report</h1>'
        f'<span class="sub">{_e(subtitle)}</span></header>\n'
        f"{_html_summary(document)}\n{_html_talk_time(document)}\n"
        f"{_html_timeline(document)}\n{_html_time_course(document)}\n"
        f"{_html_transcript(document)}\n{_html_footer(document)}\n</main></body></html>\n"
    )


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


def render_markdown(document: dict[str, Any]) -> str:
    """Render a ``session.json`` document as Markdown with the same content as the HTML.

    Sections: verdict and reasons, warnings, criteria table, speakers, key
    numbers, interruption events (``mm:ss``) and the transcript, one line per
    utterance as ``**[mm:ss] Counselor:** text``. Document text is escaped.
    """
    metrics = _map(document.get("metrics"))
    roles = _map(document.get("roles"))
    verdict = _verdict(document)
    file_name = _text(_get(document, "audio", "file_name")) or "recording"
    out = [f"# Session report: {_md(file_name)}", "", f"## Client-led: {_md(verdict)}", ""]
    out += [_md(VERDICT_EXPLANATIONS.get(verdict, "No verdict was recorded.")), ""]
    reasons = _strings(_get(document, "evidence", "reasons"))
    if reasons:
        out += [f"- {_md(r)}" for r in reasons] + [""]
    warnings = _warnings(document)
    if warnings:
        out += ["### ⚠ Warnings", ""] + [f"- **{_md(w)}**" for w in warnings] + [""]

    out += ["## Criteria", ""]
    criteria = _maps(_get(document, "evidence", "criteria"))
    out.append(
        _md_table(
            ("Criterion", "Value", "Threshold", "Passed"),
            (
                (
                    _text(c.get("name")),
                    _criterion_value(_text(c.get("name")), c.get("value")),
                    _threshold(c),
                    _passed_mark(c.get("passed")),
                )
                for c in criteria
            ),
        )
        if criteria
        else "No criteria were recorded."
    )
    out.append("")

    confidence = _float(roles.get("confidence"))
    out += ["## Speakers", ""]
    out += [
        f"- Counselor: {_md(roles.get('counselor') or DASH)}",
        f"- Client: {_md(roles.get('client') or DASH)}",
        f"- Assigned by: {_md(roles.get('method') or DASH)}",
        f"- Confidence: {DASH if confidence is None else f'{confidence * 100:.0f}%'}",
    ]
    others = _strings(roles.get("others"))
    if others:
        out.append(f"- Other speakers: {_md(', '.join(others))}")
    out.append("")

    out += ["## Key numbers", ""]
    out += [_md_table(("Measure", "Counselor", "Client"), _role_rows(metrics)), ""]
    out += [_md_table(("Whole session", "Value"), _session_rows(metrics)), ""]
    out += ["Questions, reflections and advice cues are estimates from the words alone.", ""]

    out += ["## Interruptions", ""]
    events = _interruption_events(metrics)
    out += [f"- {_md(_event_title(e))}" for e in events] or ["None detected."]
    out.append("")

    out += ["## Transcript", ""]
    utterances = _maps(document.get("utterances"))
    for utterance in utterances:
        start = _float(utterance.get("start"))
        label = _role_label(utterance.get("role"), utterance.get("speaker"))
        out += [f"**[{_clock(start or 0.0)}] {_md(label)}:** {_md(utterance.get('text'))}", ""]
    if not utterances:
        out += ["No speech was transcribed.", ""]

    out += ["---", ""]
    out += [f"- {_md(k)}: {_md(v)}" for k, v in _footer_items(document)]
    out += ["", f"Generated by {GENERATOR} from session.json.", "", f"*{_md(PRIVACY_NOTICE)}*", ""]
    return "\n".join(out)
