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
  handlers its logging configuration installs, to strip tracebacks from them;
* the command and environment with which ``SubprocessASGIServer`` runs the
  local server (``uvicorn --factory prefect.server.api.server:create_app`` with
  ``PREFECT__SERVER_EPHEMERAL``...): :func:`start_local_server` runs the same
  server itself, as soon as a command knows it will need one, while the
  process is still importing Prefect, torch and the models, and points
  ``PREFECT_API_URL`` (public) at it. Importing the module that holds
  ``SubprocessASGIServer`` alone costs seconds, so it is read only by the check.

:func:`internals_problems` checks that each of these is still there and shaped
as used; ``tests/test_lifecycle.py`` fails loudly, naming what changed, after
a Prefect upgrade that moved one. Everything else here uses public API only
(settings, ``temporary_settings``).
"""

from __future__ import annotations

import atexit
import ctypes
import http.client
import importlib.util
import inspect
import logging
import multiprocessing.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pipeline.errors import OrchestrationError

if TYPE_CHECKING:
    from typing import IO

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
    problems += local_server_problems(SubprocessASGIServer)
    return problems


def local_server_problems(server_class: Any) -> list[str]:
    """Where Prefect now runs its local server differently from :func:`uvicorn_command`."""
    try:
        source = inspect.getsource(server_class._run_uvicorn_command)
    except (AttributeError, OSError, TypeError):
        return ["SubprocessASGIServer._run_uvicorn_command() is gone"]
    expected = [f'"{argument}"' for argument in UVICORN_ARGUMENTS]
    expected += ["sys.executable", "prefect.__module_path__.parent", "str(self.port)"]
    expected += [f'"{name}": "{value}"' for name, value in LOCAL_SERVER_ENV.items()]
    return [
        f"SubprocessASGIServer no longer runs its server with {item}"
        for item in expected
        if item not in source
    ]


# ------------------------------------------------------------------ local servers


def ephemeral_servers() -> list[Any]:
    """The local API servers this process started and has not stopped."""
    from prefect.server.api.server import SubprocessASGIServer

    return [s for s in SubprocessASGIServer._instances.values() if s.server_process is not None]


def stop_ephemeral_servers(*, drain: bool = True) -> None:
    """Send the queued logs and events (``drain``), then stop this process's local server(s)."""
    if drain:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            with suppress(Exception):
                worker.drain_all(timeout=DRAIN_TIMEOUT_S)
    # Never imported: no server of Prefect's was started (the CLI starts its own,
    # :func:`start_local_server`), and importing the server module costs ~1.5 s at exit.
    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return
    for server in list(server_module.SubprocessASGIServer._instances.values()):
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


# -------------------------------------------------------- a local server started early

UVICORN_ARGUMENTS = (
    "uvicorn",
    "--app-dir",
    "--factory",
    "prefect.server.api.server:create_app",
    "--host",
    "127.0.0.1",
    "--port",
    "--log-level",
    "error",
    "--lifespan",
    "on",
)
"""The literal arguments of Prefect's own local-server command (checked against it)."""

LOCAL_SERVER_ENV: dict[str, str] = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
"""The environment Prefect adds for its local server: no UI, only the ephemeral services."""

STARTUP_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
"""Prefect's setting for how long a local server may take to answer (also used here)."""

_PR_SET_PDEATHSIG = 1


def uvicorn_command(port: int, *, app_dir: str, python: str = sys.executable) -> list[str]:
    """The command Prefect's ``SubprocessASGIServer`` runs for its local server, on ``port``.

    Examples
    --------
    >>> uvicorn_command(8123, app_dir="/site", python="py")[:6]
    ['py', '-m', 'uvicorn', '--app-dir', '/site', '--factory']
    """
    arguments = list(UVICORN_ARGUMENTS)
    arguments.insert(arguments.index("--app-dir") + 1, app_dir)
    arguments.insert(arguments.index("--port") + 1, str(port))
    return [python, "-m", *arguments]


def _prefect_app_dir() -> str:
    """The folder holding the ``prefect`` package (found without importing Prefect)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise OrchestrationError("Prefect is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: the server gets SIGTERM when the process that started it dies, even by SIGKILL."""
    with suppress(Exception):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def answers_health(port: int, *, timeout_s: float = 2.0) -> bool:
    """Whether a Prefect API on ``127.0.0.1:port`` answers ``/api/health`` with 200.

    Plain ``http.client`` to the loopback address: no proxy setting can route it elsewhere.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class LocalServer:
    """Prefect's local API server, run by this process for as long as it lives.

    Started by :func:`start_local_server` before Prefect is imported, it gets
    ready while the process imports Prefect, torch and the models; Prefect
    reaches it through ``PREFECT_API_URL``. It stops with the process: at
    exit, on SIGTERM (the CLI turns it into ``KeyboardInterrupt``) and, on
    Linux, when the process is killed outright.
    """

    def __init__(self, *, app_dir: str | None = None) -> None:
        self.app_dir = app_dir or _prefect_app_dir()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._ready = False
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Start the server process (returns at once; :meth:`wait_ready` waits for it)."""
        self.port = _free_port()
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            uvicorn_command(self.port, app_dir=self.app_dir),
            env={**os.environ, **LOCAL_SERVER_ENV},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        atexit.register(self.stop)

    def wait_ready(self, *, timeout_s: float | None = None, restarts: int = 2) -> None:
        """Wait until the server answers; restart it on another port if it lost the port race.

        Raises :class:`OrchestrationError` (one line) when it exits or stays silent
        for ``timeout_s`` (default: Prefect's startup timeout setting, 120 s here).
        """
        with self._lock:
            if self._ready:
                return
            limit_s = timeout_s or float(os.environ.get(STARTUP_TIMEOUT_ENV) or 120)
            deadline = time.monotonic() + limit_s
            while True:
                process = self.process
                if process is None:
                    raise OrchestrationError("Prefect's local API server was stopped")
                if answers_health(self.port):
                    self._ready = True
                    return
                if process.poll() is not None:
                    if restarts > 0 and time.monotonic() < deadline:
                        restarts -= 1
                        self.start()
                        continue
                    raise OrchestrationError(
                        f"Prefect's local API server exited ({process.returncode}): "
                        f"{self._last_error_line()}"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise OrchestrationError(
                        f"Prefect's local API server did not answer within {limit_s:.0f} s "
                        f"(raise {STARTUP_TIMEOUT_ENV}, or set PREFECT_API_URL to a running "
                        "Prefect server; see docs/scaling.md)"
                    )
                time.sleep(0.1)

    def _last_error_line(self) -> str:
        if self._stderr is None:
            return "no message"
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no message"

    def stop(self) -> None:
        """Send queued logs and events if Prefect is loaded, then stop the server (idempotent)."""
        process, self.process = self.process, None
        if process is None:
            return
        if self._ready and "prefect.logging.handlers" in sys.modules:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            for worker in (APILogWorker, EventsWorker):
                with suppress(Exception):
                    worker.drain_all(timeout=DRAIN_TIMEOUT_S)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        atexit.unregister(self.stop)


_local_server: dict[str, LocalServer] = {}


def start_local_server() -> LocalServer | None:
    """Start Prefect's local API server now, for the rest of this process; point Prefect at it.

    Call before anything imports Prefect (its settings are read once, at
    import): afterwards, or when ``PREFECT_API_URL`` already names a server,
    this does nothing and returns ``None``. Only a process that ends with its
    command should call it (the CLI's ``main``): ``PREFECT_API_URL`` stays
    set to this server until the process ends.
    """
    if os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules or _local_server:
        return None
    check_loopback()
    server = LocalServer()
    server.start()
    _local_server["server"] = server
    os.environ["PREFECT_API_URL"] = server.api_url
    return server


def own_local_server(api_url: str | None) -> LocalServer | None:
    """The :class:`LocalServer` this process started, when ``api_url`` is its address."""
    server = _local_server.get("server")
    return server if server is not None and api_url == server.api_url else None


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
