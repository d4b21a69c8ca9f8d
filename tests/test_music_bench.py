"""The music bench's construction and scoring: exact placement, levels and counts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.music import (
    CONDITIONS,
    PIECES,
    client_share,
    insert,
    middle_turn_end,
    score,
    summary,
    talk_outside,
    under,
)
from bench.third_voice import Dialogue
from tests.conftest import tone

RATE = 16_000
TRUTH: dict[str, Any] = {
    "voices": {"A": "voice_a", "B": "voice_b"},
    "segments": [
        {"start": 0.5, "end": 1.5, "speaker": "A", "role": "counselor"},
        {"start": 1.5, "end": 3.5, "speaker": "B", "role": "client"},
        {"start": 3.0, "end": 3.3, "speaker": "A", "role": "counselor"},  # a backchannel
        {"start": 4.0, "end": 5.0, "speaker": "A", "role": "counselor"},
    ],
}


def dialogue() -> Dialogue:
    return Dialogue("d", tone(6.0, frequency_hz=200), TRUTH)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def test_an_intro_goes_before_the_session_with_a_gap_and_moves_every_turn() -> None:
    music = tone(2.0, frequency_hz=440)
    built = insert(dialogue(), music, at_s=0.0)
    assert len(built.samples) == round((2.0 + 1.0 + 6.0) * RATE)
    assert built.reference[0] == (3.5, 4.5, "counselor")
    assert built.reference[-1] == (7.0, 8.0, "counselor")
    assert np.all(built.samples[2 * RATE : 3 * RATE] == 0)  # the silence before the speech


def test_music_put_at_a_turn_end_moves_only_what_follows() -> None:
    at = middle_turn_end(dialogue())
    assert at == 3.5  # the ends 1.5, 3.5 and 5.0 lie in nobody's speech; 3.3 in the client's
    built = insert(dialogue(), tone(1.0, frequency_hz=440), at_s=at)
    assert len(built.samples) == round((6.0 + 3.0) * RATE)  # gap, music, gap
    assert built.reference == (
        (0.5, 1.5, "counselor"),
        (1.5, 3.5, "client"),  # ends where the music goes: keeps its end
        (3.0, 3.3, "counselor"),
        (7.0, 8.0, "counselor"),
    )


def test_music_under_the_session_sits_the_given_decibels_below_the_speech() -> None:
    music = tone(1.0, frequency_hz=440)
    built = under(dialogue(), music, below_db=20.0)
    assert len(built.samples) == len(dialogue().samples)
    bed = built.samples - dialogue().samples
    assert _rms(bed) == pytest.approx(dialogue().speech_rms() / 10, rel=1e-3)
    assert built.reference == tuple((s["start"], s["end"], s["role"]) for s in TRUTH["segments"])


def test_every_planted_turn_is_where_the_reference_says_in_every_condition() -> None:
    """Music put in (intro, outro, hold) moves the turns; the reference follows them: the
    samples under each moved turn are the dialogue's own under the planted one."""
    pieces = {key: tone(70.0, frequency_hz=300 + 50 * i) * 0.01 for i, key in enumerate(PIECES)}
    noise = np.random.default_rng(0).standard_normal(6 * RATE).astype(np.float32) * 0.1
    original = Dialogue("d", noise, TRUTH)  # no two stretches alike, unlike a tone
    for name in ("intro_outro", "drums_intro", "hold", "song_intro"):
        built = CONDITIONS[name](original, pieces)
        for (start, end, _), segment in zip(built.reference, TRUTH["segments"], strict=True):
            moved = built.samples[round(start * RATE) : round(end * RATE)]
            planted = original.samples[
                round(segment["start"] * RATE) : round(segment["end"] * RATE)
            ]
            assert len(moved) == len(planted) and np.array_equal(moved, planted), name


def test_every_condition_keeps_the_planted_talk() -> None:
    pieces = {key: tone(70.0, frequency_hz=300 + 50 * i) for i, key in enumerate(PIECES)}
    spans = [(s["end"] - s["start"]) for s in TRUTH["segments"]]
    for name, build in CONDITIONS.items():
        built = build(dialogue(), pieces)
        assert sum(end - start for start, end, _ in built.reference) == pytest.approx(sum(spans))
        assert client_share(built.reference) == pytest.approx(2.0 / 4.3), name


def test_stray_words_and_talk_outside_the_planted_turns_are_counted() -> None:
    reference = ((10.0, 12.0, "counselor"), (12.0, 14.0, "client"))
    document: dict[str, Any] = {
        "words": [
            {"start": 1.0, "end": 1.4, "text": "la"},  # in the music
            {"start": 9.4, "end": 9.7, "text": "so"},  # 0.45 s before the turn: kept
            {"start": 10.5, "end": 10.9, "text": "well"},
        ],
        "exclusive_segments": [
            {"start": 0.0, "end": 2.0, "speaker": "S1"},  # 2.0 s outside
            {"start": 9.8, "end": 14.5, "speaker": "S2"},  # 0.2 s more than 0.3 s after
        ],
        "metrics": {"client": {"share": 0.6}},
        "diarization": {"quality": "good", "cues": []},
        "evidence": {"client_led": "inconclusive"},
    }
    assert talk_outside(document["exclusive_segments"], reference) == pytest.approx(2.2)
    result = score(document, reference)
    assert result == {
        "share_error": 0.1,
        "level": "good",
        "verdict": "inconclusive",
        "stray_words": 1,
        "talk_outside_s": 2.2,
        "cues": 0,
    }


def test_the_summary_counts_confidently_wrong_shares() -> None:
    rows = [
        {
            "condition": "bed",
            "share_error": 0.12,
            "level": "good",
            "stray_words": 0,
            "talk_outside_s": 0.0,
        },
        {
            "condition": "bed",
            "share_error": 0.15,
            "level": "doubtful",
            "stray_words": 3,
            "talk_outside_s": 4.0,
        },
    ]
    assert summary(rows)[2] == "| bed | 2 | 0.135 (0.150) | 1 / 1 / 0 | 1 | 1 (3) | 2.0 |"
