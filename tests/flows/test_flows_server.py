"""Scale-out for real: a local Prefect server, a process work pool, two workers, a cohort.

Everything runs as subprocesses on localhost (no network beyond 127.0.0.1) and
every one of them is killed by the fixtures' finalizers, pass or fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pipeline.outputs import read_document
from tests.flows.fakes import copy_fixture

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "test-sessions"
DEPLOYMENT = "analyze-session/session-analyzer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes], *, grace_s: float = 15.0) -> None:
    """SIGINT the process group, then SIGKILL whatever is left of it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=grace_s)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@dataclass(frozen=True)
class Server:
    api_url: str
    env: dict[str, str]
    root: Path


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``prefect server start`` on a free localhost port with its own PREFECT_HOME."""
    root = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(root / "home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        SESSION_ANALYZER_DATA_DIR=str(root / "data"),
        PYTHONPATH=str(REPO),
    )
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
         "--no-ui"],
        env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        api_url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (root / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Prefect server did not become healthy"
            time.sleep(1)
        yield Server(api_url, {**env, "PREFECT_API_URL": api_url}, root)
    finally:
        _stop(server)
        log.close()


@pytest.fixture(scope="module")
def two_workers(prefect_server: Server) -> Iterator[list[Path]]:
    """The pool and deployment (``python -m flows.deploy``), then two process workers."""
    env = prefect_server.env
    deploy = subprocess.run(
        [sys.executable, "-m", "flows.deploy", "--pool", POOL],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stderr
    assert f"deployment {DEPLOYMENT}" in deploy.stdout
    assert "automation crash runs silent for 120 s (created)" in deploy.stdout
    workers, logs = [], []
    try:
        for name in ("worker-1", "worker-2"):
            log_path = prefect_server.root / f"{name}.log"
            logs.append(log_path)
            with log_path.open("wb") as log:
                workers.append(
                    subprocess.Popen(
                        [
                            str(BIN / "prefect"),
                            "worker",
                            "start",
                            "--pool",
                            POOL,
                            "--type",
                            "process",
                            "--name",
                            name,
                            "--limit",
                            "1",
                        ],
                        env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1"},
                        cwd=prefect_server.root,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 120
        while not all("started" in p.read_text(errors="replace") for p in logs):
            assert all(w.poll() is None for w in workers), "a worker exited"
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(1)
        yield logs
    finally:
        for worker in workers:
            _stop(worker)


def _deployment_runs(server: Server) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"{server.api_url}/flow_runs/filter",
        data=json.dumps({"deployments": {"name": {"any_": ["session-analyzer"]}}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        runs: list[dict[str, object]] = json.loads(response.read())
    return runs


def _cohort(server: Server, manifest: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.cohort", str(manifest), "--out", str(out), "--deployment",
         "--model", "tiny.en", "--workers", "3", "--quiet"],
        env=server.env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_a_cohort_through_two_process_workers(
    prefect_server: Server, two_workers: list[Path], tmp_path: Path
) -> None:
    copy_fixture("video_with_audio.mp4", tmp_path / "rec" / "clip.mp4")
    copy_fixture("dialogue_client_led.wav", tmp_path / "rec" / "dialogue.wav")
    copy_fixture("corrupt.wav", tmp_path / "rec" / "broken.wav")
    manifest = tmp_path / "cohort.csv"
    manifest.write_text(
        "session_id,trainee_id,audio_path,counselor_hint\n"
        "s1,t1,rec/clip.mp4,\n"
        "s2,t2,rec/dialogue.wav,first\n"
        "s3,t2,rec/broken.wav,\n"
    )
    out = tmp_path / "out"
    first = _cohort(prefect_server, manifest, out)
    assert first.returncode == 0, first.stderr
    rows = pd.read_csv(out / "cohort.csv").set_index("session_id")
    assert rows["status"].to_dict() == {"s1": "done", "s2": "done", "s3": "failed"}
    assert "not a recognised audio or video file" in rows.loc["s3", "error"]
    for session in ("s1", "s2"):
        document = read_document(out / session)
        assert document["models"]["transcription"].startswith("faster-whisper-tiny.en@")
        assert rows.loc[session, "sha256"] == document["audio"]["sha256"]
        assert json.loads((out / session / "status.json").read_text())["stage"] == "done"
    assert read_document(out / "s2")["roles"]["method"] == "first-speaker"
    for name in ("trainees.csv", "cohort.parquet", "cohort.html"):
        assert (out / name).is_file()
    runs = _deployment_runs(prefect_server)
    assert len(runs) == 3
    assert sorted(str(r["state_type"]) for r in runs) == ["COMPLETED", "COMPLETED", "FAILED"]
    for log in two_workers:  # both workers took sessions
        assert "submitting flow run" in log.read_text(errors="replace")

    second = _cohort(prefect_server, manifest, out)
    assert second.returncode == 0, second.stderr
    assert pd.read_csv(out / "cohort.csv").set_index("session_id")["status"].to_dict() == {
        "s1": "done", "s2": "done", "s3": "failed"
    }  # fmt: skip
    # The idempotency key reuses the completed runs; only the failed one is dispatched again.
    assert len(_deployment_runs(prefect_server)) == 4
