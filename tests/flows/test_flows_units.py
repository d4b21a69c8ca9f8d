"""Pieces of the flows that need neither Prefect's API nor a model: keys, retries, manifests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prefect.states import Completed, Failed

from flows.analyze_session import decode_audio, diarize_audio, score_session, transcribe_audio
from flows.caching import ContentKey, is_transient, retry_transient
from flows.cohort_report import (
    render_cohort_html,
    session_table,
    trainee_table,
    write_cohort_outputs,
)
from flows.manifest import ManifestError, SessionSpec, load_sessions, read_manifest, scan_folder
from flows.status import read_status, write_status
from models.registry import ModelNotInstalledError
from pipeline.audio import file_sha256
from pipeline.errors import CorruptAudioError, NotAudioError
from pipeline.norms import NORMS_PATH
from pipeline.session import SpeechOptions
from tests.flows.fakes import FIXTURES

TRANSCRIBE_INPUTS: dict[str, Any] = {
    "model": "base",
    "model_id": "faster-whisper-base@d01c3014881c",
    "language": None,
    "device": "cpu",
    "compute_type": "int8",
    "cpu_threads": 0,
    "max_duration_s": 14400.0,
}


def _key(task: Any, **inputs: Any) -> str:
    policy = task.cache_policy
    assert isinstance(policy, ContentKey)
    return policy.key_for(task, inputs)


def test_cache_key_is_the_content_not_the_path(tmp_path: Path) -> None:
    original = FIXTURES / "video_with_audio.mp4"
    renamed = tmp_path / "somewhere" / "renamed copy.mp4"
    renamed.parent.mkdir()
    shutil.copyfile(original, renamed)
    sha = file_sha256(original)
    assert file_sha256(renamed) == sha
    a = _key(transcribe_audio, audio_path=str(original), sha256=sha, **TRANSCRIBE_INPUTS)
    b = _key(transcribe_audio, audio_path=str(renamed), sha256=sha, **TRANSCRIBE_INPUTS)
    assert a == b


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"model_id": "faster-whisper-tiny.en@1a5afae06a4d"}, False),
        ({"language": "en"}, False),
        ({"compute_type": "float16"}, False),
        ({"device": "cuda"}, False),
        ({"cpu_threads": 8}, True),  # a performance knob, not a result setting
        ({"model": "/a/path/to/the/same/model"}, True),  # the resolved id counts, not the name
        ({"max_duration_s": 60.0}, True),
    ],
)
def test_cache_key_follows_result_settings_only(change: dict[str, Any], same: bool) -> None:
    base = _key(transcribe_audio, audio_path="a.wav", sha256="0" * 64, **TRANSCRIBE_INPUTS)
    changed = _key(
        transcribe_audio, audio_path="a.wav", sha256="0" * 64, **{**TRANSCRIBE_INPUTS, **change}
    )
    assert (base == changed) is same


def test_cache_key_differs_between_tasks_and_audio() -> None:
    inputs = {"audio_path": "a.wav", "sha256": "0" * 64, "max_duration_s": 14400.0}
    assert _key(decode_audio, **inputs) != _key(diarize_audio, **inputs)
    assert _key(decode_audio, **inputs) != _key(decode_audio, **{**inputs, "sha256": "1" * 64})
    # Prefect's bare INPUTS policy would give both tasks the same key.


def test_the_diarize_key_follows_the_code_that_runs_inside_diarize() -> None:
    """A cached diarization carries the quality check's level and cues: a rerun after a
    change to the check, or to how speakers are counted, must not reuse it."""
    policy = diarize_audio.cache_policy
    assert isinstance(policy, ContentKey)
    used = {"pipeline.diarization_quality", "pipeline.narrowband", "pipeline.speaker_count"}
    assert used <= set(policy.modules)


def test_the_score_key_follows_the_reference_norms(tmp_path: Path) -> None:
    """Rescored verdicts must not come from a cache filled under other norms."""
    policy = score_session.cache_policy
    assert isinstance(policy, ContentKey) and NORMS_PATH in policy.files
    inputs = {"sha256": "0" * 64}
    copy = tmp_path / NORMS_PATH.name
    copy.write_bytes(NORMS_PATH.read_bytes())
    keyed = ContentKey(
        ignore=policy.ignore, modules=policy.modules, packages=policy.packages, files=(copy,)
    )
    before = keyed.key_for(score_session, inputs)
    assert before == keyed.key_for(score_session, inputs)
    copy.write_text(copy.read_text().replace('"yes_from"', '"yes_from" '))
    assert keyed.key_for(score_session, inputs) != before


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (OSError("disk hiccup"), True),
        (MemoryError(), True),
        (RuntimeError("CUDA error: out of memory"), True),
        (TimeoutError(), True),
        (CorruptAudioError("x.wav: corrupt"), False),
        (NotAudioError("x.wav: not audio"), False),
        (ModelNotInstalledError("missing"), False),
        (FileNotFoundError("gone"), False),
        (ValueError("bad option"), False),
        (KeyError("bug"), False),
    ],
)
def test_only_transient_failures_are_retried(error: BaseException, retry: bool) -> None:
    assert is_transient(error) is retry
    state: Any = Failed(data=error)
    assert retry_transient(decode_audio, None, state) is retry  # type: ignore[arg-type]


def test_a_completed_state_is_never_retried() -> None:
    assert retry_transient(decode_audio, None, Completed(data=1)) is False  # type: ignore[arg-type]


def test_status_file_is_the_web_contract(tmp_path: Path) -> None:
    write_status(tmp_path, "decoding", sha256="ab" * 32)
    write_status(tmp_path, "failed", error="x.wav: corrupt")
    status = read_status(tmp_path)
    assert status is not None
    assert set(status) == {"stage", "updated_at", "error", "session_sha256"}
    assert status["stage"] == "failed" and status["session_sha256"] == "ab" * 32
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary left
    with pytest.raises(ValueError, match="unknown stage"):
        write_status(tmp_path, "thinking")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- manifests


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_rows_resolve_relative_paths_and_hints(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "dialogue_stereo.wav", tmp_path / "s.wav")
    shutil.copyfile(FIXTURES / "enroll_counselor.wav", tmp_path / "enroll.wav")
    manifest = _write(
        tmp_path / "m.csv",
        "\ufeffsession_id,trainee_id,audio_path,cohort,session_date,counselor_hint\n"
        "a,t1,s.wav,spring,2025-03-31,left\n"
        "b,t1,s.wav,,,first\n"
        "c,t2,s.wav,,,enroll.wav\n"
        ",,,,,\n",
    )
    a, b, c = read_manifest(manifest)
    assert a.audio_path == (tmp_path / "s.wav").resolve() and a.cohort == "spring"
    assert a.speech_options(SpeechOptions()).counselor_channel == "left"
    assert b.counselor_first and b.speech_options(SpeechOptions()) == SpeechOptions()
    assert c.speech_options(SpeechOptions()).enrollment == str((tmp_path / "enroll.wav").resolve())


def test_manifest_channels_column_overrides_the_cohort_setting(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "dialogue_stereo.wav", tmp_path / "s.wav")
    manifest = _write(
        tmp_path / "m.csv",
        "session_id,trainee_id,audio_path,counselor_hint,channels\n"
        "a,t1,s.wav,,MIX\n"
        "b,t1,s.wav,right,split\n"
        "c,t1,s.wav,first,\n",
    )
    a, b, c = read_manifest(manifest)
    cohort = SpeechOptions(channels="split")
    assert a.channels == "mix" and a.speech_options(cohort) == SpeechOptions(channels="mix")
    assert b.speech_options(SpeechOptions()) == SpeechOptions(
        channels="split", counselor_channel="right"
    )
    assert c.channels is None and c.speech_options(cohort) == cohort


def test_manifest_channels_problems(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "dialogue_stereo.wav", tmp_path / "s.wav")
    manifest = _write(
        tmp_path / "m.csv",
        "session_id,trainee_id,audio_path,counselor_hint,channels\n"
        "a,t1,s.wav,,stereo\n"
        "b,t1,s.wav,left,mix\n",
    )
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest)
    assert caught.value.problems == (
        "line 2: channels 'stereo' is not one of auto, mix, split",
        "line 3: channels 'mix' contradicts counselor_hint 'left' (a named channel means one "
        "party per channel): drop one of them",
    )


def test_manifest_problems_are_all_reported_at_once(tmp_path: Path) -> None:
    shutil.copyfile(FIXTURES / "video_with_audio.mp4", tmp_path / "v.mp4")
    manifest = _write(
        tmp_path / "m.csv",
        "session_id,trainee_id,audio_path,session_date,counselor_hint,notes\n"
        "s1,t1,v.mp4,2025-01-01,,\n"
        "s1,t1,v.mp4,,,\n"
        "s2,,missing.wav,yesterday,,\n"
        "../evil,t1,v.mp4,,middle,\n",
    )
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest)
    problems = caught.value.problems
    text = str(caught.value)
    assert "nothing was processed" in text
    assert any("unknown column(s): notes" in p for p in problems)
    assert any("line 3: duplicate session_id 's1' (first on line 2)" in p for p in problems)
    assert any("line 4: trainee_id is empty" in p for p in problems)
    assert any("line 4: audio file not found: missing.wav" in p for p in problems)
    assert any("line 4: session_date 'yesterday'" in p for p in problems)
    assert any("line 5: session_id '../evil'" in p for p in problems)
    assert any("line 5: counselor_hint 'middle'" in p for p in problems)
    assert len(problems) == 7


def test_manifest_without_required_columns(tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m.csv", "id,audio\nx,y\n")
    with pytest.raises(
        ManifestError, match=r"missing required column\(s\): session_id, trainee_id"
    ):
        load_sessions(manifest)
    with pytest.raises(ManifestError, match="no such manifest"):
        load_sessions(tmp_path / "absent.csv")


def test_folder_sessions_take_stem_and_parent(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    shutil.copyfile(FIXTURES / "video_with_audio.mp4", tmp_path / "alice" / "s1.mp4")
    shutil.copyfile(FIXTURES / "corrupt.wav", tmp_path / "loose.wav")
    _write(tmp_path / "notes.txt", "not audio")
    (tmp_path / ".hidden").mkdir()
    shutil.copyfile(FIXTURES / "corrupt.wav", tmp_path / ".hidden" / "x.wav")
    sessions = scan_folder(tmp_path)
    assert [(s.session_id, s.trainee_id) for s in sessions] == [
        ("s1", "alice"),
        ("loose", "unknown"),
    ]
    (tmp_path / "bob").mkdir()
    shutil.copyfile(FIXTURES / "corrupt.wav", tmp_path / "bob" / "s1.wav")
    with pytest.raises(ManifestError, match="session_id 's1' is also"):
        scan_folder(tmp_path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no audio or video files"):
        load_sessions(tmp_path)


# ------------------------------------------------------------------------------- tables


def _document(share: float, verdict: str, interruptions: int, duration_s: float) -> dict[str, Any]:
    return {
        "audio": {"duration_s": duration_s, "sha256": "ab" * 32},
        "speakers": ["SPEAKER_00", "SPEAKER_01"],
        "roles": {"method": "auto", "confidence": 0.9},
        "evidence": {
            "client_led": verdict,
            "criteria": [{"name": "client_share", "threshold": 0.5}],
        },
        "metrics": {
            "client": {"share": share, "word_share": share},
            "counselor": {"share": 1 - share},
            "talk_ratio_client_to_counselor": share / (1 - share),
            "interruptions": {
                "counselor_interrupts_client": interruptions,
                "counselor_interrupts_client_per_10min": interruptions * 600 / duration_s,
                "client_interrupts_counselor_per_10min": 0.0,
            },
            "longest_counselor_monologue_s": 30.0,
            "counselor_turns_over_60s": 0,
            "questions": {"total": 4, "open": 3},
            "reflections": {"total": 4},
            "reflection_to_question_ratio": 1.0,
        },
    }


def test_trainee_table_pools_interruptions_and_counts_verdicts(tmp_path: Path) -> None:
    from flows.cohort_report import session_row

    specs = [
        SessionSpec("a", "t1", tmp_path / "a.wav"),
        SessionSpec("b", "t1", tmp_path / "b.wav"),
        SessionSpec("c", "t2", tmp_path / "c.wav"),
    ]
    done = {"status": "done", "error": None, "computed": ["score", "report"]}
    split = _document(0.6, "yes", 1, 600.0) | {
        "diarization": {"method": "channel", "quality": "good"}
    }
    rows = [
        session_row(specs[0], done, split),
        session_row(specs[1], done, _document(0.4, "no", 3, 1200.0)),
        session_row(specs[2], {"status": "failed", "error": "c.wav: corrupt"}, None),
    ]
    assert rows[0]["cached"] is True and rows[2]["cached"] is None
    assert (rows[0]["diarization_method"], rows[0]["diarization_quality"]) == ("channel", "good")
    assert rows[1]["diarization_method"] is None  # a document from before schema 2.0
    sessions = session_table(rows)
    trainees = trainee_table(sessions).set_index("trainee_id")
    assert trainees.loc["t1", "sessions_scored"] == 2
    assert trainees.loc["t1", "median_client_share"] == pytest.approx(0.5)
    assert trainees.loc["t1", "interruptions_per_10min"] == pytest.approx(4 * 10 / 30, abs=1e-3)
    assert trainees.loc["t1", "share_client_led"] == pytest.approx(0.5)
    assert trainees.loc["t2", "sessions_failed"] == 1
    assert pd.isna(trainees.loc["t2", "share_client_led"])
    paths = write_cohort_outputs(rows, tmp_path / "out", title="Spring <cohort>")
    assert pd.read_parquet(paths["cohort_parquet"])["session_id"].tolist() == ["a", "b", "c"]
    page = paths["cohort_html"].read_text()
    assert page.count("<svg") == 4 and "Spring &lt;cohort&gt;" in page
    assert "src=" not in page and "href=" not in page and "@import" not in page


def test_html_report_handles_a_cohort_where_everything_failed(tmp_path: Path) -> None:
    from flows.cohort_report import session_row

    rows = [session_row(SessionSpec("a", "t1", tmp_path), {"status": "failed", "error": "e"}, None)]
    sessions = session_table(rows)
    page = render_cohort_html(sessions, trainee_table(sessions))
    assert "1 failed" in page and page.count("<svg") == 4
