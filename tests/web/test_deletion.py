"""Deleting a session while it is analyzed leaves nothing, whatever stage it was in.

The runner here behaves like the session flow in a worker: at every stage it
rewrites ``status.json`` (recreating the output folder if it is gone, as the
flow does) and persists a cached result under the audio's sha256, and it
keeps going after the deletion, as a model run that already loaded the audio
would. Once it has finished, neither a file of the session nor a cache entry
of the recording may remain.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flows.status import write_status
from pipeline.audio import file_sha256
from tests.web.conftest import FIXTURES, User, make_app
from web.processing import Job, Result
from web.settings import Settings

STAGES = ("queued", "decoding", "transcribing", "diarizing", "scoring", "done")


class PausingRunner:
    """Writes status and cache at each stage; waits at ``pause_at`` until released."""

    def __init__(self, results: Path, pause_at: str) -> None:
        self.results = results
        self.pause_at = pause_at
        self.reached = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, job: Job) -> Result:
        try:
            sha256 = file_sha256(job.audio_path)
            for stage in STAGES[1:-1]:
                self._stage(job, stage, sha256)
            write_status(job.out_dir, "done", sha256=sha256)
            (Path(job.out_dir) / "session.json").write_text("{}")
            self._pause("done")
            return {
                "status": "failed",  # the fake writes no real document
                "error": "fake analysis",
                "sha256": sha256,
                "client_led": None,
                "session_json": None,
            }
        finally:
            self.finished.set()

    def _stage(self, job: Job, stage: str, sha256: str) -> None:
        if stage == self.pause_at:
            self._pause(stage)
        write_status(job.out_dir, stage, sha256=sha256)  # type: ignore[arg-type]
        entry = self.results / sha256 / f"{stage}-result"
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text("cached")

    def _pause(self, stage: str) -> None:
        if stage == self.pause_at:
            self.reached.set()
            assert self.release.wait(30), "the test never released the runner"


@pytest.fixture
def data_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The flows' cache lives under the app's data directory, as in production."""
    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(settings.data_dir))
    return settings.data_dir


@pytest.mark.parametrize("stage", ["decoding", "transcribing", "diarizing", "scoring", "done"])
def test_deleting_during_analysis_leaves_no_file_and_no_cache(
    settings: Settings, data_env: Path, stage: str
) -> None:
    results = data_env / "prefect" / "results"
    results.mkdir(parents=True)
    runner = PausingRunner(results, stage)
    app = make_app(
        settings,
        runner=runner,
        executor_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="fake-worker"),
    )
    audio = FIXTURES / "dialogue_client_led.wav"
    sha256 = file_sha256(audio)
    with TestClient(app, base_url="http://testserver"):
        alice = User(app, "alice")
        response = alice.upload(audio)
        assert response.status_code == 201, response.text
        public_id = response.json()["id"]
        assert runner.reached.wait(30), f"the runner never reached {stage}"
        deleted = alice.client.delete(
            f"/api/sessions/{public_id}", headers={"x-csrf-token": alice.csrf}
        )
        assert deleted.status_code == 204
        runner.release.set()
        assert runner.finished.wait(30)
        processor = app.state.processor
        deadline = time.monotonic() + 10
        while processor.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processor.pending == 0
        time.sleep(0.2)  # the done-callback runs right after the pending count drops
        alice.client.close()
    session = data_env / "sessions" / public_id
    assert not session.exists(), sorted(str(p) for p in session.rglob("*"))
    assert not (results / sha256).exists(), sorted(str(p) for p in (results / sha256).rglob("*"))


def test_folders_of_deleted_sessions_are_removed_at_start(
    settings: Settings, data_env: Path
) -> None:
    orphan = data_env / "sessions" / ("o" * 22) / "out"
    orphan.mkdir(parents=True)
    (orphan / "status.json").write_text("{}")
    app = make_app(settings)
    with TestClient(app, base_url="http://testserver"):
        pass
    assert not orphan.parent.exists()


def test_deleting_a_queued_session_leaves_nothing_when_its_turn_comes(
    settings: Settings, data_env: Path, tmp_path: Path
) -> None:
    """The single worker is busy with another session; the deleted one waits in the queue."""
    results = data_env / "prefect" / "results"
    results.mkdir(parents=True)
    runner = PausingRunner(results, "decoding")
    app = make_app(
        settings,
        runner=runner,
        executor_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="fake-worker"),
    )
    first = FIXTURES / "dialogue_client_led.wav"
    second = tmp_path / "second.wav"
    second.write_bytes(FIXTURES.joinpath("dialogue_counselor_led.wav").read_bytes())
    with TestClient(app, base_url="http://testserver"):
        alice = User(app, "alice")
        assert alice.upload(first).status_code == 201
        assert runner.reached.wait(30)
        queued = alice.upload(second)
        assert queued.status_code == 201, queued.text
        queued_id = queued.json()["id"]
        assert app.state.processor.pending == 2
        deleted = alice.client.delete(
            f"/api/sessions/{queued_id}", headers={"x-csrf-token": alice.csrf}
        )
        assert deleted.status_code == 204
        runner.release.set()
        deadline = time.monotonic() + 30
        while app.state.processor.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.processor.pending == 0
        time.sleep(0.2)
        alice.client.close()
    assert not (data_env / "sessions" / queued_id).exists()
    assert not (results / file_sha256(second)).exists()
