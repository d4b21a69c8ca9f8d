"""bench.missed_voice: its pieces with exact numbers (the model runs are the bench's job)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.missed_voice import (
    Row,
    Run,
    client_share_error,
    mixed_down,
    score_run,
    summary_line,
    tables,
    with_cue,
)
from pipeline.types import Diarization, DiarizationQuality, SpeakerWord, Turn

TRUTH = {
    "client_share": 0.6,
    "segments": [
        {"start": 0.0, "end": 4.0, "role": "counselor"},
        {"start": 4.0, "end": 10.0, "role": "client"},
    ],
}


def test_mixed_down_lowers_one_channel_and_halves_the_sum() -> None:
    stereo = np.array([[1.0, 1.0], [0.5, -0.5]], dtype=np.float32)
    assert mixed_down(stereo, quiet_channel=0, quieter_db=20.0).tolist() == pytest.approx(
        [0.3, -0.2]
    )
    assert mixed_down(stereo, quiet_channel=1, quieter_db=0.0).dtype == np.float32


def test_client_share_error_finds_the_client_by_overlap() -> None:
    exact = [Turn(0.0, 4.0, "X"), Turn(4.0, 10.0, "Y")]
    assert client_share_error(exact, TRUTH) == pytest.approx(0.0)
    missed = [Turn(0.0, 4.0, "X"), Turn(4.0, 6.0, "Y")]  # 4 of the client's 6 s missed
    assert client_share_error(missed, TRUTH) == pytest.approx(2 / 6 - 0.6)


def row(error: float, before: str, after: str) -> Row:
    return Row("dev", "d", "clean", error, 0.0, before, after)


def test_rows_count_confident_errors_and_new_flags() -> None:
    caught = row(0.2, "good", "doubtful")
    missed = row(-0.15, "good", "good")
    needless = row(0.05, "good", "doubtful")
    assert caught.confidently_wrong(with_cue=False) and not caught.confidently_wrong(with_cue=True)
    assert missed.confidently_wrong(with_cue=True)
    assert needless.newly_flagged and not needless.wrong
    assert not row(0.3, "poor", "poor").confidently_wrong(with_cue=False)
    assert summary_line("x", [caught, missed, needless]) == "| x | 3 | 2 | 2 | 1 | 1 | 1 |"
    lines = tables([caught, Row("fresh", "f", "pcm_8k", 0.0, 0.01, "good", "good")])
    assert lines[2].startswith("| development + held-out")
    assert lines[3] == "| fresh | 1 | 0 | 0 | 0 | 0 | 0 |"
    assert lines[-1] == "| fresh | f | pcm_8k | +0.000 | 1.0% | good | good |"


def test_score_run_judges_the_cue_on_the_run_words() -> None:
    turns = (Turn(0.0, 4.0, "X"), Turn(4.0, 6.0, "Y"))
    quality = DiarizationQuality("good", (), ("agglomerative",), {})
    diarization = Diarization(turns=turns, exclusive=turns, model="pyannote", quality=quality)
    words = tuple(SpeakerWord(t, t + 0.2, "so", 0.9, "Y") for t in np.arange(0.0, 10.0, 0.5))
    result = score_run(Run("dev", "d", "clean", TRUTH, diarization, words))
    assert result.words_outside == pytest.approx(0.4)  # 8 of 20 words lie after 6 s
    assert (result.before, result.after) == ("good", "doubtful")
    assert result.share_error == pytest.approx(2 / 6 - 0.6)


def test_the_candidate_cue_adds_one_cue_above_the_limit() -> None:
    assert with_cue("good", outside=6, words=100) == "doubtful"
    assert with_cue("good", outside=5, words=100) == "good"  # the limit itself: no cue
    assert with_cue("good", outside=4, words=20) == "good"  # 20 %, but only 4 words
    assert with_cue("doubtful", outside=10, words=100) == "poor"
    assert with_cue(None, outside=10, words=100) == "doubtful"
    assert with_cue("good", outside=0, words=0) == "good"
