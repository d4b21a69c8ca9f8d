"""The speech stages on real recorded speech, against its reference annotation.

pyannote.audio ships a real 30 s two-person phone call with a reference RTTM
and a timed transcript; the bounds below are the product's accuracy targets.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from cli.main import EXIT_BAD_INPUT, main
from pipeline.accuracy import diarization_error_rate, read_rttm, read_stm_text, word_error_rate
from pipeline.audio import load_audio
from pipeline.diarize import diarize
from pipeline.session import SpeechResult, analyze_speech
from pipeline.transcribe import transcribe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample_result(sample_dir: Path) -> SpeechResult:
    return analyze_speech(sample_dir / "sample.wav")


def test_diarization_error_rate_on_the_real_call(
    sample_dir: Path, sample_result: SpeechResult
) -> None:
    reference = read_rttm((sample_dir / "sample.rttm").read_text())
    der = diarization_error_rate(
        reference, sample_result.diarization.turns, duration_s=sample_result.audio.duration_s
    )
    assert der <= 0.10
    assert len(sample_result.diarization.speakers) == 2


def test_word_error_rate_on_the_real_call_with_base(
    sample_dir: Path, sample_result: SpeechResult
) -> None:
    reference = read_stm_text((sample_dir / "sample.stm").read_text())
    hypothesis = " ".join(w.text for w in sample_result.words)
    assert sample_result.transcript.model.startswith("faster-whisper-base@")
    assert word_error_rate(reference, hypothesis) <= 0.25


def test_every_word_has_a_speaker_and_sane_times(sample_result: SpeechResult) -> None:
    speakers = set(sample_result.diarization.speakers)
    assert sample_result.words
    for word in sample_result.words:
        assert word.speaker in speakers
        assert 0.0 <= word.start <= word.end <= sample_result.audio.duration_s + 0.05
    for utterance in sample_result.utterances:
        assert {w.speaker for w in utterance.words} == {utterance.speaker}


def test_exclusive_diarization_has_no_overlap(sample_result: SpeechResult) -> None:
    turns = sorted(sample_result.diarization.exclusive, key=lambda t: t.start)
    assert all(a.end <= b.start + 1e-3 for a, b in itertools.pairwise(turns))


def test_transcribe_reports_progress_and_detects_english(sample_dir: Path) -> None:
    calls: list[tuple[float, float]] = []
    transcript = transcribe(
        load_audio(sample_dir / "sample.wav"),
        model="tiny.en",
        progress=lambda d, t: calls.append((d, t)),
    )
    assert transcript.language == "en"
    assert calls[-1] == (30.0, 30.0)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_diarize_with_speaker_bounds(sample_dir: Path) -> None:
    result = diarize(
        load_audio(sample_dir / "sample.wav"), num_speakers=None, min_speakers=1, max_speakers=3
    )
    assert 1 <= len(result.speakers) <= 3


def test_cli_writes_every_output(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(sample_dir / "sample.wav"), "--out", str(tmp_path), "--quiet"]) == 0
    for name in ("session.json", "transcript.srt", "transcript.vtt", "diarization.rttm"):
        assert (tmp_path / name).stat().st_size > 0
    session = json.loads((tmp_path / "session.json").read_text())
    assert session["audio"]["duration_s"] == 30.0
    assert len(session["audio"]["sha256"]) == 64
    assert session["models"]["transcription"].startswith("faster-whisper-base@")
    assert {"start", "end", "text", "speaker"} <= session["words"][0].keys()
    assert {"start", "end", "speaker"} <= session["segments"][0].keys()
    assert "session.json" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["dialogue_client_led.mp3", "dialogue_stereo.wav"])
def test_cli_on_mp3_and_stereo(fixtures: Path, tmp_path: Path, name: str) -> None:
    assert main(["analyze", str(fixtures / name), "--out", str(tmp_path), "--quiet"]) == 0
    session = json.loads((tmp_path / "session.json").read_text())
    assert len(session["speakers"]) == 2
    assert len(session["words"]) > 20


@pytest.mark.parametrize("name", ["empty.wav", "not_audio.wav", "truncated.mp3", "silence.wav"])
def test_cli_bad_input_gives_one_line_and_exit_2(
    fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["analyze", str(fixtures / name), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("session-analyzer: error: ")
    assert not (tmp_path / "out").exists()
