"""Downloads built from a session document: a CSV of the measures, RTTM from the segments."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

from web.models import Recording

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, list | tuple):
        return  # events and items are in session.json
    else:
        yield prefix, value


def measures_rows(recording: Recording, document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(measure, value) rows: the session, the verdict, each criterion, then every measure."""
    roles = document.get("roles") or {}
    evidence = document.get("evidence") or {}
    rows: list[tuple[str, Any]] = [
        ("session_id", recording.public_id),
        ("trainee", recording.trainee),
        ("session_date", recording.session_date.isoformat() if recording.session_date else ""),
        ("file_name", recording.original_name),
        ("duration_s", (document.get("audio") or {}).get("duration_s")),
        ("client_led", evidence.get("client_led")),
        ("counselor_speaker", roles.get("counselor")),
        ("client_speaker", roles.get("client")),
        ("roles_method", roles.get("method")),
        ("roles_confidence", roles.get("confidence")),
    ]
    for criterion in evidence.get("criteria") or []:
        name = criterion.get("name")
        rows += [
            (f"criterion.{name}.value", criterion.get("value")),
            (f"criterion.{name}.threshold", criterion.get("threshold")),
            (f"criterion.{name}.passed", criterion.get("passed")),
        ]
    rows += [(f"metrics.{k}", v) for k, v in _flatten("", document.get("metrics") or {})]
    return rows


def measures_csv(recording: Recording, document: Mapping[str, Any]) -> str:
    """The measures of one session as a two-column CSV (``measure,value``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("measure", "value"))
    for name, value in measures_rows(recording, document):
        writer.writerow((cell(name), cell("" if value is None else value)))
    return out.getvalue()


LIST_COLUMNS = (
    "session_id",
    "trainee",
    "session_date",
    "file_name",
    "status",
    "client_led",
    "duration_s",
    "client_share",
    "counselor_interruptions_per_10min",
    "longest_counselor_monologue_s",
    "reflection_to_question_ratio",
    "roles_method",
    "roles_confidence",
)


def sessions_csv(recordings: list[Recording]) -> str:
    """One row per session with the summary measures."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LIST_COLUMNS)
    for r in recordings:
        values = (
            r.public_id,
            r.trainee,
            r.session_date.isoformat() if r.session_date else "",
            r.original_name,
            r.status,
            r.verdict,
            r.duration_s,
            r.client_share,
            r.counselor_interruptions_per_10min,
            r.longest_counselor_monologue_s,
            r.reflection_to_question_ratio,
            r.role_method,
            r.role_confidence,
        )
        writer.writerow([cell("" if v is None else v) for v in values])
    return out.getvalue()


def rttm(document: Mapping[str, Any], *, uri: str) -> str:
    """RTTM of the overlap-aware segments (who spoke when), as ``pipeline.export`` writes it."""
    from pipeline.export import to_rttm
    from pipeline.types import Turn

    turns = [
        Turn(float(s["start"]), float(s["end"]), str(s["speaker"]))
        for s in document.get("segments") or []
    ]
    return to_rttm(turns, uri=uri)
