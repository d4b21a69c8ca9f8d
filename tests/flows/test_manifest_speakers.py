"""The manifest's ``speakers`` column and the cohort's ``--speakers``: parsing, options, cache keys.

A recording the diarization check flags with another voice (an introduction
read by someone else, an interpreter, a relative) is analyzed again allowing a
third speaker; a cohort does that per row (``speakers`` = ``2-3``) or for every
session (``--speakers 2-3``). No model runs here.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import pytest

from cli.cohort import (
    EXIT_BAD_INPUT,
    SPEAKERS_CHOICES,
    add_cohort_parser,
    run_cohort,
    speaker_options,
)
from flows.analyze_session import diarize_audio, transcribe_audio
from flows.caching import ContentKey
from flows.manifest import ManifestError, SessionSpec, read_manifest
from flows.score_cohort import _content_groups, idempotency_key
from pipeline.errors import OptionError
from pipeline.session import SPEAKERS_OPTIONS, SpeechOptions
from tests.flows.fakes import FIXTURES

TWO = {"num_speakers": 2, "min_speakers": None, "max_speakers": None}
TWO_TO_THREE = {"num_speakers": None, "min_speakers": 2, "max_speakers": 3}
THIRD_VOICE = SpeechOptions(num_speakers=None, min_speakers=2, max_speakers=3)


def _manifest(
    folder: Path, rows: str, header: str = "session_id,trainee_id,audio_path,speakers"
) -> Path:
    shutil.copyfile(FIXTURES / "dialogue_stereo.wav", folder / "s.wav")
    path = folder / "m.csv"
    path.write_text(f"{header}\n{rows}", encoding="utf-8")
    return path


def _bounds(options: SpeechOptions) -> dict[str, int | None]:
    return {k: getattr(options, k) for k in TWO}


# ------------------------------------------------------------------------- the column


def test_speakers_column_values(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path,
        "a,t1,s.wav,2\nb,t1,s.wav,2-3\nc,t1,s.wav,\nd,t1,s.wav, 2 - 3 \ne,t1,s.wav,2 -3\n",
    )
    assert [s.speakers for s in read_manifest(manifest)] == ["2", "2-3", None, "2-3", "2-3"]


def test_a_manifest_without_the_column_keeps_the_cohort_default(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "a,t1,s.wav\n", header="session_id,trainee_id,audio_path")
    (spec,) = read_manifest(manifest)
    assert spec.speakers is None
    assert spec.speech_options(SpeechOptions()) == SpeechOptions()
    assert spec.speech_options(THIRD_VOICE) == THIRD_VOICE


def test_bad_speakers_are_collected_into_one_error(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path,
        "a,t1,s.wav,3,\nb,t1,s.wav,two,\nc,t1,s.wav,3-Feb,\nd,t1,s.wav,2-4,\n"
        "e,t1,s.wav,2-3,stereo\nf,t1,s.wav,2,\n",
        header="session_id,trainee_id,audio_path,speakers,channels",
    )
    with pytest.raises(ManifestError) as caught:
        read_manifest(manifest)
    allowed = (
        "is not one of 2, 2-3 (2: the two parties only; 2-3: the two parties and perhaps one "
        "more voice; empty: the cohort's --speakers)"
    )
    date = "; a spreadsheet may have turned 2-3 into a date: format the column as text"
    assert caught.value.problems == (
        f"line 2: speakers '3' {allowed}",
        f"line 3: speakers 'two' {allowed}{date}",
        f"line 4: speakers '3-Feb' {allowed}{date}",
        f"line 5: speakers '2-4' {allowed}",
        "line 6: channels 'stereo' is not one of auto, mix, split",
    )
    assert "5 problems; nothing was processed" in str(caught.value)


@pytest.mark.parametrize("value", ["2/3/2025", "2025-02-03", "Feb-03"])
def test_a_spreadsheet_date_gets_the_hint(tmp_path: Path, value: str) -> None:
    with pytest.raises(ManifestError) as caught:
        read_manifest(_manifest(tmp_path, f"a,t1,s.wav,{value}\n"))
    (problem,) = caught.value.problems
    assert problem.startswith(f"line 2: speakers '{value}' is not one of 2, 2-3")
    assert problem.endswith("format the column as text")


# ------------------------------------------------------- the SpeechOptions of a session


def test_a_cell_overrides_the_cohort_default_for_its_session(tmp_path: Path) -> None:
    a, b, c = read_manifest(_manifest(tmp_path, "a,t1,s.wav,2-3\nb,t1,s.wav,2\nc,t1,s.wav,\n"))
    default = SpeechOptions()
    assert a.speech_options(default) == THIRD_VOICE
    assert b.speech_options(default) == default
    assert c.speech_options(default) == default
    # a cohort run with --speakers 2-3: the empty cell keeps it, the 2 cell narrows it
    assert a.speech_options(THIRD_VOICE) == THIRD_VOICE
    assert b.speech_options(THIRD_VOICE) == default
    assert c.speech_options(THIRD_VOICE) == THIRD_VOICE
    # a cohort run with --num-speakers 4: a cell replaces the count and the bounds together
    four = SpeechOptions(num_speakers=4, model="tiny.en")
    assert _bounds(a.speech_options(four)) == TWO_TO_THREE
    assert _bounds(b.speech_options(four)) == TWO
    assert a.speech_options(four).model == "tiny.en"


def test_speakers_go_with_the_other_hints(tmp_path: Path) -> None:
    (spec,) = read_manifest(
        _manifest(
            tmp_path,
            "a,t1,s.wav,2-3,mix,first\n",
            header="session_id,trainee_id,audio_path,speakers,channels,counselor_hint",
        )
    )
    assert spec.counselor_first
    assert spec.speech_options(SpeechOptions(channels="split")) == SpeechOptions(
        channels="mix", num_speakers=None, min_speakers=2, max_speakers=3
    )
    left = SessionSpec("b", "t1", tmp_path / "s.wav", counselor_hint="left", speakers="2-3")
    assert left.speech_options(SpeechOptions()) == SpeechOptions(
        counselor_channel="left", num_speakers=None, min_speakers=2, max_speakers=3
    )


def test_a_third_voice_with_one_party_per_channel_is_a_manifest_problem(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path,
        "a,t1,s.wav,2-3,split,\nb,t1,s.wav,2-3,,right\nc,t1,s.wav,2,split,\n",
        header="session_id,trainee_id,audio_path,speakers,channels,counselor_hint",
    )
    with pytest.raises(ManifestError) as error:
        read_manifest(manifest)
    assert [p.split(":")[0] for p in error.value.problems] == ["line 2", "line 3"]
    assert "use channels mix to set a third voice apart" in error.value.problems[0]


# -------------------------------------------------------------------- caching by settings


def test_sessions_differing_only_in_speakers_are_computed_apart(tmp_path: Path) -> None:
    """Same recording, same settings but the speakers: two content groups, two run keys, two
    diarize cache keys, and one transcribe cache key (a speaker count never re-transcribes)."""
    specs = read_manifest(
        _manifest(tmp_path, "a,t1,s.wav,2\nb,t1,s.wav,2-3\nc,t1,s.wav,\nd,t1,s.wav,2-3\n")
    )
    groups, hashes = _content_groups(specs, SpeechOptions())
    assert [[s.session_id for s in g] for g in groups] == [["a", "c"], ["b", "d"]]
    a, b = specs[0], specs[1]
    sha = hashes["a"]
    assert hashes["b"] == sha

    def run_key(spec: SessionSpec) -> str:
        return idempotency_key(
            sha, spec.speech_options(SpeechOptions()), counselor_first=False, out_dir=tmp_path
        )

    assert run_key(a) != run_key(b)
    assert run_key(a) == run_key(specs[2])

    def task_key(task: Any, spec: SessionSpec) -> str:
        """The task's cache key for the inputs the session flow gives it (as analyze_session)."""
        o = spec.speech_options(SpeechOptions())
        inputs: dict[str, Any] = {
            "audio_path": "s.wav",
            "sha256": sha,
            "device": "cpu",
            "max_duration_s": o.max_duration_s,
            "counselor_channel": o.counselor_channel,
            "channels": o.channels,
        }
        if task is transcribe_audio:
            inputs.update(
                model=o.model,
                model_id="faster-whisper-base@d01c3014881c",
                language=o.language,
                compute_type="int8",
                cpu_threads=o.cpu_threads,
            )
        else:
            inputs.update(
                model_id="pyannote@0",
                pipeline_dir=o.pipeline_dir,
                num_speakers=o.num_speakers,
                min_speakers=o.min_speakers,
                max_speakers=o.max_speakers,
                segmentation_step=o.segmentation_step,
                segmentation_batch_size=o.segmentation_batch_size,
                embedding_batch_size=o.embedding_batch_size,
            )
        policy = task.cache_policy
        assert isinstance(policy, ContentKey)
        return policy.key_for(task, inputs)

    assert task_key(diarize_audio, a) != task_key(diarize_audio, b)
    assert task_key(transcribe_audio, a) == task_key(transcribe_audio, b)


# ------------------------------------------------------------------------------ the CLI


def test_the_cli_choices_are_the_pipeline_choices() -> None:
    assert SPEAKERS_CHOICES == SPEAKERS_OPTIONS


@pytest.mark.parametrize(
    ("speakers", "num_speakers", "bounds"),
    [
        (None, None, TWO),
        ("2", None, TWO),
        ("2-3", None, TWO_TO_THREE),
        (None, 3, {"num_speakers": 3, "min_speakers": None, "max_speakers": None}),
    ],
)
def test_cohort_speaker_options(
    speakers: Any, num_speakers: int | None, bounds: dict[str, int | None]
) -> None:
    assert speaker_options(speakers=speakers, num_speakers=num_speakers) == bounds


def test_speakers_and_num_speakers_together_are_refused() -> None:
    with pytest.raises(OptionError) as caught:
        speaker_options(speakers="2-3", num_speakers=2)
    assert str(caught.value) == (
        "--speakers 2-3 and --num-speakers 2 both set the speaker count: give one "
        "(--speakers 2-3 allows a third voice; --num-speakers N fixes N)"
    )
    with pytest.raises(OptionError, match="--num-speakers must be between 1 and"):
        speaker_options(speakers=None, num_speakers=0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_cohort_parser(parser.add_subparsers(dest="command"))
    return parser


def test_the_cli_parses_speakers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["cohort", str(tmp_path), "--out", str(tmp_path / "out")]
    args = _parser().parse_args(base)
    assert (args.speakers, args.num_speakers) == (None, None)
    assert _parser().parse_args([*base, "--speakers", "2-3"]).speakers == "2-3"
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args([*base, "--speakers", "3"])
    assert exited.value.code == 2
    assert "invalid choice: '3' (choose from '2', '2-3')" in capsys.readouterr().err


def test_the_cli_refuses_both_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = _parser().parse_args(
        ["cohort", str(tmp_path), "--out", str(out), "--speakers", "2", "--num-speakers", "2"]
    )
    assert run_cohort(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == (
        "session-analyzer: error: --speakers 2 and --num-speakers 2 both set the speaker "
        "count: give one (--speakers 2-3 allows a third voice; --num-speakers N fixes N)\n"
    )
    assert not out.exists()
    # a bad count is refused the same way (it once raised UnboundLocalError instead)
    args = _parser().parse_args(["cohort", str(tmp_path), "--out", str(out), "--num-speakers", "0"])
    assert run_cohort(args) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith(
        "session-analyzer: error: --num-speakers must be between 1 and "
    )


@pytest.mark.parametrize(
    ("options", "bounds"),
    [
        ([], TWO),
        (["--speakers", "2-3"], TWO_TO_THREE),
        (["--num-speakers", "3"], {"num_speakers": 3, "min_speakers": None, "max_speakers": None}),
    ],
)
def test_the_cli_hands_the_cohort_default_to_the_flow(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    bounds: dict[str, int | None],
) -> None:
    import flows.score_cohort

    seen: dict[str, Any] = {}

    def fake_flow(source: Path, out: Path, *, speech: SpeechOptions, **_: Any) -> dict[str, Any]:
        seen["speech"] = speech
        return {
            "audio_s": 0.0,
            "wall_s": 0.0,
            "done": 0,
            "sessions": 1,
            "cached": 0,
            "failed": 0,
            "errors": {},
            "outputs": {},
        }

    monkeypatch.setattr(flows.score_cohort, "run_cohort_flow", fake_flow)
    manifest = _manifest(tmp_path, "a,t1,s.wav,\n")
    args = _parser().parse_args(
        ["cohort", str(manifest), "--out", str(tmp_path / "out"), "--model", "tiny.en", *options]
    )
    assert run_cohort(args) == 0, capsys.readouterr().err
    assert _bounds(seen["speech"]) == bounds
