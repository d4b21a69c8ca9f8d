"""A session's page (status while it runs, the report once done), its audio, role
corrections and downloads."""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from web import recordings
from web.auth import CurrentPrincipal, Db, ProtectedPrincipal
from web.exports import measures_csv, rttm
from web.media import FALLBACK, FORMATS
from web.models import Recording
from web.pages import render
from web.routes.sessions import STAGE_LABELS, stage_of
from web.storage import Storage

router = APIRouter()
log = logging.getLogger(__name__)

NOTICES = {
    "duplicate": "You uploaded this recording before: this is that session. To analyze it "
    "with other choices, use Analyze again on this page once its analysis has ended.",
    "swapped": "Counselor and client were swapped; the measures were recomputed.",
    "roles": "The roles were corrected; the measures were recomputed.",
}
ERRORS = {
    "one-speaker": "Only one speaker has a role: choose the counselor below instead.",
    "speaker": "Choose one of the speakers found in the recording.",
    "no-transcript": "Roles cannot be corrected after the transcript was deleted.",
    "inconsistent": "The stored analysis is damaged (its parts do not agree), so roles cannot "
    "be corrected; analyze the recording again.",
}
DOWNLOADS = {
    "session.json": ("application/json", "session-{id}.json"),
    "measures.csv": ("text/csv; charset=utf-8", "measures-{id}.csv"),
    "transcript.srt": ("application/x-subrip; charset=utf-8", "transcript-{id}.srt"),
    "transcript.vtt": ("text/vtt; charset=utf-8", "transcript-{id}.vtt"),
    "diarization.rttm": ("text/plain; charset=utf-8", "diarization-{id}.rttm"),
    "report.html": ("text/html; charset=utf-8", "report-{id}.html"),
    "report.md": ("text/markdown; charset=utf-8", "report-{id}.md"),
}
TRANSCRIPT_SECTION = re.compile(
    r'<section class="card(?: transcript)?" id="transcript">.*?</section>', re.DOTALL
)
TRANSCRIPT_REMOVED = (
    '<section class="card" id="transcript"><h2>Transcript</h2><p class="note">The audio and '
    "the transcript were deleted after the analysis (retention setting); the measures above "
    "were kept.</p></section>"
)


def _with_display_name(document: dict[str, Any], recording: Recording) -> dict[str, Any]:
    """The document naming the file as the user uploaded it, not as stored."""
    audio = dict(document.get("audio") or {})
    audio["file_name"] = recording.original_name
    return {**document, "audio": audio}


def _document(storage: Storage, recording: Recording) -> tuple[dict[str, Any] | None, bool]:
    """The session document and whether it is the full one (else measures only); none
    unless the last analysis is done (a queued or failed rerun has no results yet)."""
    if recording.status != "done":
        return None, False
    full = recordings.read_document(storage, recording)
    if full is not None:
        return full, True
    return recordings.stored_measures(recording), False


@router.get("/sessions/{public_id}")
def session_page(request: Request, db: Db, principal: CurrentPrincipal, public_id: str) -> Response:
    """The report when the analysis is done, else a status page that refreshes itself."""
    recording = recordings.get_visible(db, principal.user, public_id)
    storage: Storage = request.app.state.storage
    notice = NOTICES.get(request.query_params.get("notice", ""))
    error = ERRORS.get(request.query_params.get("error", ""))
    has_sample = any(storage.upload_dir(recording.public_id).glob("enrollment.*"))
    if recording.status != "done":
        live = stage_of(storage, recording)
        return render(
            request,
            "status.html",
            principal,
            recording=recording,
            live=live,
            stage_labels=STAGE_LABELS,
            notice=notice,
            can_retry=recording.status == "failed"
            and recordings.audio_path(storage, recording) is not None,
            has_sample=has_sample,
        )
    document, full = _document(storage, recording)
    if document is None:
        raise HTTPException(410, "The results of this session are no longer available.")
    from pipeline.report import report_view

    report = report_view(_with_display_name(document, recording))
    has_audio = recordings.audio_path(storage, recording) is not None
    return render(
        request,
        "report.html",
        principal,
        recording=recording,
        report=report,
        speakers=document.get("speakers") or [],
        roles=document.get("roles") or {},
        can_correct=full,
        has_audio=has_audio,
        has_sample=has_sample,
        downloads=[name for name in DOWNLOADS if full or name in _MEASURES_DOWNLOADS],
        notice=notice,
        error=error,
    )


_MEASURES_DOWNLOADS = ("measures.csv", "diarization.rttm", "report.html", "session.json")


@router.get("/sessions/{public_id}/audio")
def audio(request: Request, db: Db, principal: CurrentPrincipal, public_id: str) -> Response:
    """The uploaded recording, with HTTP Range support so the player can seek."""
    recording = recordings.get_visible(db, principal.user, public_id)
    path = recordings.audio_path(request.app.state.storage, recording)
    if path is None:
        raise HTTPException(410, "The audio of this session was deleted.")
    mime = FORMATS.get(recording.audio_format, FALLBACK)[1]
    return FileResponse(path, media_type=mime, content_disposition_type="inline")


def _rescore(
    request: Request, recording: Recording, change: str, counselor: str | None
) -> Response:
    """Swap or name the counselor, recompute from session.json, rewrite every output."""
    from pipeline.document import rescore_document, swap_roles
    from pipeline.document_check import document_problems
    from pipeline.outputs import write_outputs
    from pipeline.roles import RoleHint

    storage: Storage = request.app.state.storage
    url = f"/sessions/{recording.public_id}"
    document = recordings.read_document(storage, recording)
    if document is None:
        return RedirectResponse(f"{url}?error=no-transcript", status_code=303)
    if document_problems(document):  # never rewrite from a document that does not hold together
        log.warning("session %s: stored document does not hold together", recording.public_id)
        return RedirectResponse(f"{url}?error=inconsistent", status_code=303)
    if change == "swap":
        try:
            updated = swap_roles(document)
        except ValueError:
            return RedirectResponse(f"{url}?error=one-speaker", status_code=303)
    else:
        if counselor not in (document.get("speakers") or []):
            return RedirectResponse(f"{url}?error=speaker", status_code=303)
        updated = rescore_document(document, hint=RoleHint("explicit", counselor=counselor))
    write_outputs(updated, storage.out_dir(recording.public_id))
    recordings.apply_document(recording, updated)
    return RedirectResponse(f"{url}?notice={'swapped' if change == 'swap' else 'roles'}", 303)


@router.post("/sessions/{public_id}/swap")
def swap(request: Request, db: Db, principal: ProtectedPrincipal, public_id: str) -> Response:
    """Exchange counselor and client (no model runs)."""
    recording = recordings.get_visible(db, principal.user, public_id)
    return _rescore(request, recording, "swap", None)


@router.post("/sessions/{public_id}/roles")
def set_roles(
    request: Request,
    db: Db,
    principal: ProtectedPrincipal,
    public_id: str,
    counselor: Annotated[str, Form(max_length=100)],
) -> Response:
    """Name the counselor's speaker label; the other main speaker becomes the client."""
    recording = recordings.get_visible(db, principal.user, public_id)
    return _rescore(request, recording, "roles", counselor)


@router.get("/sessions/{public_id}/download/{name}")
def download(
    request: Request, db: Db, principal: CurrentPrincipal, public_id: str, name: str
) -> Response:
    """``session.json``, ``measures.csv``, SRT, VTT, RTTM, or the report (HTML, Markdown)."""
    if name not in DOWNLOADS:
        raise HTTPException(404, "No such download.")
    recording = recordings.get_visible(db, principal.user, public_id)
    storage: Storage = request.app.state.storage
    document, full = _document(storage, recording)
    if document is None or (not full and name not in _MEASURES_DOWNLOADS):
        raise HTTPException(404, "This file is not available for this session.")
    document = _with_display_name(document, recording)
    media_type, filename = DOWNLOADS[name]
    short_id = recording.public_id[:8]
    content = _download_content(storage, recording, document, name)
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{filename.format(id=short_id)}"',
            "content-security-policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def _download_content(
    storage: Storage, recording: Recording, document: dict[str, Any], name: str
) -> str:
    if name == "session.json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if name == "measures.csv":
        return measures_csv(recording, document)
    if name == "diarization.rttm":
        return rttm(document, uri=f"session-{recording.public_id[:8]}")
    if name == "report.html":
        from pipeline.report import render_html

        html = render_html(document)
        if document.get("transcript_removed"):
            html = TRANSCRIPT_SECTION.sub(TRANSCRIPT_REMOVED, html)
        return html
    if name == "report.md":
        from pipeline.report import render_markdown

        return render_markdown(document)
    path = storage.out_dir(recording.public_id) / name
    if not path.is_file():
        raise HTTPException(404, "This file is not available for this session.")
    return path.read_text("utf-8")
