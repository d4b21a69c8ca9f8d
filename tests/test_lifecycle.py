"""Whatever a command starts, it stops: on success, on failure, on SIGTERM and on SIGINT.

Every process these tests start carries a marker in its environment (its own
data directory); after each test no process with that marker may remain, and
no port may stay open. The Prefect internals this project relies on are
checked here too, so a Prefect upgrade that moves them fails loudly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "dialogue_client_led.wav"


# --------------------------------------------------------------------------- helpers


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (``NAME=value``).

    The test process's own ``multiprocessing`` resource tracker is not counted:
    it belongs to pytest and ends with it.
    """
    needle = marker.encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            command = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"multiprocessing.resource_tracker" in command:
            continue
        if state != "Z" and needle in environ + b"\0":
            found.append(int(entry.name))
    return found


def command_lines(pids: list[int]) -> list[str]:
    """What the processes run, for a failure message."""
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return lines


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def wait_until(condition: object, *, timeout_s: float, step_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(step_s)
    return False


def kill_all(marker: str) -> None:
    for pid in processes_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[str]:
    """An environment marker; whatever still carries it at the end is killed (and fails)."""
    value = f"SESSION_ANALYZER_DATA_DIR={tmp_path / 'data'}"
    yield value
    left = processes_with(value)
    kill_all(value)
    assert not left, f"processes left behind: {command_lines(left)}"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        SESSION_ANALYZER_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        PYANNOTE_METRICS_ENABLED="0",
        **extra,
    )
    return env


# ------------------------------------------------------------------ Prefect internals


def test_prefect_internals_we_rely_on_are_still_there() -> None:
    """Fails, naming the change, when a Prefect upgrade moves an internal we use."""
    from flows.prefect_internals import internals_problems

    assert internals_problems() == []


def test_the_local_server_command_is_prefects_own() -> None:
    from flows.prefect_internals import uvicorn_command

    assert uvicorn_command(8123, app_dir="/site", python="py") == [
        "py", "-m", "uvicorn", "--app-dir", "/site", "--factory",
        "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", "8123",
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def test_a_changed_local_server_command_is_named() -> None:
    """The check reads Prefect's source: a command without ``--lifespan`` is reported."""
    from flows.prefect_internals import local_server_problems

    class Changed:
        def _run_uvicorn_command(self) -> list[str]:
            env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
            return [str(env), "uvicorn", "--app-dir", "--factory"]

    problems = local_server_problems(Changed)
    assert 'SubprocessASGIServer no longer runs its server with "--lifespan"' in problems
    assert any('"PREFECT__SERVER_FINAL": "1"' in p for p in problems)
    assert not any("PREFECT_UI_ENABLED" in p for p in problems)
    assert local_server_problems(object) == ["SubprocessASGIServer._run_uvicorn_command() is gone"]


def test_no_early_server_once_prefect_is_loaded_or_a_server_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect reads ``PREFECT_API_URL`` once, at import: too late then, and never over a user's."""
    import types

    from flows import prefect_internals

    monkeypatch.setenv("PREFECT_API_URL", "http://prefect-host:4200/api")
    assert prefect_internals.start_local_server() is None
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setitem(sys.modules, "prefect", types.ModuleType("prefect"))
    assert prefect_internals.start_local_server() is None
    assert "PREFECT_API_URL" not in os.environ
    assert prefect_internals.own_local_server(None) is None
    assert prefect_internals.own_local_server("http://127.0.0.1:1/api") is None


def test_quick_teardown_freezes_the_heap() -> None:
    code = (
        "import gc; from cli.main import quick_teardown; quick_teardown(); "
        "assert not gc.isenabled() and gc.get_freeze_count() > 0"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


_SERVER_SCRIPT = """
import sys, time
from flows.prefect_internals import start_local_server
server = start_local_server()
server.wait_ready()
print(server.port, flush=True)
if sys.argv[1] == "sleep":
    time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_the_early_local_server_ends_with_its_process(
    tmp_path: Path, marker: str, ending: str
) -> None:
    """Stopped at exit by ``atexit``; on Linux, by the kernel when its process is killed."""
    if ending == "sigkill" and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT, "sleep" if ending == "sigkill" else "exit"],
        env=environment(tmp_path),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline() or 0)
        assert port, process.stderr.read() if process.stderr else ""
        if ending == "sigkill":
            assert _port_open(port)
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert wait_until(lambda: not processes_with(marker), timeout_s=15), command_lines(
        processes_with(marker)
    )
    assert not _port_open(port)


def test_prefect_log_handlers_drop_tracebacks() -> None:
    import flows.analyze_session  # noqa: F401 - configures Prefect's logging
    from flows.prefect_internals import (
        NoTraceback,
        prefect_handlers,
        strip_tracebacks_from_prefect_logs,
    )

    strip_tracebacks_from_prefect_logs()
    handlers = list(prefect_handlers())
    assert handlers, "Prefect installed no log handlers"
    assert all(any(isinstance(f, NoTraceback) for f in h.filters) for h in handlers)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "prefect.task_runs", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    assert NoTraceback().filter(record)
    assert record.exc_info is None and record.exc_text is None
    formatted = logging.Formatter().format(record)
    assert "Traceback" not in formatted and str(REPO) not in formatted


# ----------------------------------------------------------------------- no loopback


def test_without_loopback_the_cli_says_so_in_one_line(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare -n)")
    out = tmp_path / "out"
    started = time.monotonic()
    done = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "cli.main",
            "analyze",
            str(FIXTURE),
            "--out",
            str(out),
            "--model",
            "tiny.en",
        ],
        env=environment(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "needs the loopback interface (127.0.0.1)" in lines[0]
    assert "PREFECT_API_URL" in lines[0]
    assert not out.exists()
    assert time.monotonic() - started < 60


# ---------------------------------------------------------------- signals: analyze


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_analyze_stops_its_prefect_server_on_a_signal(
    tmp_path: Path, marker: str, signum: signal.Signals
) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "analyze", str(FIXTURE), "--out", str(out)],
        env=environment(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: children_of(process.pid), timeout_s=120), "no server started"
        time.sleep(2.0)
        os.kill(process.pid, signum)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "session-analyzer: interrupted; nothing was left half-written"
    )
    assert "Traceback" not in stderr
    assert wait_until(lambda: not processes_with(marker), timeout_s=15), command_lines(
        processes_with(marker)
    )
    assert not out.exists()


# ------------------------------------------------------------ web worker processes


@pytest.mark.slow
def test_the_web_worker_pool_stops_the_prefect_servers_it_started(
    tmp_path: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow in a worker process starts a local server; shutting the pool down stops it."""
    from web.processing import Job, Processor

    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "not audio.wav"
    bad.write_bytes(b"not audio at all" * 100)
    processor = Processor(workers=1, data_dir=tmp_path / "data")
    job = Job("life" + "x" * 18, str(bad), str(tmp_path / "out"), {"model": "tiny.en"}, mode="flow")
    results: dict[str, object] = {}
    try:
        processor.submit(job, lambda done, result: results.update({done.public_id: result}))
        assert wait_until(lambda: results, timeout_s=300), "the job never finished"
        workers = [
            pid
            for pid in processes_with(marker)
            if "uvicorn" not in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        servers = [p for pid in workers for p in children_of(pid)]
        assert servers, "the worker started no Prefect server (nothing to test)"
    finally:
        processor.shutdown()
    result = results[job.public_id]
    assert isinstance(result, dict) and result["status"] == "failed"
    assert "not a recognised audio or video file" in str(result["error"])
    assert wait_until(lambda: not processes_with(marker), timeout_s=20), command_lines(
        processes_with(marker)
    )


# ------------------------------------------------------------------------ serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_everything_on_a_signal(
    tmp_path: Path, marker: str, signum: signal.Signals
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        env=environment(tmp_path, SESSION_ANALYZER_SECRET_KEY="x" * 40),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: _port_open(port), timeout_s=90), "serve never listened"
        os.kill(process.pid, signum)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0
    assert not _port_open(port)
    assert wait_until(lambda: not processes_with(marker), timeout_s=15), command_lines(
        processes_with(marker)
    )


# --------------------------------------------------------------------------- console


@pytest.mark.parametrize("quiet", [True, False])
def test_pyannotes_torchcodec_warning_is_hidden_unless_verbose(tmp_path: Path, quiet: bool) -> None:
    """The CLI hides third-party warnings about features we do not use; --verbose shows them."""
    code = "import pyannote.audio.core.io"
    if quiet:
        code = "from cli.console import quiet_third_party_warnings as q; q(); " + code
    env = environment(tmp_path)
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if not quiet and "torchcodec" not in done.stderr:
        pytest.skip("this torchcodec loads (no warning to hide)")
    assert ("torchcodec" in done.stderr) is not quiet
    assert (done.stderr.strip() == "") is quiet


# ------------------------------------------------------- make server / make worker


def _wait_healthy(url: str, process: subprocess.Popen[bytes], *, timeout_s: float) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


@pytest.mark.slow
def test_prefect_server_and_worker_stop_everything_on_sigterm(tmp_path: Path, marker: str) -> None:
    """What ``make server`` and ``make worker`` run: each ends with all its children."""
    prefect = str(Path(sys.executable).parent / "prefect")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server_env = environment(
        tmp_path / "server",
        PREFECT_HOME=str(tmp_path / "server-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    server_marker = f"SESSION_ANALYZER_DATA_DIR={tmp_path / 'server' / 'data'}"
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        env=server_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        assert _wait_healthy(api_url, server, timeout_s=180), "the Prefect server never started"
        worker = subprocess.Popen(
            [prefect, "worker", "start", "--pool", "lifecycle", "--type", "process"],
            env=environment(
                tmp_path, PREFECT_API_URL=api_url, PREFECT_HOME=str(tmp_path / "worker-home")
            ),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_until(lambda: processes_with(marker), timeout_s=30)
        time.sleep(10)  # the worker creates its pool and starts polling
        assert worker.poll() is None, "the worker did not stay up"
        os.kill(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        assert wait_until(lambda: not processes_with(marker), timeout_s=15), command_lines(
            processes_with(marker)
        )
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        assert wait_until(lambda: not processes_with(server_marker), timeout_s=15), command_lines(
            processes_with(server_marker)
        )
        assert not _port_open(port)
    finally:
        for process in (worker, server):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        kill_all(server_marker)


# ---------------------------------------------------------- interrupts during the imports


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_the_imports_takes_effect_when_they_are_done(
    signum: signal.Signals,
) -> None:
    from cli.main import interrupts_held

    before = signal.getsignal(signum)
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts_held(enabled=True):
        os.kill(os.getpid(), signum)
        time.sleep(0.05)  # the handler has run by now: nothing was raised here
        finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signum) is before


def test_a_second_interrupt_during_the_imports_takes_effect_at_once() -> None:
    from cli.main import interrupts_held

    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_held(enabled=True):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        reached.append("first held")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        reached.append("second held too")
    assert reached == ["first held"]


def test_interrupts_are_not_held_when_disabled() -> None:
    from cli.main import interrupts_held

    with pytest.raises(KeyboardInterrupt), interrupts_held(enabled=False):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        pytest.fail("not interrupted")
