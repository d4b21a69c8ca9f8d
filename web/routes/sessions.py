"""Lists of sessions with filters, the per-trainee summary, status, retry and delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from web import recordings
from web.auth import CurrentPrincipal, Db, ProtectedPrincipal
from web.exports import sessions_csv
from web.models import Recording
from web.pages import render
from web.processing import SubmitError, read_status
from web.recordings import Filters
from web.storage import Storage

router = APIRouter()

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
"""Pages past this are clamped: an offset must fit the database's 64-bit integers."""
STAGE_LABELS = {
    "queued": "Waiting for its turn",
    "decoding": "Reading the audio",
    "transcribing": "Transcribing speech",
    "diarizing": "Telling the speakers apart",
    "scoring": "Computing the measures",
    "done": "Done",
    "failed": "Failed",
}


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request: Request) -> Filters:
    query = request.query_params
    verdict = query.get("verdict", "")
    status = query.get("status", "")
    return Filters(
        trainee=query.get("trainee", "")[:200],
        date_from=_date(query.get("from", "")),
        date_to=_date(query.get("to", "")),
        verdict=verdict if verdict in recordings.VERDICT_ORDER else "",
        status=status if status in ("running", "done", "failed") else "",
        owner=query.get("owner", "")[:64],
    )


def stage_of(storage: Storage, recording: Recording) -> dict[str, Any]:
    """The live stage of an analysis (from status.json), or its final state."""
    if recording.status in recordings.FINAL_STATUSES:
        return {"stage": recording.status, "error": recording.error, "updated_at": None}
    status = read_status(storage.out_dir(recording.public_id)) or {}
    stage = status.get("stage") if status.get("stage") in STAGE_LABELS else "queued"
    if stage in recordings.FINAL_STATUSES:
        stage = "scoring"  # files written; the database learns it a moment later
    return {"stage": stage, "error": None, "updated_at": status.get("updated_at")}


def summary(storage: Storage, recording: Recording) -> dict[str, Any]:
    """A recording as JSON for scripts (no transcript)."""
    live = stage_of(storage, recording)
    return {
        "id": recording.public_id,
        "url": f"/sessions/{recording.public_id}",
        "owner": recording.owner.username,
        "trainee": recording.trainee,
        "session_date": recording.session_date.isoformat() if recording.session_date else None,
        "file_name": recording.original_name,
        "sha256": recording.sha256,
        "bytes": recording.audio_bytes,
        "hint": recording.hint,
        "channels": recording.channel_mode,
        "speakers": recording.speakers,
        "status": recording.status,
        "stage": live["stage"],
        "stage_label": STAGE_LABELS[live["stage"]],
        "error": recording.error,
        "client_led": recording.verdict,
        "duration_s": recording.duration_s,
        "client_share": recording.client_share,
        "counselor_interruptions_per_10min": recording.counselor_interruptions_per_10min,
        "longest_counselor_monologue_s": recording.longest_counselor_monologue_s,
        "reflection_to_question_ratio": recording.reflection_to_question_ratio,
        "audio_deleted": recording.audio_deleted,
        "created_at": recording.created_at.isoformat(),
        "finished_at": recording.finished_at.isoformat() if recording.finished_at else None,
    }


@router.get("/")
def home(_principal: CurrentPrincipal) -> Response:
    """The session list is the home page."""
    return RedirectResponse("/sessions", status_code=303)


@router.get("/sessions")
def list_page(request: Request, db: Db, principal: CurrentPrincipal) -> Response:
    """The user's sessions (an admin's: everyone's), filtered, newest first."""
    filters = _filters(request)
    try:
        page = min(max(int(request.query_params.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    rows, total = recordings.list_visible(
        db, principal.user, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    storage = request.app.state.storage
    stages = {r.public_id: stage_of(storage, r)["stage"] for r in rows}
    query = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(
        request,
        "sessions.html",
        principal,
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        stages=stages,
        stage_labels=STAGE_LABELS,
        filters=filters,
        query=query,
        trainees=recordings.trainees(db, principal.user),
        any_running=any(r.status not in recordings.FINAL_STATUSES for r in rows),
    )


@router.get("/sessions.csv")
def list_csv(request: Request, db: Db, principal: CurrentPrincipal) -> Response:
    """The filtered list as CSV, one row of summary measures per session."""
    rows, _total = recordings.list_visible(db, principal.user, _filters(request), limit=100_000)
    return Response(
        sessions_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="sessions.csv"'},
    )


@router.get("/trainees")
def trainees_page(request: Request, db: Db, principal: CurrentPrincipal) -> Response:
    """Per-trainee summary: sessions, verdicts, mean measures, client-share trend."""
    return render(
        request, "trainees.html", principal, groups=recordings.trainee_summary(db, principal.user)
    )


@router.get("/api/sessions")
def api_list(request: Request, db: Db, principal: CurrentPrincipal) -> Response:
    """The list as JSON (same filters as the page: trainee, from, to, verdict, status)."""
    rows, total = recordings.list_visible(db, principal.user, _filters(request), limit=1000)
    storage = request.app.state.storage
    return JSONResponse({"total": total, "sessions": [summary(storage, r) for r in rows]})


@router.get("/api/sessions/{public_id}")
@router.get("/sessions/{public_id}/status")
def api_session(request: Request, db: Db, principal: CurrentPrincipal, public_id: str) -> Response:
    """One session's state and summary measures as JSON (the status page polls this)."""
    recording = recordings.get_visible(db, principal.user, public_id)
    return JSONResponse(summary(request.app.state.storage, recording))


@router.delete("/api/sessions/{public_id}")
def api_delete(request: Request, db: Db, principal: ProtectedPrincipal, public_id: str) -> Response:
    """Delete a session, its audio and every derived file."""
    recording = recordings.get_visible(db, principal.user, public_id)
    recordings.delete(db, request.app.state.storage, recording)
    return Response(status_code=204)


@router.post("/sessions/{public_id}/delete")
def delete(request: Request, db: Db, principal: ProtectedPrincipal, public_id: str) -> Response:
    """Delete from the page; back to the list."""
    recording = recordings.get_visible(db, principal.user, public_id)
    recordings.delete(db, request.app.state.storage, recording)
    if principal.via == "token":
        return Response(status_code=204)
    return RedirectResponse("/sessions?notice=deleted", status_code=303)


@router.post("/sessions/{public_id}/retry")
def retry(request: Request, db: Db, principal: ProtectedPrincipal, public_id: str) -> Response:
    """Analyze a failed session again (e.g. after a crash), if its audio is still there."""
    recording = recordings.get_visible(db, principal.user, public_id)
    url = f"/sessions/{public_id}"
    storage = request.app.state.storage
    if recordings.audio_path(storage, recording) is None:
        return RedirectResponse(url, status_code=303)
    if not recordings.claim_for_analysis(db, recording, from_status=("failed",)):
        return RedirectResponse(url, status_code=303)  # not failed, or retried meanwhile
    recording.error, recording.finished_at = None, None
    db.commit()
    try:
        request.app.state.submit(recording)
    except SubmitError as error:  # busy, or the worker pool cannot start
        recording.status, recording.error = "failed", str(error)
    return RedirectResponse(url, status_code=303)
