"""bench.quiet_voice: its rows and summary with exact numbers (the model runs are the bench's job)."""

from __future__ import annotations

import pytest

from bench.quiet_voice import Row, main, score_run, summary_line
from pipeline.types import Diarization, DiarizationQuality, QualityLevel, Turn
from pipeline.voice_levels import level_measures

TRUTH = {
    "client_share": 0.5,
    "segments": [
        {"start": 0.0, "end": 10.0, "role": "counselor"},
        {"start": 10.0, "end": 20.0, "role": "client"},
    ],
}


def diarized(
    client_end_s: float, levels: dict[str, float], level: QualityLevel = "good"
) -> Diarization:
    turns = (Turn(0.0, 10.0, "SPEAKER_00"), Turn(10.0, client_end_s, "SPEAKER_01"))
    quality = DiarizationQuality(level, measures={"top_share": 0.5, **level_measures(levels)})
    return Diarization(turns=turns, exclusive=turns, model="m", quality=quality)


def test_a_quiet_client_undercounted_is_guarded() -> None:
    found = diarized(14.0, {"SPEAKER_00": -20.0, "SPEAKER_01": -37.0})
    row = score_run("dev", "d", "client-20", found, TRUTH, gap_db=12.0)
    assert row.share_error == pytest.approx(4 / 14 - 0.5)
    assert (row.gap_db, row.quiet, row.level) == (17.0, "client", "good")
    assert row.confidently_wrong and row.assumed_direction and row.guarded


def test_a_named_voice_whose_error_goes_the_other_way_is_not_guarded() -> None:
    found = diarized(14.0, {"SPEAKER_00": -37.0, "SPEAKER_01": -20.0})
    row = score_run("dev", "d", "counselor-20", found, TRUTH, gap_db=12.0)
    assert row.quiet == "counselor" and row.share_error < 0
    assert row.confidently_wrong and not row.assumed_direction and not row.guarded


def test_under_the_limit_nothing_is_named() -> None:
    found = diarized(20.0, {"SPEAKER_00": -20.0, "SPEAKER_01": -31.0})
    row = score_run("dev", "d", "client-10", found, TRUTH, gap_db=12.0)
    assert (row.quiet, row.gap_db, row.share_error) == (None, 11.0, 0.0)
    assert not row.confidently_wrong and not row.guarded


def test_summary_line_counts() -> None:
    rows = [
        Row("dev", "a", "client-20", -0.3, "good", 17.0, "client"),  # wrong, guarded
        Row("dev", "b", "counselor-20", 0.05, "good", 17.0, "counselor"),  # named, right
        Row("dev", "c", "clean", 0.2, "good", 1.0, None),  # wrong, not named
        Row("dev", "d", "clean", 0.2, "poor", 1.0, None),  # flagged
    ]
    assert summary_line("x", rows) == "| x | 4 | 2 | 1 | 2 | 2 | 1 |"


def test_help_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--gap-db" in capsys.readouterr().out
