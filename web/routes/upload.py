"""The upload page and the upload endpoint (streamed to disk, sniffed, deduplicated)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from web import recordings
from web.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Principal, check_csrf
from web.db import Database
from web.media import MediaInfo, NotMediaError, sniff
from web.models import CHANNEL_MODES, HINTS, Recording, User
from web.pages import render
from web.processing import QueueFullError
from web.storage import Storage, new_public_id
from web.uploads import ReceivedFile, ReceivedForm, UploadError, describe_size, receive_form

router = APIRouter()

MAX_TRAINEE_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@router.get("/upload")
def upload_page(request: Request, principal: CurrentPrincipal) -> Response:
    """Drag-and-drop upload with progress, trainee, date and counselor hint."""
    settings = request.app.state.settings
    return render(
        request,
        "upload.html",
        principal,
        limit=settings.upload_limit_bytes,
        limit_text=describe_size(settings.upload_limit_bytes),
        today=dt.date.today().isoformat(),
    )


def _clean_trainee(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())[:MAX_TRAINEE_CHARS]


def _parse_date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UploadError(400, "the session date must look like 2025-03-31") from None


def _sniff_or_refuse(received: ReceivedFile, what: str) -> MediaInfo:
    try:
        return sniff(received.path)
    except NotMediaError as error:
        raise UploadError(415, f"{what}{received.original_name}: {error}") from None


def _store(
    *,
    database: Database,
    storage: Storage,
    user: User,
    form: ReceivedForm,
    info: MediaInfo,
    enrollment_info: MediaInfo | None,
) -> tuple[Recording, bool]:
    """Move the files under a new random id and add the row; or find the earlier upload.

    Returns the recording and whether it is new. Runs in a worker thread.
    """
    recording_file = form.files["recording"]
    with database.session() as session:
        duplicate = recordings.find_duplicate(session, user, recording_file.sha256)
        if duplicate is not None:
            form.discard()
            return duplicate, False
        public_id = new_public_id()
        storage.make_session_dir(public_id)
        upload_dir = storage.upload_dir(public_id)
        audio_file = f"recording.{info.extension}"
        try:
            recording_file.path.replace(upload_dir / audio_file)
            enrollment = form.files.get("enrollment")
            if enrollment is not None and enrollment_info is not None:
                enrollment.path.replace(upload_dir / f"enrollment.{enrollment_info.extension}")
            recording = Recording(
                public_id=public_id,
                owner_id=user.id,
                trainee=_clean_trainee(form.fields.get("trainee", "")),
                session_date=_parse_date(form.fields.get("session_date", "")),
                original_name=recording_file.original_name,
                audio_file=audio_file,
                audio_format=info.container[:64],
                audio_bytes=recording_file.size,
                sha256=recording_file.sha256,
                channels=info.channels,
                hint=form.fields.get("hint", "auto"),
                channel_mode=form.fields.get("channels", "auto"),
                status="queued",
            )
            session.add(recording)
            session.flush()
        except BaseException:
            storage.remove_session(public_id)
            form.discard()
            raise
    return recording, True


def _validate(form: ReceivedForm) -> tuple[MediaInfo, MediaInfo | None]:
    """Check the fields and sniff the files; raises :class:`UploadError`. Worker thread."""
    if "recording" not in form.files:
        raise UploadError(400, "choose a recording to upload")
    hint = form.fields.get("hint", "auto") or "auto"
    if hint not in HINTS:
        raise UploadError(400, "unknown counselor hint")
    form.fields["hint"] = hint
    channels = form.fields.get("channels", "auto") or "auto"
    if channels not in CHANNEL_MODES:
        raise UploadError(400, "unknown stereo channel setting")
    if channels == "mix" and hint in ("left", "right"):
        raise UploadError(
            400,
            f"the {hint}-channel hint means one person per channel; it cannot go with "
            "mixing the channels — choose one",
        )
    form.fields["channels"] = channels
    _parse_date(form.fields.get("session_date", ""))
    info = _sniff_or_refuse(form.files["recording"], "")
    if hint in ("left", "right") and info.channels < 2:
        raise UploadError(
            400,
            f"the {hint}-channel hint needs a stereo recording; this one has "
            f"{info.channels} channel — choose another hint",
        )
    if channels == "split" and info.channels != 2:
        raise UploadError(
            400,
            f"one person per channel needs a two-channel recording; this one has "
            f"{info.channels} — choose another stereo setting",
        )
    enrollment_info = None
    if hint == "enrollment":
        if "enrollment" not in form.files:
            raise UploadError(400, "add the counselor's voice sample, or choose another hint")
        enrollment_info = _sniff_or_refuse(form.files["enrollment"], "voice sample ")
    elif "enrollment" in form.files:
        form.files.pop("enrollment").path.unlink(missing_ok=True)
    return info, enrollment_info


async def _receive(request: Request, principal: Principal) -> ReceivedForm:
    settings = request.app.state.settings
    storage: Storage = request.app.state.storage
    header_token = request.headers.get(CSRF_HEADER)

    def before_file(fields: Mapping[str, str]) -> None:
        try:
            check_csrf(principal, header_token or fields.get(CSRF_FIELD))
        except Exception:
            raise UploadError(
                403, "The form has expired or did not come from this site; reload it."
            ) from None

    return await receive_form(
        request,
        limits={
            "recording": settings.upload_limit_bytes,
            "enrollment": settings.enrollment_limit_bytes,
        },
        new_path=storage.temporary_file,
        before_file=before_file,
    )


@router.post("/sessions")
@router.post("/api/sessions", include_in_schema=False)
async def upload(request: Request, principal: CurrentPrincipal) -> Response:
    """Receive one recording; answer JSON for scripts and the upload page, else redirect.

    ``201`` with ``{"id", "url"}`` for a new session, ``200`` with
    ``"duplicate": true`` when the same user uploaded the same bytes before,
    ``413`` too large, ``415`` not audio, ``503`` queue full.
    """
    processor = request.app.state.processor
    if processor.pending >= processor.max_queue:
        raise UploadError(503, "the server is busy analyzing other recordings; try again later")
    form = await _receive(request, principal)
    try:
        info, enrollment_info = await run_in_threadpool(_validate, form)
        recording, new = await run_in_threadpool(
            _store,
            database=request.app.state.db,
            storage=request.app.state.storage,
            user=principal.user,
            form=form,
            info=info,
            enrollment_info=enrollment_info,
        )
    except IntegrityError:  # the same bytes arrived twice at once
        form.discard()
        raise UploadError(409, "this recording is being uploaded already") from None
    except BaseException:
        form.discard()
        raise
    url = f"/sessions/{recording.public_id}"
    if new:
        try:
            await run_in_threadpool(request.app.state.submit, recording)
        except QueueFullError as error:
            await run_in_threadpool(_forget, request, recording.public_id)
            raise UploadError(503, str(error)) from None
    body = {
        "id": recording.public_id,
        "url": url,
        "status_url": f"/api/sessions/{recording.public_id}",
        "duplicate": not new,
        "status": recording.status,
    }
    if not new:
        body["message"] = "You uploaded this recording before; here is that session."
    if _json_client(request, principal):
        return JSONResponse(body, status_code=201 if new else 200)
    return RedirectResponse(url + ("" if new else "?notice=duplicate"), status_code=303)


def _json_client(request: Request, principal: Principal) -> bool:
    accept = request.headers.get("accept", "")
    return (
        principal.via == "token"
        or "application/json" in accept
        or (request.url.path.startswith("/api/"))
    )


def _forget(request: Request, public_id: str) -> None:
    """Undo an upload that could not be queued."""
    with request.app.state.db.session() as db:
        recording = db.scalar(select(Recording).where(Recording.public_id == public_id))
        if recording is not None:
            recordings.delete(db, request.app.state.storage, recording)
