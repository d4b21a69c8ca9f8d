"""The upload page, the upload endpoint (streamed to disk, sniffed, deduplicated), and
analyzing an uploaded recording again with other choices."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import partial

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web import recordings
from web.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Principal, check_csrf
from web.db import Database
from web.media import MediaInfo
from web.models import Recording, User, utcnow
from web.options import AnalysisChoices, check_channels, read_choices, sniff_or_refuse
from web.pages import render
from web.processing import SubmitError
from web.storage import Storage, new_public_id
from web.uploads import ReceivedForm, UploadError, describe_size, receive_form

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


def _store(
    *,
    database: Database,
    storage: Storage,
    user: User,
    form: ReceivedForm,
    choices: AnalysisChoices,
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
                hint=choices.hint,
                channel_mode=choices.channels,
                speakers=choices.speakers,
                status="queued",
            )
            session.add(recording)
            session.flush()
        except BaseException:
            storage.remove_session(public_id)
            form.discard()
            raise
    return recording, True


def _validate(form: ReceivedForm) -> tuple[AnalysisChoices, MediaInfo, MediaInfo | None]:
    """Check the fields and sniff the files; raises :class:`UploadError`. Worker thread."""
    if "recording" not in form.files:
        raise UploadError(400, "choose a recording to upload")
    choices = read_choices(form.fields)
    _parse_date(form.fields.get("session_date", ""))
    info = sniff_or_refuse(form.files["recording"])
    check_channels(choices, audio_channels=info.channels)
    enrollment_info = None
    if choices.hint == "enrollment":
        if "enrollment" not in form.files:
            raise UploadError(400, "add the counselor's voice sample, or choose another hint")
        enrollment_info = sniff_or_refuse(form.files["enrollment"], what="voice sample ")
    elif "enrollment" in form.files:
        form.files.pop("enrollment").path.unlink(missing_ok=True)
    return choices, info, enrollment_info


async def _receive(
    request: Request, principal: Principal, *, files: tuple[str, ...]
) -> ReceivedForm:
    settings = request.app.state.settings
    storage: Storage = request.app.state.storage
    limits = {
        "recording": settings.upload_limit_bytes,
        "enrollment": settings.enrollment_limit_bytes,
    }
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
        limits={name: limits[name] for name in files},
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
    form = await _receive(request, principal, files=("recording", "enrollment"))
    try:
        choices, info, enrollment_info = await run_in_threadpool(_validate, form)
        recording, new = await run_in_threadpool(
            _store,
            database=request.app.state.db,
            storage=request.app.state.storage,
            user=principal.user,
            form=form,
            choices=choices,
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
        except SubmitError as error:
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
        body["message"] = (
            "You uploaded this recording before; here is that session. To analyze it with "
            f"other choices, post them to {url}/analyze-again."
        )
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


def _requeueable(session: Session, storage: Storage, user: User, public_id: str) -> Recording:
    """The user's recording if it can be analyzed again now; else a 404, 409 or 410."""
    recording = recordings.get_visible(session, user, public_id)
    if recording.status == "queued":
        raise UploadError(409, "this session is being analyzed; wait until it has finished")
    if recordings.audio_path(storage, recording) is None:
        raise UploadError(
            410,
            "the audio of this session was deleted after its analysis (retention setting), "
            "so it cannot be analyzed again; delete the session and upload the recording anew",
        )
    return recording


def _can_requeue(*, database: Database, storage: Storage, user: User, public_id: str) -> None:
    """Refuse before the body is read: another user's session is a 404 whatever is sent."""
    with database.session() as session:
        _requeueable(session, storage, user, public_id)


def _requeue(
    *, database: Database, storage: Storage, user: User, public_id: str, form: ReceivedForm
) -> Recording:
    """Check the new choices against the stored recording and queue it again. Worker thread.

    A field left out keeps the session's choice. A new voice sample replaces
    the stored one; without one, a stored sample is reused. The session is
    claimed with one conditional update (two requests at once queue it once);
    then its previous outputs and summary measures are removed, so a rerun
    that is running or has failed never shows the previous results as its own.
    """
    with database.session() as session:
        recording = _requeueable(session, storage, user, public_id)
        stored = AnalysisChoices(recording.hint, recording.channel_mode, recording.speakers)
        choices = read_choices(form.fields, defaults=stored)
        check_channels(choices, audio_channels=recording.channels or 1)
        upload_dir = storage.upload_dir(public_id)
        stored_samples = sorted(upload_dir.glob("enrollment.*"))
        sample = form.files.get("enrollment")  # a sample not moved here is discarded after
        new_sample = None
        if choices.hint == "enrollment" and sample is not None:
            new_sample = sniff_or_refuse(sample, what="voice sample ")
        elif choices.hint == "enrollment" and not stored_samples:
            raise UploadError(400, "add the counselor's voice sample, or choose another hint")
        if not recordings.claim_for_analysis(session, recording, from_status=("done", "failed")):
            raise UploadError(409, "this session is being analyzed; wait until it has finished")
        if sample is not None and new_sample is not None:
            for old in stored_samples:
                old.unlink(missing_ok=True)
            sample.path.replace(upload_dir / f"enrollment.{new_sample.extension}")
            del form.files["enrollment"]
        for output in storage.out_dir(public_id).iterdir():
            if output.is_file():
                output.unlink()
        recording.hint, recording.channel_mode = choices.hint, choices.channels
        recording.speakers = choices.speakers
        recording.error, recording.finished_at = None, None
        recordings.clear_summary(recording)
        recording.updated_at = utcnow()
    return recording


@router.post("/sessions/{public_id}/analyze-again")
@router.post("/api/sessions/{public_id}/analyze-again", include_in_schema=False)
async def analyze_again(request: Request, principal: CurrentPrincipal, public_id: str) -> Response:
    """Analyze a finished or failed session again with other choices.

    The form has the upload's ``hint``, ``channels`` and ``speakers`` fields
    and, with ``hint=enrollment``, an optional new ``enrollment`` voice sample.
    Models run again where a choice changed them (cached stages are reused);
    the new measures replace the old ones when the analysis ends, and role
    corrections made on the old report are not carried over. ``202`` with
    ``{"id", "url", "status_url", "status"}`` for scripts, else a redirect to
    the session page; ``409`` while the session is being analyzed, ``410``
    after retention deleted its audio, ``503`` queue full.
    """
    processor = request.app.state.processor
    if processor.pending >= processor.max_queue:
        raise UploadError(503, "the server is busy analyzing other recordings; try again later")
    where = {
        "database": request.app.state.db,
        "storage": request.app.state.storage,
        "user": principal.user,
        "public_id": public_id,
    }
    await run_in_threadpool(partial(_can_requeue, **where))
    form = await _receive(request, principal, files=("enrollment",))
    try:
        check_csrf(principal, request.headers.get(CSRF_HEADER) or form.fields.get(CSRF_FIELD))
        recording = await run_in_threadpool(partial(_requeue, **where, form=form))
    finally:
        form.discard()
    try:
        await run_in_threadpool(request.app.state.submit, recording)
    except SubmitError as error:
        await run_in_threadpool(_fail, request, public_id, str(error))
        raise UploadError(503, str(error)) from None
    url = f"/sessions/{public_id}"
    if _json_client(request, principal):
        body = {"id": public_id, "url": url, "status_url": f"/api/sessions/{public_id}"}
        return JSONResponse(body | {"status": recording.status}, status_code=202)
    return RedirectResponse(url, status_code=303)


def _fail(request: Request, public_id: str, error: str) -> None:
    """Mark a session that could not be queued again as failed (it can be retried)."""
    with request.app.state.db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.public_id == public_id))
        if recording is not None:
            recording.status, recording.error = "failed", error
