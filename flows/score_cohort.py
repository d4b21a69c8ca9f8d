"""A cohort as a Prefect flow: validate the manifest, run every session, write the tables.

1. The manifest (or folder) is validated completely before any audio runs
   (:func:`flows.manifest.load_sessions`).
2. Sessions run concurrently, at most ``workers`` at a time: in this process as
   child runs of :func:`flows.analyze_session.analyze_session` (the default),
   or dispatched as runs of its deployment so Prefect workers on other
   machines pick them up (``deployment=``). Recordings with the same audio
   and settings run one after the other, so the second one is a cache hit
   instead of a second computation.
3. A failing recording becomes a row with ``status=failed`` and a one-line
   error; the others finish.
4. ``OUT/<session_id>/`` holds each session's outputs; ``OUT`` gets
   ``cohort.csv``, ``cohort.parquet``, ``trainees.csv`` and ``cohort.html``;
   Prefect gets a markdown summary, a table and a progress artifact (ids and
   numbers only).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextvars import copy_context
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run as current_flow_run

from flows.analyze_session import (
    analyze_session,
    failed_summary,
    local_run_settings,
    summary_of,
)
from flows.caching import stable_hash
from flows.cohort_report import (
    KEY_MEASURES,
    references_of,
    session_row,
    thresholds_of,
    write_cohort_outputs,
)
from flows.manifest import SessionSpec, load_sessions
from flows.status import read_status, write_status
from pipeline.audio import file_sha256
from pipeline.outputs import SESSION_FILE
from pipeline.session import SpeechOptions

Summary = dict[str, Any]
DEPLOYMENT_POLL_S = 2.0
"""How often a dispatched session's flow run state is polled."""
HASH_THREADS = 4
"""Recordings hashed in parallel while grouping (I/O-bound)."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "cohort"


def idempotency_key(
    sha256: str, speech: SpeechOptions, *, counselor_first: bool, out_dir: Path
) -> str:
    """One key per audio content, settings, role hint and output folder: reruns join, not repeat."""
    return (
        "session-"
        + stable_hash(
            {
                "sha256": sha256,
                "speech": asdict(speech),
                "first": counselor_first,
                "out": str(out_dir),
            }
        )[:32]
    )


def _read_document(out_dir: Path) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads((out_dir / SESSION_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return document


# ----------------------------------------------------------------- running one session


def run_local(spec: SessionSpec, speech: SpeechOptions, out_dir: Path) -> Summary:
    """Run the session flow in this process (a child run of the cohort's flow run)."""
    state = analyze_session(
        str(spec.audio_path),
        str(out_dir),
        speech=spec.speech_options(speech),
        counselor_first=spec.counselor_first,
        session_id=spec.session_id,
        return_state=True,
    )
    return summary_of(state, out_dir)


def _wait_for(flow_run: FlowRun) -> FlowRun:
    with get_client(sync_client=True) as client:
        while flow_run.state is None or not flow_run.state.is_final():
            time.sleep(DEPLOYMENT_POLL_S)
            flow_run = client.read_flow_run(flow_run.id)
    return flow_run


def _dispatch(deployment: str, parameters: dict[str, Any], key: str) -> FlowRun:
    """Create (or, for a known key, find) the deployment's flow run; do not wait for it."""
    run = run_deployment(deployment, parameters=parameters, idempotency_key=key, timeout=0)
    return cast(FlowRun, run)


def run_on_deployment(
    spec: SessionSpec, speech: SpeechOptions, out_dir: Path, *, deployment: str, sha256: str
) -> Summary:
    """Dispatch the session as a run of the session flow's deployment and wait for it.

    The idempotency key makes a rerun of the cohort join a run that is still
    going, and reuse one that completed with its outputs in place; a run that
    failed or crashed is dispatched again under a fresh key.
    """
    options = spec.speech_options(speech)
    parameters = {
        "audio_path": str(spec.audio_path),
        "out_dir": str(out_dir),
        "speech": asdict(options),
        "counselor_first": spec.counselor_first,
        "session_id": spec.session_id,
    }
    key = idempotency_key(sha256, options, counselor_first=spec.counselor_first, out_dir=out_dir)
    run = _dispatch(deployment, parameters, key)
    state = run.state
    reused = state is not None and state.is_completed() and (out_dir / SESSION_FILE).is_file()
    if reused:
        write_status(out_dir, "done", sha256=sha256)  # the cohort marked it queued
    elif state is not None and state.is_final():
        fresh = f"{key}-{uuid.uuid4().hex[:8]}"
        run = _dispatch(deployment, parameters, fresh)
    run = _wait_for(run)
    assert run.state is not None
    document = _read_document(out_dir)
    status = read_status(out_dir) or {}
    if run.state.is_completed() and document is not None and status.get("stage") == "done":
        return {
            "status": "done",
            "error": None,
            "sha256": document["audio"]["sha256"],
            "client_led": document["evidence"]["client_led"],
            "session_json": str(out_dir / SESSION_FILE),
            "duration_s": document["audio"]["duration_s"],
            "cached": None,
            "computed": [] if reused else None,  # a reused run computed nothing now
            "flow_run_id": str(run.id),
        }
    reason = f"flow run {run.name} ended {run.state.name}" + (
        f": {run.state.message}" if run.state.message else ""
    )
    summary = failed_summary(out_dir, reason if status.get("stage") != "failed" else None)
    summary["flow_run_id"] = str(run.id)
    return summary


# ------------------------------------------------------------------------------ cohort


def _content_groups(
    sessions: Sequence[SessionSpec], speech: SpeechOptions
) -> tuple[list[list[SessionSpec]], dict[str, str]]:
    """Sessions grouped by audio content and settings (manifest order kept), and each sha256."""
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        hashes = dict(
            zip(
                (s.session_id for s in sessions),
                pool.map(lambda s: file_sha256(s.audio_path), sessions),
                strict=True,
            )
        )
    groups: dict[str, list[SessionSpec]] = {}
    for spec in sessions:
        key = stable_hash([hashes[spec.session_id], asdict(spec.speech_options(speech))])
        groups.setdefault(key, []).append(spec)
    return list(groups.values()), hashes


def _markdown_summary(rows: Sequence[Mapping[str, Any]], *, wall_s: float, workers: int) -> str:
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] != "done"]
    hours = sum(float(r["duration_s"] or 0.0) for r in done) / 3600.0
    verdicts: dict[str, int] = {}
    for row in done:
        verdicts[str(row["client_led"])] = verdicts.get(str(row["client_led"]), 0) + 1
    cached = sum(1 for r in done if r["cached"] is True)
    rate = hours / (wall_s / 3600.0) if wall_s > 0 else 0.0
    lines = [
        "# Cohort summary",
        "",
        "| measure | value |",
        "|---|---|",
        f"| sessions | {len(rows)} |",
        f"| scored | {len(done)} |",
        f"| failed | {len(failed)} |",
        f"| from cache (no model ran) | {cached} |",
        f"| audio hours scored | {hours:.3f} |",
        f"| wall-clock seconds | {wall_s:.1f} |",
        f"| audio hours per wall-clock hour | {rate:.2f} |",
        f"| concurrent sessions | {workers} |",
        *(f"| client-led: {verdict} | {count} |" for verdict, count in sorted(verdicts.items())),
    ]
    if failed:
        lines += ["", "Failed sessions: " + ", ".join(str(r["session_id"]) for r in failed)]
    return "\n".join(lines)


def _artifact_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Artifact table rows: ids, verdicts and numbers (an error is a category, not text)."""
    columns = ("session_id", "trainee_id", "status", "client_led", "duration_s", *KEY_MEASURES)
    return [{c: row.get(c) for c in columns} for row in rows]


@flow(name="score-cohort", persist_result=False)
def score_cohort(
    source: str,
    out_dir: str,
    *,
    speech: SpeechOptions = SpeechOptions(),
    workers: int = 1,
    deployment: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Score every session of a manifest CSV or folder into ``out_dir``.

    Parameters
    ----------
    source
        A manifest CSV, or a folder of recordings (see :mod:`flows.manifest`).
    out_dir
        Receives ``<session_id>/`` folders and the cohort tables and report.
    speech
        Model settings for every session; a manifest row's hint, channels and speakers
        override them for that session (:meth:`flows.manifest.SessionSpec.speech_options`).
    workers
        Sessions in flight at once: threads in this process, or dispatched runs.
    deployment
        ``flow/deployment`` name of the session flow's deployment: dispatch each
        session there instead of running it in this process.
    title
        Heading of ``cohort.html`` (default: the name of ``out_dir``).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    logger = get_run_logger()
    started = time.perf_counter()
    sessions = load_sessions(source)  # every manifest problem, before any audio runs
    out = Path(out_dir).resolve()
    groups, hashes = _content_groups(sessions, speech)
    logger.info(
        "%d sessions (%d distinct recordings and settings), %d trainees, %d at a time%s",
        len(sessions),
        len(groups),
        len({s.trainee_id for s in sessions}),
        workers,
        " via deployment" if deployment else "",
    )
    for spec in sessions:
        write_status(out / spec.session_id, "queued", sha256=hashes[spec.session_id])
    slug = _slug(out.name)
    progress = cast(
        UUID,
        create_progress_artifact(
            0.0, key=f"{slug}-progress", description="Share of the cohort's sessions finished"
        ),
    )

    def one(spec: SessionSpec) -> Summary:
        session_out = out / spec.session_id
        if deployment is None:
            return run_local(spec, speech, session_out)
        return run_on_deployment(
            spec, speech, session_out, deployment=deployment, sha256=hashes[spec.session_id]
        )

    def run_group(group: Sequence[SessionSpec]) -> list[tuple[SessionSpec, Summary, float]]:
        results = []
        for spec in group:
            began = time.perf_counter()
            try:
                summary = one(spec)
            except Exception as error:  # an orchestration failure still fails one session only
                summary = failed_summary(out / spec.session_id, error)
            results.append((spec, summary, time.perf_counter() - began))
        return results

    finished: dict[str, tuple[Summary, float]] = {}
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="session") as pool:
        futures = [pool.submit(copy_context().run, run_group, group) for group in groups]
        for future in as_completed(futures):
            for spec, summary, wall_s in future.result():
                with lock:
                    finished[spec.session_id] = (summary, wall_s)
                logger.info(
                    "session %s: %s (%d/%d)",
                    spec.session_id,
                    summary["status"],
                    len(finished),
                    len(sessions),
                )
            update_progress_artifact(progress, 100.0 * len(finished) / len(sessions))

    rows = []
    thresholds: dict[str, float] = {}
    references: dict[str, dict[str, Any]] = {}
    for spec in sessions:
        summary, wall_s = finished[spec.session_id]
        document = _read_document(out / spec.session_id) if summary["status"] == "done" else None
        if document is not None and not thresholds:
            thresholds = thresholds_of(document)
            references = references_of(document)
        rows.append(session_row(spec, summary, document, wall_s=wall_s))
    paths = write_cohort_outputs(
        rows, out, thresholds=thresholds, references=references, title=title or out.name
    )
    wall_s = time.perf_counter() - started
    create_markdown_artifact(
        _markdown_summary(rows, wall_s=wall_s, workers=workers),
        key=f"{slug}-summary",
        description="Cohort summary (counts and audio hours)",
    )
    create_table_artifact(
        _artifact_rows(rows), key=f"{slug}-sessions", description="Key measures per session"
    )
    done = sum(1 for r in rows if r["status"] == "done")
    return {
        "sessions": len(rows),
        "done": done,
        "failed": len(rows) - done,
        "cached": sum(1 for r in rows if r["cached"] is True),
        "audio_s": sum(float(r["duration_s"] or 0.0) for r in rows if r["status"] == "done"),
        "wall_s": round(wall_s, 3),
        "flow_run_id": str(current_flow_run.id),
        "errors": {str(r["session_id"]): str(r["error"]) for r in rows if r["status"] != "done"},
        "outputs": {name: str(path) for name, path in paths.items()},
    }


def run_cohort_flow(
    source: str | Path,
    out_dir: str | Path,
    *,
    speech: SpeechOptions = SpeechOptions(),
    workers: int = 1,
    deployment: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Run :func:`score_cohort`, validating the manifest first (a bad one never starts a run)."""
    load_sessions(source)
    with local_run_settings():
        result: dict[str, Any] = score_cohort(
            str(Path(source).resolve()),
            str(Path(out_dir).resolve()),
            speech=speech,
            workers=workers,
            deployment=deployment,
            title=title,
        )
    return result
