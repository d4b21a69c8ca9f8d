"""A cohort's tables and report: ``cohort.csv``/``.parquet``, ``trainees.csv``, ``cohort.html``.

Plain pandas and Jinja2 templates, no Prefect: one row per session with its
score and key measures (read from its ``session.json``), one row per trainee, and
a self-contained HTML page (``pipeline/templates/report/cohort.html``, sharing the
session report's macros): per trainee the median score and the key measures
against the expert-rated reference sessions (norms) with each session beneath,
and an inline SVG plot per key measure across trainees. Ids and numbers only: no
transcript text leaves ``session.json``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flows.manifest import SessionSpec
from flows.status import MODEL_STAGES
from pipeline.norms import NormsError, load_norms
from pipeline.outputs import write_atomic
from pipeline.report import Strip, environment, norm_strip

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
    "score",
    "score_band",
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
    "diarization_method",
    "diarization_quality",
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
        "score_band",
        "roles_method",
        "diarization_method",
        "diarization_quality",
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


def default_references() -> dict[str, dict[str, Any]]:
    """The packaged reference norms (``pipeline/norms.json``) in :func:`references_of`'s layout.

    Used for measures whose sessions carry no norms of their own (schema 1.0
    documents, failed runs); empty when the norms cannot be read.
    """
    try:
        norms = load_norms()
    except NormsError:
        return {}
    return {
        name: {
            "threshold": norm.threshold,
            "comparison": ">=" if norm.better == "higher" else "<=",
            "better": norm.better,
            "norms": norm.to_dict(value=None, source=norms.source),
        }
        for name, norm in norms.measures.items()
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
    diarization = document.get("diarization") or {}  # absent before schema 2.0
    behaviour = metrics.get("behaviour") or {}  # schema 2.0 counts MI behaviour here
    questions = metrics.get("questions") or behaviour.get("questions") or {}
    row.update(
        client_led=evidence["client_led"],
        score=evidence.get("score"),
        score_band=evidence.get("score_band"),
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
        counselor_questions=questions.get("total"),
        open_questions=questions.get("open"),
        reflections=(metrics.get("reflections") or behaviour.get("reflections") or {}).get("total"),
        reflection_to_question_ratio=metrics.get(
            "reflection_to_question_ratio", behaviour.get("reflection_to_question_ratio")
        ),
        roles_method=roles["method"],
        roles_confidence=roles["confidence"],
        speakers=len(document["speakers"]),
        diarization_method=diarization.get("method"),
        diarization_quality=diarization.get("quality"),
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


def references_of(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What a session's criteria were judged against, by measure (schema 2.0).

    Per criterion name: ``label``, ``unit``, ``threshold``, ``comparison``,
    ``better`` and ``norms`` (the expert-rated reference quantiles), as far as
    the document has them; a 1.0 document gives thresholds only.
    """
    keys = ("label", "unit", "threshold", "comparison", "better", "norms")
    return {
        str(c["name"]): {key: c.get(key) for key in keys}
        for c in document["evidence"]["criteria"]
        if isinstance(c, Mapping) and "name" in c
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
    """Per trainee: sessions scored, median score and client share, interruptions, share client-led.

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
                "median_score": _median(done["score"]),
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
    references: Mapping[str, Mapping[str, Any]] | None = None,
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
            render_cohort_html(
                sessions, trainees, thresholds=thresholds, references=references, title=title
            ),
        ),
    }
    return paths


# ------------------------------------------------------------------------------ HTML

COHORT_TEMPLATE = "report/cohort.html"
VERDICT_COLOURS = {"yes": "#2e7d32", "no": "#c62828", "inconclusive": "#8d8d8d"}
_ROW_PX, _WIDTH_PX, _LEFT_PX, _RIGHT_PX, _TOP_PX, _BOTTOM_PX = 26, 760, 170, 30, 34, 40

TRAINEE_MEASURES: dict[str, tuple[str, str, str]] = {
    "client_share": ("Client share", "median_client_share", "share"),
    "counselor_interruptions_per_10min": (
        "Interruptions per 10 min",
        "interruptions_per_10min",
        "per_10min",
    ),
    "reflection_to_question_ratio": ("R:Q", "median_reflection_to_question_ratio", "ratio"),
}
"""Measures shown per trainee against the norms: criterion → (heading, trainee column, unit)."""

UNIT_FORMATS: dict[str, Callable[[float], str]] = {
    "share": lambda v: f"{v * 100:.0f}%",
    "per_10min": lambda v: f"{v:.1f}",
    "ratio": lambda v: f"{v:.2f}",
    "seconds": lambda v: f"{v:.0f} s",
}


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


def _value(value: Any) -> float | None:
    """A finite float, or ``None`` for NaN, ``pd.NA`` and anything not a number."""
    if value is None or value is pd.NA or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _quantile(norms: Mapping[str, Any] | None, group: str, key: str) -> float | None:
    if not isinstance(norms, Mapping) or not isinstance(norms.get(group), Mapping):
        return None
    return _value(norms[group].get(key))


@dataclass(frozen=True)
class PlotDot:
    x: str
    colour: str
    title: str


@dataclass(frozen=True)
class PlotRow:
    label: str
    y: str
    label_y: str
    dots: tuple[PlotDot, ...]
    median_x: str | None
    median_title: str


@dataclass(frozen=True)
class MeasurePlot:
    """A dot plot of one measure: a row per trainee, a dot per scored session, the median
    marked, the threshold dashed, and the middle half of expert-rated good sessions shaded."""

    column: str
    title: str
    width: int
    height: int
    left: int
    top: int
    axis_y: int
    ticks: tuple[tuple[str, str], ...]
    threshold: tuple[str, str, str, str] | None
    """(x, label x, anchor, label)."""
    band: tuple[str, str, str] | None
    """(x, width, tooltip) of the good sessions' 25th-75th percentile."""
    whisker: tuple[str, str] | None
    """(x, width) of the good sessions' 5th-95th percentile."""
    rows: tuple[PlotRow, ...]


def measure_plot(
    sessions: pd.DataFrame,
    column: str,
    *,
    title: str,
    threshold: float | None,
    passes: str,
    norms: Mapping[str, Any] | None = None,
) -> MeasurePlot:
    """Lay out one measure's dot plot across trainees (drawn by ``report/cohort.html``)."""
    done = sessions[(sessions["status"] == "done") & sessions[column].notna()]
    trainees = sorted(sessions["trainee_id"].dropna().unique())
    height = _TOP_PX + _BOTTOM_PX + _ROW_PX * max(len(trainees), 1)
    values = [float(v) for v in done[column]]
    p5, p25, p75, p95 = (_quantile(norms, "high", k) for k in ("p5", "p25", "p75", "p95"))
    references = [v for v in (threshold, p5, p95) if v is not None]
    low = min([0.0, *values, *references])
    high = max([*values, *references, low + 1e-6])
    high += (high - low) * 0.05
    plot_w = _WIDTH_PX - _LEFT_PX - _RIGHT_PX

    def x(value: float) -> float:
        return _LEFT_PX + (value - low) / (high - low) * plot_w

    axis_y = height - _BOTTOM_PX + 6
    limit = None
    if threshold is not None:
        tx = x(threshold)
        label = f"threshold {'≥' if passes == '>=' else '≤'} {_number(threshold)}"
        near_right = tx > _LEFT_PX + plot_w * 0.75
        anchor, lx = ("end", tx - 4) if near_right else ("start", tx + 4)
        limit = (f"{tx:.1f}", f"{lx:.1f}", anchor, label)
    band = whisker = None
    if p25 is not None and p75 is not None:
        band = (
            f"{x(p25):.1f}",
            f"{x(p75) - x(p25):.1f}",
            f"expert-rated good MI: middle half {_number(p25)}–{_number(p75)}",
        )
    if p5 is not None and p95 is not None:
        whisker = (f"{x(p5):.1f}", f"{x(p95) - x(p5):.1f}")
    rows = []
    for index, trainee in enumerate(trainees):
        cy = _TOP_PX + _ROW_PX * index + _ROW_PX / 2
        mine = done[done["trainee_id"] == trainee]
        dots = tuple(
            PlotDot(
                x=f"{x(float(session[column])):.1f}",
                colour=VERDICT_COLOURS.get(str(session["client_led"]), "#555"),
                title=(
                    f"{session['session_id']}: {_number(float(session[column]))} "
                    f"(client-led: {session['client_led']})"
                ),
            )
            for _, session in mine.iterrows()
        )
        median = float(mine[column].median()) if not mine.empty else None
        rows.append(
            PlotRow(
                label=str(trainee),
                y=f"{cy:.1f}",
                label_y=f"{cy + 4:.1f}",
                dots=dots,
                median_x=None if median is None else f"{x(median):.1f}",
                median_title="" if median is None else f"median {_number(median)}",
            )
        )
    return MeasurePlot(
        column=column,
        title=title,
        width=_WIDTH_PX,
        height=height,
        left=_LEFT_PX,
        top=_TOP_PX,
        axis_y=axis_y,
        ticks=tuple((f"{x(t):.1f}", _number(t)) for t in _ticks(low, high)),
        threshold=limit,
        band=band,
        whisker=whisker,
        rows=tuple(rows),
    )


@dataclass(frozen=True)
class MeasureCell:
    """One trainee's measure: the value written out and its strip against the norms."""

    text: str
    strip: Strip | None


@dataclass(frozen=True)
class SessionLine:
    session_id: str
    date: str
    status: str
    verdict: str
    colour: str
    score: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class TraineeView:
    trainee_id: str
    sessions: int
    scored: int
    failed: int
    median_score: str
    measures: tuple[MeasureCell, ...]
    client_led: str
    lines: tuple[SessionLine, ...]


def _fmt(unit: str) -> Callable[[float], str]:
    return UNIT_FORMATS.get(unit, lambda v: f"{v:.2f}")


def _text(value: Any, fmt: Callable[[float], str] = _number) -> str:
    number = _value(value)
    if number is not None:
        return fmt(number)
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return str(value)


def _trainee_views(
    sessions: pd.DataFrame,
    trainees: pd.DataFrame,
    limits: Mapping[str, float],
    references: Mapping[str, Mapping[str, Any]],
) -> list[TraineeView]:
    views = []
    for _, trainee in trainees.iterrows():
        mine = sessions[sessions["trainee_id"] == trainee["trainee_id"]]
        done = mine[mine["status"] == "done"]
        cells = []
        for criterion, (_, column, unit) in TRAINEE_MEASURES.items():
            fmt = _fmt(unit)
            reference = references.get(criterion, {})
            values = [v for v in (_value(x) for x in done[criterion]) if v is not None]
            strip = norm_strip(
                reference.get("norms"),
                trainee[column],
                threshold=reference.get("threshold", limits.get(criterion)),
                others=values,
                fmt=fmt,
                mark_label="Trainee",
            )
            cells.append(MeasureCell(_text(trainee[column], fmt), strip))
        lines = tuple(
            SessionLine(
                session_id=str(row["session_id"]),
                date=_text(row["session_date"]),
                status=str(row["status"]),
                verdict=_text(row["client_led"]),
                colour=VERDICT_COLOURS.get(str(row["client_led"]), "#555"),
                score=_text(row["score"], lambda v: f"{v:.2f}"),
                cells=tuple(
                    _text(row[criterion], _fmt(unit))
                    for criterion, (_, _, unit) in TRAINEE_MEASURES.items()
                ),
            )
            for _, row in mine.iterrows()
        )
        yes, scored = int(trainee["sessions_client_led"]), int(trainee["sessions_scored"])
        views.append(
            TraineeView(
                trainee_id=str(trainee["trainee_id"]),
                sessions=int(trainee["sessions"]),
                scored=scored,
                failed=int(trainee["sessions_failed"]),
                median_score=_text(trainee["median_score"], lambda v: f"{v:.2f}"),
                measures=tuple(cells),
                client_led=f"{yes} of {scored}",
                lines=lines,
            )
        )
    return views


def _cells(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[tuple[str, bool]]]:
    """Table cells as (text, is text column); numbers with three significant digits."""
    return [
        [
            (
                ""
                if _value(row[c]) is None and not isinstance(row[c], str)
                else _number(float(row[c]))
                if isinstance(row[c], float)
                else str(row[c]),
                c in TEXT_COLUMNS,
            )
            for c in columns
        ]
        for _, row in frame.iterrows()
    ]


SESSION_TABLE_COLUMNS = (
    "session_id",
    "trainee_id",
    "status",
    "client_led",
    "score",
    "duration_s",
    "client_share",
    "counselor_interruptions_per_10min",
    "longest_counselor_monologue_s",
    "reflection_to_question_ratio",
)


def _thresholds(references: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    return {
        name: threshold
        for name, ref in references.items()
        if (threshold := _value(ref.get("threshold"))) is not None
    }


def render_cohort_html(
    sessions: pd.DataFrame,
    trainees: pd.DataFrame,
    *,
    thresholds: Mapping[str, float] | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Cohort",
) -> str:
    """The self-contained cohort report: summary, trainees against the norms, plots, sessions.

    ``references`` (from :func:`references_of`) carries each measure's threshold
    and expert-rated reference quantiles as the sessions were judged; what it
    lacks (schema 1.0 sessions) comes from the packaged norms. ``thresholds``
    (1.0 style, by measure) override the packaged thresholds.
    """
    defaults = default_references()
    given = {
        name: {key: value for key, value in ref.items() if value is not None}
        for name, ref in (references or {}).items()
    }
    refs = {name: {**defaults.get(name, {}), **given.get(name, {})} for name in {*defaults, *given}}
    limits = {**_thresholds(defaults), **(thresholds or {}), **_thresholds(given)}
    done = int((sessions["status"] == "done").sum())
    failed = int((sessions["status"] == "failed").sum())
    hours = float(sessions.loc[sessions["status"] == "done", "duration_s"].sum()) / 3600.0
    verdicts = sessions.loc[sessions["status"] == "done", "client_led"].value_counts()
    summary = (
        f"{len(sessions)} sessions: {done} scored ({hours:.2f} h of audio), {failed} failed. "
        + ", ".join(f"{int(n)} judged {v}" for v, n in verdicts.items())
    )
    plots = [
        measure_plot(
            sessions,
            column,
            title=name,
            threshold=limits.get(column),
            passes=passes,
            norms=refs.get(column, {}).get("norms"),
        )
        for column, (name, passes) in KEY_MEASURES.items()
    ]
    failures = sessions[sessions["status"] == "failed"]
    views = _trainee_views(sessions, trainees, limits, refs) if not trainees.empty else []
    source = next(
        (
            str(ref["norms"]["source"])
            for ref in refs.values()
            if isinstance(ref.get("norms"), Mapping) and ref["norms"].get("source")
        ),
        "",
    )
    return (
        environment()
        .get_template(COHORT_TEMPLATE)
        .render(
            title=title,
            summary=summary,
            verdict_colours=VERDICT_COLOURS,
            trainees=views,
            measure_headings=[heading for heading, _, _ in TRAINEE_MEASURES.values()],
            has_norms=any(cell.strip is not None for view in views for cell in view.measures),
            norms_source=source,
            plots=plots,
            failures=_cells(failures, ["session_id", "trainee_id", "error"]),
            session_columns=[c.replace("_", " ") for c in SESSION_TABLE_COLUMNS],
            session_rows=_cells(sessions, SESSION_TABLE_COLUMNS),
        )
    )
