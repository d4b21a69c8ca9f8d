"""A cohort's tables and report: ``cohort.csv``/``.parquet``, ``trainees.csv``, ``cohort.html``.

Plain pandas and string building, no Prefect: one row per session with its
key measures (read from its ``session.json``), one row per trainee, and a
self-contained HTML page with an inline SVG plot per key measure across
trainees. Ids and numbers only: no transcript text leaves ``session.json``.
"""

from __future__ import annotations

import html
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from flows.manifest import SessionSpec
from flows.status import MODEL_STAGES
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG
from pipeline.outputs import write_atomic

COHORT_CSV = "cohort.csv"
COHORT_PARQUET = "cohort.parquet"
TRAINEES_CSV = "trainees.csv"
COHORT_HTML = "cohort.html"

SESSION_COLUMNS: tuple[str, ...] = (
    "session_id",
    "trainee_id",
    "cohort",
    "session_date",
    "status",
    "error",
    "client_led",
    "duration_s",
    "client_share",
    "counselor_share",
    "client_word_share",
    "talk_ratio_client_to_counselor",
    "counselor_interruptions",
    "counselor_interruptions_per_10min",
    "client_interruptions_per_10min",
    "longest_counselor_monologue_s",
    "counselor_turns_over_60s",
    "counselor_questions",
    "open_questions",
    "reflections",
    "reflection_to_question_ratio",
    "roles_method",
    "roles_confidence",
    "speakers",
    "sha256",
    "cached",
    "wall_s",
    "session_json",
)
TEXT_COLUMNS = frozenset(
    {
        "session_id",
        "trainee_id",
        "cohort",
        "session_date",
        "status",
        "error",
        "client_led",
        "roles_method",
        "sha256",
        "session_json",
    }
)

KEY_MEASURES: dict[str, tuple[str, str]] = {
    "client_share": ("Client share of speech time", ">="),
    "counselor_interruptions_per_10min": ("Counselor interruptions per 10 minutes", "<="),
    "longest_counselor_monologue_s": ("Longest counselor turn (s)", "<="),
    "reflection_to_question_ratio": ("Reflections per question (estimate)", ">="),
}
"""The criteria of the verdict (docs/metrics.md): column → (title, direction of a pass)."""

DEFAULT_THRESHOLDS: dict[str, float] = {
    "client_share": DEFAULT_METRICS_CONFIG.min_client_share,
    "counselor_interruptions_per_10min": (
        DEFAULT_METRICS_CONFIG.max_counselor_interruptions_per_10min
    ),
    "longest_counselor_monologue_s": DEFAULT_METRICS_CONFIG.max_counselor_monologue_s,
    "reflection_to_question_ratio": DEFAULT_METRICS_CONFIG.min_reflection_to_question_ratio,
}


def session_row(
    spec: SessionSpec,
    summary: Mapping[str, Any],
    document: Mapping[str, Any] | None,
    *,
    wall_s: float | None = None,
) -> dict[str, Any]:
    """One ``cohort.csv`` row: the manifest's fields, the run's outcome, the key measures."""
    row: dict[str, Any] = dict.fromkeys(SESSION_COLUMNS)
    row.update(
        session_id=spec.session_id,
        trainee_id=spec.trainee_id,
        cohort=spec.cohort,
        session_date=spec.session_date,
        status=summary.get("status"),
        error=summary.get("error"),
        sha256=summary.get("sha256"),
        wall_s=None if wall_s is None else round(wall_s, 3),
    )
    computed = summary.get("computed")
    if computed is not None and summary.get("status") == "done":
        row["cached"] = not any(stage in computed for stage in MODEL_STAGES)
    if document is None:
        return row
    metrics, evidence, roles = document["metrics"], document["evidence"], document["roles"]
    interruptions = metrics["interruptions"]
    row.update(
        client_led=evidence["client_led"],
        duration_s=document["audio"]["duration_s"],
        client_share=metrics["client"]["share"],
        counselor_share=metrics["counselor"]["share"],
        client_word_share=metrics["client"]["word_share"],
        talk_ratio_client_to_counselor=metrics["talk_ratio_client_to_counselor"],
        counselor_interruptions=interruptions["counselor_interrupts_client"],
        counselor_interruptions_per_10min=interruptions["counselor_interrupts_client_per_10min"],
        client_interruptions_per_10min=interruptions["client_interrupts_counselor_per_10min"],
        longest_counselor_monologue_s=metrics["longest_counselor_monologue_s"],
        counselor_turns_over_60s=metrics["counselor_turns_over_60s"],
        counselor_questions=metrics["questions"]["total"],
        open_questions=metrics["questions"]["open"],
        reflections=metrics["reflections"]["total"],
        reflection_to_question_ratio=metrics["reflection_to_question_ratio"],
        roles_method=roles["method"],
        roles_confidence=roles["confidence"],
        speakers=len(document["speakers"]),
        sha256=document["audio"]["sha256"],
        session_json=summary.get("session_json"),
    )
    return row


def thresholds_of(document: Mapping[str, Any]) -> dict[str, float]:
    """The thresholds a session was judged by (its evidence criteria), by measure."""
    return {
        c["name"]: float(c["threshold"])
        for c in document["evidence"]["criteria"]
        if c["name"] in KEY_MEASURES
    }


def session_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The sessions as a typed table: text columns as strings, measures as floats."""
    frame = pd.DataFrame(list(rows), columns=list(SESSION_COLUMNS))
    for column in SESSION_COLUMNS:
        if column in TEXT_COLUMNS:
            frame[column] = frame[column].astype("string")
        elif column == "cached":
            frame[column] = frame[column].astype("boolean")
        elif column in (
            "counselor_interruptions",
            "counselor_turns_over_60s",
            "counselor_questions",
            "open_questions",
            "reflections",
            "speakers",
        ):
            frame[column] = frame[column].astype("Int64")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def trainee_table(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per trainee: sessions scored, median client share, interruptions, share client-led.

    ``interruptions_per_10min`` pools the trainee's sessions (all counselor
    interruptions over all scored minutes), so short sessions do not dominate;
    ``share_client_led`` counts a verdict of ``yes`` among scored sessions
    (``inconclusive`` is not ``yes``).
    """
    rows = []
    for trainee, group in sessions.groupby("trainee_id", sort=True):
        done = group[group["status"] == "done"]
        minutes = done["duration_s"].sum() / 60.0
        interruptions = done["counselor_interruptions"].sum()
        yes = int((done["client_led"] == "yes").sum())
        rows.append(
            {
                "trainee_id": trainee,
                "sessions": len(group),
                "sessions_scored": len(done),
                "sessions_failed": int((group["status"] == "failed").sum()),
                "median_client_share": _median(done["client_share"]),
                "interruptions_per_10min": (
                    round(float(interruptions) * 10.0 / minutes, 3) if minutes > 0 else None
                ),
                "median_longest_counselor_monologue_s": _median(
                    done["longest_counselor_monologue_s"]
                ),
                "median_reflection_to_question_ratio": _median(
                    done["reflection_to_question_ratio"]
                ),
                "sessions_client_led": yes,
                "sessions_inconclusive": int((done["client_led"] == "inconclusive").sum()),
                "share_client_led": round(yes / len(done), 3) if len(done) else None,
                "audio_hours": round(float(done["duration_s"].sum()) / 3600.0, 3),
            }
        )
    return pd.DataFrame(rows)


def _median(values: pd.Series) -> float | None:
    clean = values.dropna()
    return None if clean.empty else round(float(clean.median()), 3)


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        temporary = Path(out.name)
    try:
        frame.to_parquet(temporary, index=False)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_cohort_outputs(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    thresholds: Mapping[str, float] | None = None,
    title: str = "Cohort",
) -> dict[str, Path]:
    """Write cohort.csv, cohort.parquet, trainees.csv and cohort.html (each atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sessions = session_table(rows)
    trainees = trainee_table(sessions)
    paths = {
        "cohort_csv": write_atomic(out / COHORT_CSV, sessions.to_csv(index=False)),
        "trainees_csv": write_atomic(out / TRAINEES_CSV, trainees.to_csv(index=False)),
        "cohort_parquet": _write_parquet(sessions, out / COHORT_PARQUET),
        "cohort_html": write_atomic(
            out / COHORT_HTML,
            render_cohort_html(sessions, trainees, thresholds=thresholds, title=title),
        ),
    }
    return paths


# ------------------------------------------------------------------------------ HTML

VERDICT_COLOURS = {"yes": "#2e7d32", "no": "#c62828", "inconclusive": "#8d8d8d"}
_ROW_PX, _WIDTH_PX, _LEFT_PX, _RIGHT_PX, _TOP_PX, _BOTTOM_PX = 26, 760, 170, 30, 34, 40


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def measure_svg(
    sessions: pd.DataFrame, column: str, *, title: str, threshold: float | None, passes: str
) -> str:
    """A dot plot of one measure: a row per trainee, a dot per scored session, the median marked."""
    done = sessions[(sessions["status"] == "done") & sessions[column].notna()]
    trainees = sorted(sessions["trainee_id"].dropna().unique())
    height = _TOP_PX + _BOTTOM_PX + _ROW_PX * max(len(trainees), 1)
    values = [float(v) for v in done[column]]
    low = min([0.0, *values, *([threshold] if threshold is not None else [])])
    high = max([*values, *([threshold] if threshold is not None else []), low + 1e-6])
    high += (high - low) * 0.05
    plot_w = _WIDTH_PX - _LEFT_PX - _RIGHT_PX

    def x(value: float) -> float:
        return _LEFT_PX + (value - low) / (high - low) * plot_w

    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_WIDTH_PX}" '
        f'height="{height}" viewBox="0 0 {_WIDTH_PX} {height}" aria-labelledby="t-{column}">',
        f'<title id="t-{column}">{esc(title)}</title>',
        f'<text x="{_LEFT_PX}" y="18" class="ttl">{esc(title)}</text>',
    ]
    axis_y = height - _BOTTOM_PX + 6
    for tick in _ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{_TOP_PX}" y2="{axis_y}" class="grid"/>'
            f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle" class="tick">'
            f"{_number(tick)}</text>"
        )
    if threshold is not None:
        tx = x(threshold)
        label = f"threshold {'≥' if passes == '>=' else '≤'} {_number(threshold)}"
        near_right = tx > _LEFT_PX + plot_w * 0.75
        anchor, lx = ("end", tx - 4) if near_right else ("start", tx + 4)
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{_TOP_PX - 6}" y2="{axis_y}" class="thr"/>'
            f'<text x="{lx:.1f}" y="{_TOP_PX - 8}" text-anchor="{anchor}" class="thr-label">'
            f"{esc(label)}</text>"
        )
    for index, trainee in enumerate(trainees):
        cy = _TOP_PX + _ROW_PX * index + _ROW_PX / 2
        parts.append(
            f'<text x="{_LEFT_PX - 10}" y="{cy + 4:.1f}" text-anchor="end" class="lbl">'
            f"{esc(str(trainee))}</text>"
        )
        mine = done[done["trainee_id"] == trainee]
        for _, session in mine.iterrows():
            colour = VERDICT_COLOURS.get(str(session["client_led"]), "#555")
            value = float(session[column])
            parts.append(
                f'<circle cx="{x(value):.1f}" cy="{cy:.1f}" r="5" fill="{colour}" '
                f'fill-opacity="0.8"><title>{esc(str(session["session_id"]))}: '
                f"{_number(value)} (client-led: {esc(str(session['client_led']))})</title></circle>"
            )
        if not mine.empty:
            median = float(mine[column].median())
            parts.append(
                f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="{cy - 9:.1f}" '
                f'y2="{cy + 9:.1f}" class="med"><title>median {_number(median)}</title></line>'
            )
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:980px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
.scroll{overflow-x:auto}figure{margin:0 0 1rem}
table{border-collapse:collapse;font-size:13px;margin:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:bottom}
th{font-weight:600;max-width:9rem}td.text,th.text{text-align:left}
.ttl{font-weight:600;font-size:13px}.tick,.lbl,.thr-label{font-size:11px;fill:#444}
.grid{stroke:#eee}.thr{stroke:#444;stroke-dasharray:4 3}.med{stroke:#111;stroke-width:2}
.legend span{display:inline-block;margin-right:1rem}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
.failed{color:#c62828}
"""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float):
        return _number(value)
    return html.escape(str(value))


def _table(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    def cls(column: str) -> str:
        return ' class="text"' if column in TEXT_COLUMNS else ""

    head = "".join(f"<th{cls(c)}>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td{cls(c)}>{_cell(row[c])}</td>" for c in columns) + "</tr>"
        for _, row in frame.iterrows()
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def render_cohort_html(
    sessions: pd.DataFrame,
    trainees: pd.DataFrame,
    *,
    thresholds: Mapping[str, float] | None = None,
    title: str = "Cohort",
) -> str:
    """The self-contained cohort report: summary, trainee table, one plot per key measure."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    done = int((sessions["status"] == "done").sum())
    failed = int((sessions["status"] == "failed").sum())
    hours = float(sessions.loc[sessions["status"] == "done", "duration_s"].sum()) / 3600.0
    verdicts = sessions.loc[sessions["status"] == "done", "client_led"].value_counts()
    legend = "".join(
        f'<span><i class="dot" style="background:{colour}"></i>client-led: {name}</span>'
        for name, colour in VERDICT_COLOURS.items()
    )
    plots = "".join(
        "<figure>"
        + measure_svg(sessions, column, title=name, threshold=limits.get(column), passes=passes)
        + "</figure>"
        for column, (name, passes) in KEY_MEASURES.items()
    )
    failures = sessions[sessions["status"] == "failed"]
    failed_html = (
        "<h2>Sessions that failed</h2>" + _table(failures, ["session_id", "trainee_id", "error"])
        if not failures.empty
        else ""
    )
    trainee_columns = [
        "trainee_id",
        "sessions",
        "sessions_scored",
        "median_client_share",
        "interruptions_per_10min",
        "share_client_led",
    ]
    session_columns = [
        "session_id",
        "trainee_id",
        "status",
        "client_led",
        "duration_s",
        "client_share",
        "counselor_interruptions_per_10min",
        "longest_counselor_monologue_s",
        "reflection_to_question_ratio",
    ]
    summary = (
        f"{len(sessions)} sessions: {done} scored ({hours:.2f} h of audio), {failed} failed. "
        + ", ".join(f"{int(n)} judged {html.escape(str(v))}" for v, n in verdicts.items())
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}: client-led evidence</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}: client-led evidence</h1><p>{summary}</p>"
        f"<h2>Trainees</h2>{_table(trainees, trainee_columns) if not trainees.empty else ''}"
        f"<h2>Key measures across trainees</h2><p class='legend'>{legend} "
        "<span>▮ median of the trainee's sessions; dashed line: threshold</span></p>"
        f"{plots}{failed_html}<h2>Sessions</h2>{_table(sessions, session_columns)}"
        "<p>Measures are estimates from automatic transcription and diarization; "
        "see docs/metrics.md for each criterion.</p></body></html>"
    )
