"""The supervisor web app: ``create_app(settings)`` builds a ready FastAPI application.

Creating the app migrates the database; starting it (the lifespan) cleans
partial uploads, submits analyses a previous run left unfinished, and stops
the worker processes at shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from web import recordings
from web.auth import NotAuthenticatedError
from web.db import Database, migrate
from web.models import Recording
from web.pages import SecurityHeaders, make_templates, render
from web.processing import Job, Processor, Result, deployment_processor
from web.recordings import NotFoundError
from web.routes import account, report, sessions, upload
from web.settings import Settings
from web.storage import Storage
from web.uploads import UploadError

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    """API clients and scripts get JSON; browsers navigating get pages."""
    accept = request.headers.get("accept", "")
    return (
        request.url.path.startswith("/api/")
        or "authorization" in request.headers
        or ("application/json" in accept and "text/html" not in accept)
    )


def _warm_imports() -> None:
    """Import the scoring and report code ahead of the first role correction (no models)."""
    try:
        import pipeline.document
        import pipeline.outputs  # noqa: F401
    except Exception:  # pragma: no cover - only speeds things up
        log.warning("could not preload the pipeline modules", exc_info=True)


def create_app(settings: Settings | None = None, *, processor: Processor | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment).

    ``processor`` replaces the pool of analysis processes (tests pass a fake).
    """
    settings = settings or Settings()
    storage = Storage(settings.data_dir)
    database = Database(settings.resolved_database_url)
    migrate(database.engine)
    if processor is None and settings.prefect_deployment:
        processor = deployment_processor(
            settings.prefect_deployment, workers=settings.workers, max_queue=settings.max_queue
        )
    processor = processor or Processor(
        workers=settings.workers, max_queue=settings.max_queue, data_dir=settings.data_dir
    )

    def on_done(job: Job, result: Result) -> None:
        with database.session() as db:
            recordings.finish(db, storage, settings, job.public_id, result)
        log.info("session %s: analysis %s", job.public_id, result.get("status"))

    def submit(recording: Recording) -> None:
        processor.submit(recordings.job_for(settings, recording, storage), on_done)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        storage.clean_tmp()
        with database.session() as db:
            orphans = recordings.remove_orphans(db, storage)
        if orphans:
            log.info("removed %d session folders of deleted sessions", len(orphans))
        _resubmit_unfinished(database, storage, submit)
        threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()
        yield
        processor.shutdown()
        database.dispose()

    app = FastAPI(
        title="session-analyzer",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.db = database
    app.state.secret = settings.resolved_secret_key()
    app.state.processor = processor
    app.state.submit = submit
    app.state.templates = make_templates()
    app.add_middleware(SecurityHeaders)
    for module in (account, upload, sessions, report):
        app.include_router(module.router)
    _add_error_handlers(app)
    return app


def _resubmit_unfinished(database: Database, storage: Storage, submit: Any) -> None:
    """Queue again what a stopped server left unanalyzed; fail what lost its audio."""
    with database.session() as db:
        unfinished = db.scalars(
            select(Recording).where(Recording.status == "queued").order_by(Recording.created_at)
        ).all()
        for recording in unfinished:
            if recordings.audio_path(storage, recording) is None:
                recording.status, recording.error = "failed", "the recording was lost"
                continue
            recording.status = "queued"
            submit(recording)
    if unfinished:
        log.info("resubmitted %d unfinished analyses", len(unfinished))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticatedError)
    async def _not_authenticated(request: Request, _error: Exception) -> Response:
        if wants_json(request) or request.method not in ("GET", "HEAD"):
            return JSONResponse(
                {"error": "authentication required"},
                status_code=401,
                headers={"www-authenticate": "Bearer"},
            )
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, _error: Exception) -> Response:
        return _error_response(request, 404, "No such session.")

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, UploadError)
        return _error_response(request, error.status_code, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        detail = error.detail if isinstance(error.detail, str) else "Request failed."
        if error.status_code == 404 and detail == "Not Found":
            detail = "No such page."
        return _error_response(request, error.status_code, detail, error.headers)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, _error: Exception) -> Response:
        # A number past the database's 64-bit integers (a page, an id): nothing has it.
        return _error_response(request, 404, "No such page.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: Exception) -> Response:
        return _error_response(request, 422, "The request is missing a field or has a bad value.")


def _error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    return render(request, "error.html", None, status_code=status, message=message, status=status)
