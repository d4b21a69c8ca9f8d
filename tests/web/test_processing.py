"""The processing adapter: status.json, the flow-or-pipeline choice, and the worker pool."""

from __future__ import annotations

import os
import sys
import threading
import types
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import FIXTURES
from web import processing
from web.processing import Job, Processor, read_status, run_job, write_status


@pytest.fixture(autouse=True)
def private_prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing ``flows`` sets Prefect's home from the data directory; keep it in tmp_path
    (worker processes inherit the environment)."""
    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))


def test_status_json_is_written_atomically_and_keeps_the_hash(tmp_path: Path) -> None:
    write_status(tmp_path, "decoding", sha256="ab" * 32)
    write_status(tmp_path, "transcribing")
    status = read_status(tmp_path)
    assert status is not None
    assert status["stage"] == "transcribing" and status["session_sha256"] == "ab" * 32
    assert status["error"] is None and status["updated_at"].endswith("+00:00")
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]
    assert read_status(tmp_path / "missing") is None


def test_the_direct_pipeline_reports_bad_audio_as_a_failed_stage(tmp_path: Path) -> None:
    job = Job("x" * 22, str(FIXTURES / "not_audio.wav"), str(tmp_path), {"model": "tiny.en"})
    result = processing.run_direct(job)
    assert result["status"] == "failed" and "not a recognised audio" in result["error"]
    status = read_status(tmp_path)
    assert status is not None and status["stage"] == "failed"
    assert status["error"] == result["error"]


def test_without_the_flow_module_the_pipeline_runs_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "flows.analyze_session", None)  # import fails
    monkeypatch.setattr(processing, "run_direct", lambda job: {"status": "direct"})
    assert run_job(Job("x" * 22, "a.wav", str(tmp_path)))["status"] == "direct"
    with pytest.raises(ImportError):
        run_job(Job("x" * 22, "a.wav", str(tmp_path), mode="flow"))


def test_the_flow_is_used_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def run_session(
        audio_path: str,
        out_dir: str,
        *,
        speech: Any,
        counselor_first: bool,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        calls.append(dict(audio=audio_path, speech=speech, first=counselor_first, id=session_id))
        return {"status": "done"}

    module = types.ModuleType("flows.analyze_session")
    module.run_session = run_session  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flows.analyze_session", module)
    job = Job(
        "i" * 22,
        "a.wav",
        str(tmp_path),
        {"model": "tiny.en", "counselor_channel": "left"},
        counselor_first=False,
    )
    assert run_job(job) == {"status": "done"}
    (call,) = calls
    assert call["speech"].model == "tiny.en" and call["speech"].counselor_channel == "left"
    assert call["id"] == "i" * 22
    monkeypatch.setattr(processing, "run_direct", lambda job: {"status": "direct"})
    assert run_job(Job("i" * 22, "a.wav", str(tmp_path), mode="direct"))["status"] == "direct"


# Runners for the real process pool (module level, so the spawned worker can import them).


def crash(_job: Job) -> dict[str, Any]:
    os._exit(3)


def echo(job: Job) -> dict[str, Any]:
    return {
        "status": "done",
        "error": None,
        "pid": os.getpid(),
        "data_dir": os.environ.get("SESSION_ANALYZER_DATA_DIR"),
        "nice": os.nice(0),
    }


def pick(job: Job) -> dict[str, Any]:
    return crash(job) if job.public_id.startswith("crash") else echo(job)


def _collect(processor: Processor, jobs: list[Job]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    finished = threading.Event()

    def on_done(job: Job, result: dict[str, Any]) -> None:
        results[job.public_id] = result
        if len(results) == len(jobs):
            finished.set()

    for job in jobs:
        processor.submit(job, on_done)
    assert finished.wait(120), results
    return results


def test_a_dying_worker_fails_its_job_and_a_fresh_pool_takes_over(tmp_path: Path) -> None:
    processor = Processor(workers=1, runner=pick, data_dir=tmp_path)
    try:
        first = _collect(processor, [Job("crash" + "x" * 17, "a", str(tmp_path / "a"))])
        assert first["crash" + "x" * 17]["status"] == "failed"
        assert "stopped unexpectedly" in first["crash" + "x" * 17]["error"]
        assert read_status(tmp_path / "a")["stage"] == "failed"  # type: ignore[index]
        second = _collect(processor, [Job("ok" + "x" * 20, "a", str(tmp_path / "b"))])
        result = second["ok" + "x" * 20]
        assert result["status"] == "done" and result["pid"] != os.getpid()
        assert result["data_dir"] == str(tmp_path.resolve())
        assert result["nice"] >= processing.WORKER_NICENESS
        assert processor.pending == 0
    finally:
        processor.shutdown()


def test_a_bug_in_the_runner_becomes_a_clear_failure(tmp_path: Path) -> None:
    from tests.web.conftest import SyncExecutor

    def broken(_job: Job) -> dict[str, Any]:
        raise RuntimeError("secret transcript text")

    processor = Processor(runner=broken, executor_factory=SyncExecutor)
    results = _collect(processor, [Job("b" * 22, "a", str(tmp_path))])
    assert results["b" * 22]["error"] == "internal error during analysis (RuntimeError)"


def test_the_queue_is_bounded(tmp_path: Path) -> None:
    from concurrent.futures import Future

    from web.processing import QueueFullError

    class Hold:
        def submit(self, *_args: Any) -> Future[Any]:
            return Future()

        def shutdown(self, **_kw: Any) -> None:
            pass

    processor = Processor(max_queue=2, executor_factory=Hold)  # type: ignore[arg-type]
    for n in range(2):
        processor.submit(Job(str(n) * 22, "a", str(tmp_path / str(n))), lambda *_: None)
    with pytest.raises(QueueFullError):
        processor.submit(Job("9" * 22, "a", str(tmp_path / "9")), lambda *_: None)
    processor.shutdown()


class _State:
    def __init__(self, completed: bool, message: str = "") -> None:
        self.completed, self.message = completed, message

    def is_completed(self) -> bool:
        return self.completed


def test_a_prefect_deployment_runs_the_flow_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.web.fake_analysis import fake_document
    from web.processing import deployment_processor

    submitted: list[dict[str, Any]] = []

    def run_deployment(*, name: str, parameters: dict[str, Any], **_kw: Any) -> Any:
        submitted.append({"name": name, **parameters})
        out = Path(parameters["out_dir"])
        if parameters["session_id"].startswith("ok"):
            from pipeline.outputs import write_outputs

            write_outputs(fake_document(parameters["audio_path"]), out)
            return types.SimpleNamespace(state=_State(True))
        write_status(out, "failed", error="recording is silent")
        return types.SimpleNamespace(state=_State(False, "flow crashed"))

    module = types.ModuleType("prefect.deployments")
    module.run_deployment = run_deployment  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "prefect", types.ModuleType("prefect"))
    monkeypatch.setitem(sys.modules, "prefect.deployments", module)
    processor = deployment_processor("analyze-session/pool", workers=2, max_queue=10)
    wav = str(FIXTURES / "dialogue_client_led.wav")
    try:
        results = _collect(
            processor,
            [
                Job("ok" + "x" * 20, wav, str(tmp_path / "a"), {"model": "tiny.en"}, True),
                Job("no" + "x" * 20, wav, str(tmp_path / "b")),
            ],
        )
    finally:
        processor.shutdown()
    assert results["ok" + "x" * 20]["status"] == "done"
    assert results["ok" + "x" * 20]["client_led"] == "inconclusive"
    assert results["no" + "x" * 20] == {
        "status": "failed",
        "error": "recording is silent",
        "sha256": None,
        "client_led": None,
        "session_json": None,
    }
    first = next(s for s in submitted if s["session_id"].startswith("ok"))
    assert first["name"] == "analyze-session/pool"
    assert first["speech"] == {"model": "tiny.en"} and first["counselor_first"] is True


@pytest.mark.slow
def test_the_session_flow_runs_in_a_worker_process(tmp_path: Path) -> None:
    """The real thing: flows.analyze_session in a spawned worker, Whisper tiny.en."""
    pytest.importorskip("flows.analyze_session")
    processor = Processor(workers=1, data_dir=tmp_path)
    job = Job(
        "flow" + "x" * 18,
        str(FIXTURES / "video_with_audio.mp4"),
        str(tmp_path / "out"),
        {"model": "tiny.en"},
        mode="flow",
    )
    try:
        result = _collect(processor, [job])[job.public_id]
    finally:
        processor.shutdown()
    assert result["status"] == "done", result
    assert (tmp_path / "out" / "session.json").is_file()
    status = read_status(tmp_path / "out")
    assert status is not None and status["stage"] == "done"
    assert status["session_sha256"] == result["sha256"]


def test_a_pool_broken_before_its_callback_is_replaced_at_the_next_submit(
    tmp_path: Path,
) -> None:
    """A worker died and the pool is broken, but no callback has replaced it yet: the next
    job goes to a fresh pool instead of failing the upload or staying queued."""
    from concurrent.futures import Future

    pools: list[Any] = []

    class Pool:
        def __init__(self) -> None:
            self.broken = not pools  # the first pool is already broken
            pools.append(self)

        def submit(self, *_args: Any) -> Future[Any]:
            if self.broken:
                raise BrokenProcessPool("a child process terminated abruptly")
            return Future()

        def shutdown(self, **_kw: Any) -> None:
            pass

    processor = Processor(executor_factory=Pool)  # type: ignore[arg-type]
    job = Job("c" * 22, "a", str(tmp_path / "c"))
    processor.submit(job, lambda *_: None)
    assert len(pools) == 2 and processor.pending == 1
    status = read_status(tmp_path / "c")
    assert status is not None and status["stage"] == "queued"
    processor.shutdown()


@pytest.mark.parametrize(
    "error", [OSError("Resource temporarily unavailable"), RuntimeError("after shutdown")]
)
def test_a_pool_that_cannot_take_a_job_refuses_it_and_queues_nothing(
    tmp_path: Path, error: Exception
) -> None:
    from web.processing import SubmitError

    class Pool:
        def submit(self, *_args: Any) -> Any:
            raise error

        def shutdown(self, **_kw: Any) -> None:
            pass

    processor = Processor(executor_factory=Pool)  # type: ignore[arg-type]
    with pytest.raises(SubmitError, match=r"could not be started \((OSError|RuntimeError)\)"):
        processor.submit(Job("d" * 22, "a", str(tmp_path / "d")), lambda *_: None)
    assert processor.pending == 0
    assert not (tmp_path / "d").exists()
    processor.shutdown()
