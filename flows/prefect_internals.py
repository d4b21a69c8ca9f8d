"""Every use of Prefect's private internals, in one place, each with its reason.

Prefect's public API has no way to stop the local ("ephemeral") API server a
process started, nor to stop it when a process ends without running ``atexit``
hooks (a ``multiprocessing`` worker leaves through ``os._exit``, a process
killed by SIGTERM runs none). Left running, that server is an orphan: an
unauthenticated HTTP API on loopback listing session ids and audio paths. So
this module reaches into Prefect, and only this module:

* ``prefect.server.api.server.SubprocessASGIServer._instances`` (a class-level
  dict of started servers) and each server's ``stop()``, ``server_process`` and
  ``running``: to stop the servers this process started;
* ``prefect.logging.handlers.APILogWorker.drain_all`` and
  ``prefect.events.worker.EventsWorker.drain_all``: to send queued log lines and
  events before the server goes;
* ``prefect.logging.handlers.PrefectConsoleHandler`` (by class): to silence or
  filter Prefect's console lines; and the module prefix ``prefect.`` of the
  handlers its logging configuration installs, to strip tracebacks from them.

:func:`internals_problems` checks that each of these is still there and shaped
as used; ``tests/test_lifecycle.py`` fails loudly, naming what changed, after
a Prefect upgrade that moved one. Everything else here uses public API only
(settings, ``temporary_settings``).
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing.util
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from pipeline.errors import OrchestrationError

DRAIN_TIMEOUT_S = 5.0
"""How long queued log lines and events may take to reach the server at exit."""


# --------------------------------------------------------------------------- checks


def internals_problems() -> list[str]:
    """What of the internals this module relies on is missing in the installed Prefect."""
    problems: list[str] = []
    try:
        from prefect.server.api.server import SubprocessASGIServer
    except ImportError as error:
        return [f"prefect.server.api.server.SubprocessASGIServer cannot be imported ({error})"]
    instances = getattr(SubprocessASGIServer, "_instances", None)
    if not isinstance(instances, dict):
        problems.append("SubprocessASGIServer._instances is no longer a class-level dict")
    for method in ("start", "stop"):
        if not callable(getattr(SubprocessASGIServer, method, None)):
            problems.append(f"SubprocessASGIServer.{method}() is gone")
    try:
        source = inspect.getsource(SubprocessASGIServer)
    except (OSError, TypeError):
        source = ""
    for attribute in ("self.server_process", "self.running", "_instances["):
        if attribute not in source:
            problems.append(f"SubprocessASGIServer no longer uses {attribute}")
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker, PrefectConsoleHandler
    except ImportError as error:
        problems.append(f"Prefect's log or events worker cannot be imported ({error})")
    else:
        for worker in (APILogWorker, EventsWorker):
            if not callable(getattr(worker, "drain_all", None)):
                problems.append(f"{worker.__name__}.drain_all() is gone")
        if not issubclass(PrefectConsoleHandler, logging.Handler):
            problems.append("PrefectConsoleHandler is no longer a logging.Handler")
    return problems


# ------------------------------------------------------------------ local servers


def ephemeral_servers() -> list[Any]:
    """The local API servers this process started and has not stopped."""
    from prefect.server.api.server import SubprocessASGIServer

    return [s for s in SubprocessASGIServer._instances.values() if s.server_process is not None]


def stop_ephemeral_servers(*, drain: bool = True) -> None:
    """Send the queued logs and events (``drain``), then stop this process's local server(s)."""
    try:
        from prefect.server.api.server import SubprocessASGIServer
    except ImportError:  # pragma: no cover - Prefect always installed
        return
    if drain:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            with suppress(Exception):
                worker.drain_all(timeout=DRAIN_TIMEOUT_S)
    for server in list(SubprocessASGIServer._instances.values()):
        with suppress(Exception):
            server.stop()


_exit_hook: dict[str, bool] = {}
_exit_hook_lock = threading.Lock()


def stop_ephemeral_server_with_process() -> None:
    """Stop the local API server when this process ends, also in a process pool.

    Prefect stops it from an ``atexit`` hook, which a ``multiprocessing`` worker
    never runs (it leaves through ``os._exit``): without this, every pool worker
    that ran a flow would leave an orphaned server process behind.
    """
    with _exit_hook_lock:
        if _exit_hook:
            return
        multiprocessing.util.Finalize(None, stop_ephemeral_servers, exitpriority=0)
        _exit_hook["registered"] = True


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM in a worker process: stop the local server, then leave at once."""
    with suppress(Exception):
        stop_ephemeral_servers(drain=False)
    os._exit(128 + signum)


def stop_servers_on_sigterm() -> None:
    """In a worker process: on SIGTERM, stop the local API server before exiting.

    The default action of SIGTERM ends the process without any clean-up, which
    is how the web app's worker pool used to leave one orphaned server per
    worker at every shutdown. Only the main thread may install handlers.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def check_loopback() -> None:
    """Refuse, in one line, to start a local API server where loopback does not work.

    Prefect's ephemeral server listens on 127.0.0.1; without a loopback
    interface (some sandboxes and containers) every run would wait for it until
    a timeout and crash with a traceback.
    """
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            with socket.socket() as client:
                client.settimeout(2.0)
                client.connect(server.getsockname())
    except OSError as error:
        raise OrchestrationError(
            "Prefect's local API server needs the loopback interface (127.0.0.1), which "
            f"does not work here ({error.strerror or error}); set PREFECT_API_URL to a "
            "Prefect server this machine reaches (see docs/scaling.md)"
        ) from None


# ------------------------------------------------------------------------- logging


class NoTraceback(logging.Filter):
    """Drops the traceback from a record: tracebacks carry absolute paths of this machine."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text or record.stack_info:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


_NO_TRACEBACK = NoTraceback()


def prefect_handlers() -> Iterator[logging.Handler]:
    """Every handler Prefect's logging configuration installed (console, API, worker API)."""
    loggers = [logging.getLogger()]
    loggers += [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    seen: set[int] = set()
    for logger in loggers:
        for handler in logger.handlers:
            if id(handler) not in seen and type(handler).__module__.startswith("prefect."):
                seen.add(id(handler))
                yield handler


def strip_tracebacks_from_prefect_logs() -> None:
    """Prefect's log lines (console and API) keep their message, lose the traceback."""
    for handler in prefect_handlers():
        if _NO_TRACEBACK not in handler.filters:
            handler.addFilter(_NO_TRACEBACK)


@contextmanager
def quiet_console() -> Iterator[None]:
    """Silence Prefect's console log handlers for a while (the API still gets every log)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = [h for h in prefect_handlers() if isinstance(h, PrefectConsoleHandler)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)
