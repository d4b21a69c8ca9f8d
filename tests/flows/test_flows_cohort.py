"""The cohort flow under Prefect's test harness with fake models: failures, caching, resilience."""

from __future__ import annotations

import argparse
import contextvars
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import pytest

from cli.cohort import EXIT_BAD_INPUT, add_cohort_parser, run_cohort
from flows.manifest import ManifestError
from flows.score_cohort import run_cohort_flow
from pipeline.outputs import read_document
from pipeline.session import SpeechOptions
from tests.flows.fakes import MARKER, copy_fixture

FAKE = SpeechOptions(model="tiny.en")
REPO = Path(__file__).resolve().parents[2]


def _folder(root: Path, files: dict[str, str]) -> Path:
    """``files``: relative target → fixture name."""
    for target, fixture in files.items():
        copy_fixture(fixture, root / target)
    return root


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    frame = pd.read_csv(out / "cohort.csv", dtype={"session_id": str})
    return {str(r["session_id"]): r for r in frame.to_dict("records")}


def _prefect_texts(flow_run_id: str) -> str:
    """Every log line and artifact of a flow run and its children, as one string."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()  # send the queued log lines now
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(flow_run_id)])
            )
        )
        ids = [UUID(flow_run_id), *(c.id for c in children)]
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
    assert logs and artifacts
    return "\n".join([*(log.message for log in logs), *(str(a.data) for a in artifacts)])


def test_cohort_reports_a_corrupt_file_and_finishes_the_rest(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    source = _folder(
        tmp_path / "recordings",
        {
            "alice/a1.wav": "dialogue_client_led.wav",
            "alice/a2.wav": "dialogue_counselor_led.wav",
            "bob/b1.mp4": "video_with_audio.mp4",
            "bob/b2.wav": "corrupt.wav",
        },
    )
    out = tmp_path / "out"
    result = run_cohort_flow(source, out, speech=FAKE, workers=2, title="Spring")
    assert (result["sessions"], result["done"], result["failed"]) == (4, 3, 1)
    assert result["errors"] == {
        "b2": "b2.wav: not a recognised audio or video file "
        "(Invalid data found when processing input)"
    }
    rows = _rows(out)
    assert rows["b2"]["status"] == "failed" and "not a recognised" in rows["b2"]["error"]
    for done in ("a1", "a2", "b1"):
        assert rows[done]["status"] == "done"
        assert read_document(out / done)["audio"]["sha256"] == rows[done]["sha256"]
    trainees = pd.read_csv(out / "trainees.csv").set_index("trainee_id")
    assert trainees.loc["alice", "sessions_scored"] == 2
    assert trainees.loc["bob", "sessions_failed"] == 1
    assert pd.read_parquet(out / "cohort.parquet").shape[0] == 4
    page = (out / "cohort.html").read_text()
    assert page.count("<svg") == 4 and "Spring" in page and MARKER not in page
    # Prefect saw ids and numbers: no transcript word in its logs or artifacts.
    texts = _prefect_texts(result["flow_run_id"])
    assert "a1" in texts and MARKER not in texts and "brings" not in texts


def test_a_bad_manifest_processes_nothing(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    copy_fixture("video_with_audio.mp4", tmp_path / "v.mp4")
    manifest = tmp_path / "m.csv"
    manifest.write_text("session_id,trainee_id,audio_path\ns1,t,v.mp4\ns1,t,v.mp4\ns2,t,gone.wav\n")
    with pytest.raises(ManifestError) as caught:
        run_cohort_flow(manifest, tmp_path / "out", speech=FAKE)
    assert len(caught.value.problems) == 2
    assert not (tmp_path / "out").exists() and not fake_models


def test_cli_cohort_errors_are_one_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = argparse.ArgumentParser()
    add_cohort_parser(parser.add_subparsers(dest="command"))
    manifest = tmp_path / "m.csv"
    manifest.write_text("session_id,audio_path\n")
    args = parser.parse_args(["cohort", str(manifest), "--out", str(tmp_path / "out")])
    assert run_cohort(args) == EXIT_BAD_INPUT
    assert "missing required column(s): trainee_id" in capsys.readouterr().err
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    args = parser.parse_args(["cohort", str(tmp_path), "--out", str(tmp_path), "--deployment"])
    assert run_cohort(args) == EXIT_BAD_INPUT
    assert "PREFECT_API_URL" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_same_audio_under_two_names_is_computed_once(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    source = _folder(
        tmp_path / "rec",
        {"t1/first.wav": "dialogue_client_led.wav", "t2/second.wav": "dialogue_client_led.wav"},
    )
    result = run_cohort_flow(source, tmp_path / "out", speech=FAKE, workers=2)
    assert result["done"] == 2
    assert sorted(fake_models.values()) == [1, 1]  # one transcription, one diarization
    rows = _rows(tmp_path / "out")
    assert sorted([rows["first"]["cached"], rows["second"]["cached"]]) == [False, True]


def test_rerun_only_computes_what_is_missing(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    source = _folder(
        tmp_path / "rec", {"t/a.wav": "dialogue_client_led.wav", "t/b.mp4": "video_with_audio.mp4"}
    )
    run_cohort_flow(source, tmp_path / "out", speech=FAKE)
    calls = sum(fake_models.values())
    copy_fixture("dialogue_counselor_led.wav", source / "t" / "c.wav")
    second = run_cohort_flow(source, tmp_path / "out", speech=FAKE)
    assert second["done"] == 3 and second["cached"] == 2
    assert sum(fake_models.values()) == calls + 2  # only c was transcribed and diarized
    rows = _rows(tmp_path / "out")
    assert (bool(rows["a"]["cached"]), bool(rows["b"]["cached"]), bool(rows["c"]["cached"])) == (
        True,
        True,
        False,
    )


def test_concurrent_cohorts_do_not_interfere(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    one = _folder(
        tmp_path / "one", {"t1/x.wav": "dialogue_client_led.wav", "t1/y.wav": "corrupt.wav"}
    )
    two = _folder(tmp_path / "two", {"t2/z.mp4": "video_with_audio.mp4"})
    results: dict[str, dict[str, Any]] = {}

    def run(name: str, source: Path) -> None:
        results[name] = run_cohort_flow(source, tmp_path / f"out-{name}", speech=FAKE)

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(run, name, source))
        for name, source in (("one", one), ("two", two))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert (results["one"]["done"], results["one"]["failed"]) == (1, 1)
    assert (results["two"]["done"], results["two"]["failed"]) == (1, 0)
    assert sorted(_rows(tmp_path / "out-one")) == ["x", "y"]
    assert sorted(_rows(tmp_path / "out-two")) == ["z"]
    assert sorted(p.name for p in (tmp_path / "out-two").iterdir() if p.is_dir()) == ["z"]


def test_a_worker_killed_mid_cohort_loses_nothing_and_the_rerun_completes(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    source = _folder(
        tmp_path / "rec",
        {
            "t/s1.wav": "dialogue_client_led.wav",
            "t/s2.mp4": "video_with_audio.mp4",
            "t/s3.wav": "dialogue_counselor_led.wav",
        },
    )
    out = tmp_path / "out"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.flows.fakes", str(source), str(out), "s3"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out / ".blocked").exists():
            assert worker.poll() is None, "the cohort process ended before reaching s3"
            assert time.monotonic() < deadline, "the cohort process never reached s3"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies mid-transcription of s3
        worker.wait(timeout=30)

    finished = {name: (out / name / "session.json").stat().st_mtime_ns for name in ("s1", "s2")}
    assert not (out / "s3" / "session.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".session.json")]
    assert not (out / "cohort.csv").exists()

    result = run_cohort_flow(source, out, speech=FAKE)
    assert result["done"] == 3 and result["cached"] == 2
    # only s3 ran a model: its transcription again; its diarization ran beside the blocked
    # transcription and is cached when it finished before the kill
    assert "transcribe" in {stage for stage, _ in fake_models}
    assert {stage for stage, _ in fake_models} <= {"transcribe", "diarize"}
    assert {audio for _, audio in fake_models} == {next(iter(fake_models))[1]}
    assert sum(fake_models.values()) <= 2
    for name, mtime in finished.items():
        assert (out / name / "session.json").stat().st_mtime_ns == mtime  # not rewritten
    assert _rows(out)["s3"]["status"] == "done"
