"""The end-to-end bench's scoring of an ``analyze`` output folder (exact numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.end_to_end import EndToEndRun, output_accuracy, recorded_gpu_rows, rttm_turns, table
from pipeline.types import Turn

TRUTH = {
    "duration_s": 10.0,
    "segments": [
        {"start": 0.0, "end": 4.0, "speaker": "A", "text": "how are you"},
        {"start": 5.0, "end": 9.0, "speaker": "B", "text": "fine thanks"},
    ],
}


def test_rttm_lines_become_turns_and_other_lines_are_skipped() -> None:
    text = (
        "SPEAKER s 1 0.500 2.250 <NA> <NA> SPEAKER_00 <NA> <NA>\n"
        "# a comment\n"
        "SPEAKER s 1 3.000 1.000 <NA> <NA> SPEAKER_01 <NA> <NA>\n"
    )
    assert rttm_turns(text) == [Turn(0.5, 2.75, "SPEAKER_00"), Turn(3.0, 4.0, "SPEAKER_01")]


def test_output_folder_is_scored_against_the_truth(tmp_path: Path) -> None:
    (tmp_path / "diarization.rttm").write_text(
        "SPEAKER s 1 0.000 4.000 <NA> <NA> X <NA> <NA>\n"
        "SPEAKER s 1 5.000 3.000 <NA> <NA> Y <NA> <NA>\n"
    )
    utterances = [{"text": "How are you?"}, {"text": "Fine, tanks."}]
    (tmp_path / "session.json").write_text(json.dumps({"utterances": utterances}))
    der, wer = output_accuracy(tmp_path, TRUTH)
    assert der == pytest.approx(1.0 / 8.0)  # 1 s of B's 8 s of speech missed
    assert wer == pytest.approx(1.0 / 5.0)  # "tanks" for "thanks"


def test_table_gives_rtf_and_seconds_per_audio_hour() -> None:
    run = EndToEndRun("now", "c.wav", 600.0, 54.0, 2100.4, 0.0809, 0.1564)
    assert run.rtf == pytest.approx(0.09)
    assert table([run]).splitlines()[-1] == (
        "| now | c.wav | 600 | 54.0 | 0.090 | 324 | 2,100 | 8.09 % | 15.64 % |"
    )


def test_gpu_rows_come_from_a_recorded_run_with_the_gpu_named(tmp_path: Path) -> None:
    recorded = {
        "environment": {"gpu": "NVIDIA H200"},
        "sample_call": {"DER, cuda": 0.0759},
        "end_to_end": [
            {
                "sessions": 2,
                "wall_s": 40.0,
                "audio_hours_per_hour": 180.0,
                "seconds_per_audio_hour_each": [19.5, 20.5],
                "peak_rss_mb": [3000, 3100],
                "same_words_as_first": True,
            }
        ],
    }
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(recorded))
    rows = recorded_gpu_rows(path)
    assert rows[0].startswith("GPU runs recorded in gpu.json (NVIDIA H200)")
    assert rows[3] == "| 2 | 40.0 | 180.0 | 19.5, 20.5 | 3000, 3100 | True |"
    assert recorded_gpu_rows(tmp_path / "absent.json")[0].startswith("GPU: no recorded run")
