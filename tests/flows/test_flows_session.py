"""The session flow under Prefect's test harness, with fake models (fast) and real ones (slow)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import flows.analyze_session as session_flow
from flows.analyze_session import MODEL_TASKS, run_session
from pipeline.audio import load_audio
from pipeline.outputs import read_document
from pipeline.session import SpeechOptions
from pipeline.types import Audio, Diarization, DiarizationQuality
from tests.flows import fakes
from tests.flows.fakes import FIXTURES, copy_fixture

FAKE = SpeechOptions(model="tiny.en")


def _model_calls(calls: Counter[tuple[str, str]]) -> int:
    return sum(calls.values())


def test_session_writes_outputs_status_and_reruns_from_cache(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    audio = copy_fixture("dialogue_client_led.wav", tmp_path / "in" / "session.wav")
    seen: list[str] = []
    first = run_session(
        audio, tmp_path / "out", speech=FAKE, progress=lambda stage, _d, _t: seen.append(stage)
    )
    assert first["status"] == "done" and first["error"] is None
    assert first["client_led"] in ("yes", "no", "inconclusive")
    cacheable = ["decode", "transcribe", "diarize", "fill-transcript", "attribute", "score"]
    assert set(first["computed"]) == {*cacheable, "report"}
    assert {"decode", "transcribe", "diarize"} <= set(seen)
    document = read_document(tmp_path / "out")  # validates against the schema
    assert document["audio"]["file_name"] == "session.wav"
    assert document["audio"]["sha256"] == first["sha256"]
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["stage"] == "done" and status["session_sha256"] == first["sha256"]
    assert _model_calls(fake_models) == 2

    mtime = (tmp_path / "out" / "session.json").stat().st_mtime_ns
    again = run_session(audio, tmp_path / "out", speech=FAKE)
    assert again["cached"] == cacheable
    assert again["computed"] == ["report"]
    assert _model_calls(fake_models) == 2  # no model ran
    assert (tmp_path / "out" / "session.json").stat().st_mtime_ns == mtime  # not rewritten


def test_the_recording_is_decoded_once_per_run(
    flow_env: Path,
    fake_models: Counter[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[str] = []
    real = load_audio

    def counting(path: str, **options: object) -> object:
        decoded.append(path)
        return real(path, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(session_flow, "load_audio", counting)
    audio = copy_fixture("dialogue_client_led.wav", tmp_path / "in" / "session.wav")
    first = run_session(audio, tmp_path / "out", speech=FAKE)
    assert first["status"] == "done"
    assert {"decode", "transcribe", "diarize"} <= set(first["computed"])
    assert len(decoded) == 1  # the decode task's copy serves both model tasks
    assert session_flow._decoded.get() is None  # and is let go when the flow ends


def test_scoring_records_the_words_outside_speech(
    flow_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def every_other_turn(audio: Audio, options: object, **kwargs: object) -> Diarization:
        found: Diarization = fakes.fake_diarize_with(audio, options, **kwargs)
        kept = found.turns[::2]  # the second voice was never detected
        checked = DiarizationQuality("good", (), ("agglomerative",), {"top_share": 0.9})
        return replace(found, turns=kept, exclusive=kept, quality=checked)

    monkeypatch.setattr(session_flow, "diarize_with", every_other_turn)
    audio = copy_fixture("dialogue_client_led.wav", tmp_path / "in" / "session.wav")
    assert run_session(audio, tmp_path / "out", speech=FAKE)["status"] == "done"
    block = read_document(tmp_path / "out")["diarization"]
    assert block["quality"] == "good"
    assert (
        block["measures"]
        == {
            "top_share": 0.9,
            "words_outside_speech": 0.467,  # 42 of 90
            "speech_without_words": 0.0444,  # the last 0.2 s of each kept 4 s turn is 0.5 s past its words
        }
    )


def test_renamed_copy_hits_the_cache_and_settings_change_misses_it(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    audio = copy_fixture("video_with_audio.mp4", tmp_path / "a" / "original.mp4")
    run_session(audio, tmp_path / "out1", speech=FAKE)
    renamed = tmp_path / "b" / "renamed.mp4"
    renamed.parent.mkdir()
    shutil.copyfile(audio, renamed)
    copy = run_session(renamed, tmp_path / "out2", speech=FAKE)
    assert {"decode", "transcribe", "diarize", "fill-transcript", "attribute"} <= set(
        copy["cached"]
    )
    assert read_document(tmp_path / "out2")["audio"]["file_name"] == "renamed.mp4"
    assert _model_calls(fake_models) == 2

    other = run_session(
        renamed, tmp_path / "out3", speech=SpeechOptions(model="tiny.en", num_speakers=3)
    )
    assert "transcribe" in other["cached"] and "diarize" in other["computed"]
    other_model = run_session(renamed, tmp_path / "out4", speech=SpeechOptions(model="base"))
    assert "transcribe" in other_model["computed"]


def test_bad_audio_fails_once_without_retries(
    flow_env: Path,
    fake_models: Counter[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes: list[str] = []
    real_load = session_flow.load_audio  # type: ignore[attr-defined]

    def counting_load(path: str, **kwargs: object) -> object:
        decodes.append(path)
        return real_load(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(session_flow, "load_audio", counting_load)
    monkeypatch.setattr(session_flow, "RETRY_DELAYS_S", [0.0, 0.0])
    result = run_session(FIXTURES / "corrupt.wav", tmp_path / "out", speech=FAKE)
    assert result["status"] == "failed"
    assert result["error"].startswith("corrupt.wav: not a recognised audio or video file")
    assert "\n" not in result["error"]
    assert len(decodes) == 1  # bad audio is not retried
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert status["stage"] == "failed" and status["error"] == result["error"]
    assert not (tmp_path / "out" / "session.json").exists()


def test_missing_file_fails_with_one_line(flow_env: Path, tmp_path: Path) -> None:
    result = run_session(tmp_path / "absent.wav", tmp_path / "out", speech=FAKE)
    assert result["status"] == "failed" and "no such file" in result["error"]
    assert result["sha256"] is None


def test_transient_failure_is_retried(
    flow_env: Path,
    fake_models: Counter[tuple[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_flow, "RETRY_DELAYS_S", [0.0, 0.0])
    fakes.fail_once.add("transcribe")
    audio = copy_fixture("video_with_audio.mp4", tmp_path / "v.mp4")
    result = run_session(audio, tmp_path / "out", speech=FAKE)
    assert result["status"] == "done"
    assert not fakes.fail_once  # the failure happened, then the retry succeeded


def test_without_status_file_nothing_is_written_for_bad_input(
    flow_env: Path, tmp_path: Path
) -> None:
    result = run_session(
        FIXTURES / "not_audio.wav", tmp_path / "out", speech=FAKE, status_file=False, quiet=True
    )
    assert result["status"] == "failed"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_models_through_the_flow_and_back_from_cache(
    prefect_harness: None, data_dir: Path, tmp_path: Path
) -> None:
    audio = copy_fixture("video_with_audio.mp4", tmp_path / "in" / "clip.mp4")
    first = run_session(audio, tmp_path / "out1", speech=FAKE)
    assert first["status"] == "done", first["error"]
    document = read_document(tmp_path / "out1")
    assert document["models"]["transcription"].startswith("faster-whisper-tiny.en@")
    assert len(document["words"]) > 5 and len(document["speakers"]) == 2
    renamed = tmp_path / "in" / "renamed.mp4"
    shutil.copyfile(audio, renamed)
    second = run_session(renamed, tmp_path / "out2", speech=FAKE)
    assert set(MODEL_TASKS) - {"enroll"} <= set(second["cached"])
    again = read_document(tmp_path / "out2")
    assert again["words"] == document["words"] and again["metrics"] == document["metrics"]


def test_forget_removes_every_cached_result_of_one_recording(
    flow_env: Path, fake_models: Counter[tuple[str, str]], tmp_path: Path
) -> None:
    from flows.caching import forget
    from flows.settings import results_dir

    audio = copy_fixture("dialogue_client_led.wav", tmp_path / "in" / "session.wav")
    first = run_session(audio, tmp_path / "out", speech=FAKE)
    cached = results_dir() / first["sha256"]
    assert len(list(cached.iterdir())) >= 5  # decode, transcribe, diarize, attribute, score
    assert forget(first["sha256"]) is True
    assert not cached.exists()
    assert forget(first["sha256"]) is False
    again = run_session(audio, tmp_path / "out2", speech=FAKE)
    assert "transcribe" in again["computed"]  # nothing left to reuse
    with pytest.raises(ValueError, match="not an audio sha256"):
        forget("../../etc")
