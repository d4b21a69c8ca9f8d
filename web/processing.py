"""Run analyses outside the web process: a bounded pool of worker processes.

The worker calls ``flows.analyze_session.run_session`` when that module is
present, else the pipeline directly (``analyze_speech`` → ``score`` →
``session_document`` → ``write_outputs``). Either way ``OUT_DIR/status.json``
is rewritten atomically at every stage::

    {"stage": "queued|decoding|transcribing|diarizing|scoring|done|failed",
     "updated_at": "2026-01-01T12:00:00+00:00", "error": null, "session_sha256": "..."}

and the worker returns ``{status, error, sha256, client_led, session_json}``.
The web process only submits jobs and reads results; it never loads a model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
SESSION_FILE = "session.json"
STAGES = ("queued", "decoding", "transcribing", "diarizing", "scoring", "done", "failed")
_STAGE_OF_STEP = {"decode": "transcribing", "transcribe": "transcribing", "diarize": "diarizing"}
"""Pipeline progress step → the stage that runs next (a finished decode starts transcribing)."""
WORKER_NICENESS = 5
SHUTDOWN_GRACE_S = 10.0
"""How long worker processes get to stop their Prefect server after SIGTERM."""
"""Analyses run at a lower CPU priority so pages stay fast while a model runs."""

Result = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """One analysis to run; plain data so it crosses the process boundary."""

    public_id: str
    audio_path: str
    out_dir: str
    speech: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``pipeline.session.SpeechOptions``."""
    counselor_first: bool = False
    mode: Literal["auto", "flow", "direct"] = "auto"


class SubmitError(RuntimeError):
    """An analysis could not be queued; nothing was queued, and the message says why."""


class QueueFullError(SubmitError):
    """Too many analyses are waiting; the upload is refused for now."""


# ------------------------------------------------------------------ status.json


def write_status(
    out_dir: str | Path, stage: str, *, error: str | None = None, sha256: str | None = None
) -> None:
    """Atomically (re)write ``status.json`` (mode 0600); keeps a known sha256 when none is given."""
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sha256 is None:
        sha256 = (read_status(out) or {}).get("session_sha256")
    status = {
        "stage": stage,
        "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "error": error,
        "session_sha256": sha256,
    }
    temporary = out / f".{STATUS_FILE}.{os.getpid()}.{threading.get_ident()}"
    # Owner-only: it names the recording's sha256 (and the web app keeps health data).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(status))
    temporary.replace(out / STATUS_FILE)


def read_status(out_dir: str | Path) -> dict[str, Any] | None:
    """The last written ``status.json``, or ``None`` when absent or unreadable."""
    try:
        status = json.loads((Path(out_dir) / STATUS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


# --------------------------------------------------------------- in the worker


def _init_worker(data_dir: str | None = None) -> None:
    """Worker process set-up: offline, no telemetry, lower priority, the app's data directory."""
    if data_dir is not None:
        os.environ["SESSION_ANALYZER_DATA_DIR"] = data_dir  # where the flows keep their cache
    # Everything a worker writes (results cache, status.json, reports) is owner-only.
    os.umask(0o077)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    from cli.console import quiet_third_party_warnings
    from flows.prefect_internals import stop_servers_on_sigterm

    quiet_third_party_warnings()
    # The pool's shutdown terminates workers: each stops the Prefect server it started first.
    stop_servers_on_sigterm()


def run_job(job: Job) -> Result:
    """Analyze one recording (in a worker process); never raises for a bad recording."""
    run_session: Callable[..., Result] | None = None
    if job.mode != "direct":
        try:
            from flows.analyze_session import run_session
        except ImportError:
            if job.mode == "flow":
                raise
    if run_session is None:
        return run_direct(job)
    import inspect

    from pipeline.session import SpeechOptions

    extra = {}
    if "session_id" in inspect.signature(run_session).parameters:
        extra["session_id"] = job.public_id
    result: Result = run_session(
        job.audio_path,
        job.out_dir,
        speech=SpeechOptions(**job.speech),
        counselor_first=job.counselor_first,
        **extra,
    )
    return result


def run_direct(job: Job) -> Result:
    """The session flow without Prefect: the pipeline stages, writing status.json as it goes."""
    from models import ModelError
    from pipeline.errors import AnalyzerError
    from pipeline.outputs import write_outputs
    from pipeline.session import SpeechOptions, analyze_document

    out_dir = Path(job.out_dir)
    options = SpeechOptions(**job.speech)
    stage = "decoding"
    write_status(out_dir, stage)

    def progress(step: str, _done_s: float, _total_s: float) -> None:
        nonlocal stage
        next_stage = _STAGE_OF_STEP.get(step, "scoring")
        if next_stage != stage:
            stage = next_stage
            write_status(out_dir, stage)

    sha256 = None
    try:
        document = analyze_document(
            job.audio_path,
            options=options,
            counselor_first=job.counselor_first,
            progress=progress,
        )
        sha256 = document["audio"]["sha256"]
        paths = write_outputs(document, out_dir)
    except (AnalyzerError, ModelError, ValueError) as error:
        message = str(error)
        write_status(out_dir, "failed", error=message, sha256=sha256)
        return {
            "status": "failed",
            "error": message,
            "sha256": sha256,
            "client_led": None,
            "session_json": None,
        }
    write_status(out_dir, "done", sha256=sha256)
    return {
        "status": "done",
        "error": None,
        "sha256": sha256,
        "client_led": document["evidence"]["client_led"],
        "session_json": str(paths["session"]),
    }


def run_deployment_job(job: Job, *, deployment: str) -> Result:
    """Run the session flow on a Prefect server's work pool and wait for it (a thread).

    The flow's workers must see the same data directory (the recording and
    ``out_dir`` are paths); they write status.json there as the flow runs.
    """
    from prefect.deployments import run_deployment

    flow_run = run_deployment(
        name=deployment,
        parameters={
            "audio_path": job.audio_path,
            "out_dir": job.out_dir,
            "speech": job.speech,
            "counselor_first": job.counselor_first,
            "session_id": job.public_id,
        },
        timeout=None,
        tags=["web"],
    )
    state = getattr(flow_run, "state", None)
    session = Path(job.out_dir) / SESSION_FILE
    if state is not None and state.is_completed() and session.is_file():
        document = json.loads(session.read_text("utf-8"))
        return {
            "status": "done",
            "error": None,
            "sha256": document["audio"]["sha256"],
            "client_led": document["evidence"]["client_led"],
            "session_json": str(session),
        }
    status = read_status(job.out_dir) or {}
    message = status.get("error") or getattr(state, "message", None)
    return _failure(str(message or "the Prefect flow run did not complete"))


# ------------------------------------------------------------- in the web app


def process_pool(workers: int, data_dir: Path | None = None) -> ProcessPoolExecutor:
    """Worker processes started fresh (``spawn``): no state shared with the web server."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(None if data_dir is None else str(data_dir.resolve()),),
    )


def purge_cached_results(sha256: str, data_dir: Path) -> None:
    """Forget the flows' cached results (transcripts) of one recording, when they offer it.

    Calls ``flows.caching.forget(sha256)`` if that exists and the flows ever ran
    here (``<data_dir>/prefect``); the direct pipeline keeps no cache.
    """
    if not (data_dir / "prefect").exists():
        return
    try:
        from flows import caching
    except ImportError:
        return
    forget = getattr(caching, "forget", None)
    if callable(forget):
        forget(sha256)


Runner = Callable[[Job], Result]


def deployment_processor(deployment: str, *, workers: int, max_queue: int) -> Processor:
    """Submit analyses to a Prefect deployment; ``workers`` runs are in flight at most."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    return Processor(
        workers=workers,
        max_queue=max_queue,
        runner=partial(run_deployment_job, deployment=deployment),
        executor_factory=lambda: ThreadPoolExecutor(workers, thread_name_prefix="prefect-run"),
    )


Finished = Callable[[Job, Result], None]


def _not_started(error: BaseException) -> str:
    log.error("could not hand an analysis to the worker pool: %s", type(error).__name__)
    return f"the analysis could not be started ({type(error).__name__}); try again later"


class Processor:
    """Submit jobs to a bounded executor and report each result through a callback.

    At most ``max_queue`` jobs wait or run; a further submit raises
    :class:`QueueFullError`. If a worker process dies (out of memory, a crash),
    its jobs fail with a clear message and a fresh pool takes over, also when
    the next job arrives before the pool's own callback has noticed. A pool
    that cannot take a job at all raises :class:`SubmitError`.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        max_queue: int = 100,
        runner: Runner = run_job,
        executor_factory: Callable[[], Executor] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.runner = runner
        self._factory = executor_factory or (lambda: process_pool(workers, data_dir))
        self._executor: Executor | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._closing = False

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished."""
        return self._pending

    def _pool(self) -> Executor:
        if self._executor is None:
            self._executor = self._factory()
        return self._executor

    def submit(self, job: Job, on_done: Finished) -> None:
        """Queue ``job``; ``on_done(job, result)`` runs in a background thread when it ends."""
        with self._lock:
            if self._pending >= self.max_queue:
                raise QueueFullError(
                    f"{self._pending} recordings are waiting for analysis; try again later"
                )
            future = self._submit_to_pool(job)
            write_status(job.out_dir, "queued")
            self._pending += 1
        future.add_done_callback(lambda done: self._finished(job, done, on_done))

    def _submit_to_pool(self, job: Job) -> Future[Result]:
        """Hand ``job`` to the pool; a pool broken by a dead worker is replaced once."""
        try:
            return self._pool().submit(self.runner, job)
        except BrokenProcessPool:
            self._executor = None  # a worker died since the last job; start a fresh pool
        except (OSError, RuntimeError) as error:  # cannot start processes; shut down
            raise SubmitError(_not_started(error)) from None
        try:
            return self._pool().submit(self.runner, job)
        except (OSError, RuntimeError) as error:  # BrokenProcessPool is a RuntimeError
            raise SubmitError(_not_started(error)) from None

    def _finished(self, job: Job, future: Future[Result], on_done: Finished) -> None:
        with self._lock:
            self._pending -= 1
            if self._closing or future.cancelled():
                return  # left queued in the database; submitted again at the next start
        try:
            result = future.result()
        except BrokenProcessPool:
            log.error("analysis process died while working on session %s", job.public_id)
            with self._lock:
                self._executor = None
            result = _failure("the analysis process stopped unexpectedly (out of memory?)")
        except BaseException as error:  # a bug, not a bad recording
            from pipeline.errors import AnalyzerError

            if isinstance(error, AnalyzerError):  # e.g. Prefect cannot run here: say why
                result = _failure(" ".join(str(error).split()))
            else:
                # Log where, not the message (it could quote the transcript), and no
                # absolute paths: module file names and line numbers only.
                log.error(
                    "analysis of session %s failed with %s at %s",
                    job.public_id,
                    type(error).__name__,
                    where(error),
                )
                result = _failure(f"internal error during analysis ({type(error).__name__})")
        if result.get("status") != "done":
            write_status(job.out_dir, "failed", error=result.get("error") or "analysis failed")
        try:
            on_done(job, result)
        except Exception:
            log.exception("recording the result of session %s failed", job.public_id)

    def shutdown(self) -> None:
        """Stop accepting work, drop queued jobs and stop the workers now.

        Jobs cut short stay ``queued``/``processing`` in the database and are
        submitted again at the next start.
        """
        with self._lock:
            self._closing = True
            executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = dict(getattr(executor, "_processes", None) or {})
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes.values():
            process.terminate()
        # Each worker stops the Prefect server it started, then exits; wait for that.
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for process in processes.values():
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def where(error: BaseException, *, frames: int = 4) -> str:
    """The innermost frames of a traceback as ``file.py:line in function``, no directories."""
    summary = traceback.extract_tb(error.__traceback__)[-frames:]
    return " < ".join(
        f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}" for frame in reversed(summary)
    )


def _failure(message: str) -> Result:
    return {
        "status": "failed",
        "error": message,
        "sha256": None,
        "client_led": None,
        "session_json": None,
    }
