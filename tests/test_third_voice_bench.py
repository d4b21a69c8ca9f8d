"""The third-voice bench's construction: exact placement and reference times."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bench.third_voice import Dialogue, clear_speech, with_added_voice
from pipeline.types import Turn
from tests.conftest import tone

TRUTH = {
    "voices": {"A": "voice_a", "B": "voice_b"},
    "segments": [
        {"start": 0.5, "end": 1.5, "speaker": "A", "role": "counselor"},
        {"start": 1.5, "end": 3.5, "speaker": "B", "role": "client"},
    ],
}


def dialogue() -> Dialogue:
    return Dialogue("d", tone(4.0, frequency_hz=200), TRUTH)


def test_an_introduction_goes_before_the_session_and_moves_every_turn() -> None:
    piece = tone(1.0, frequency_hz=300) * 0.1
    samples, share, reference = with_added_voice(
        dialogue(), [piece], share=0.2, placement="intro", rng=random.Random(0)
    )
    # one piece (1.0 s of the 0.75 s wanted) and its 0.6 s gap, then the session
    assert len(samples) == round((1.0 + 0.6 + 4.0) * 16_000)
    assert share == pytest.approx(1.0 / 4.0)
    assert reference == (Turn(2.1, 3.1, "counselor"), Turn(3.1, 5.1, "client"))
    # brought to the session's speech level
    rms = float(np.sqrt(np.mean(samples[:16_000] ** 2)))
    assert rms == pytest.approx(dialogue().speech_rms(), rel=1e-3)


def test_a_turn_added_at_a_turn_end_moves_only_what_follows() -> None:
    piece = tone(1.0, frequency_hz=300)
    samples, share, reference = with_added_voice(
        dialogue(), [piece], share=0.2, placement="party", rng=random.Random(0)
    )
    # inserted where the counselor's turn ends (1.5 s): gap, piece, gap = 2.2 s
    assert len(samples) == round((4.0 + 2.2) * 16_000)
    assert share == pytest.approx(1.0 / 4.0)
    # the turn ending at the insert keeps its end; the one starting there moves
    assert reference == (Turn(0.5, 1.5, "counselor"), Turn(3.7, 5.7, "client"))


def test_a_turn_is_never_added_inside_someone_s_speech() -> None:
    """A backchannel's end lies inside the other party's turn: no insert there."""
    truth = {
        "voices": {"A": "voice_a", "B": "voice_b"},
        "segments": [
            {"start": 0.5, "end": 2.0, "speaker": "A", "role": "counselor"},
            {"start": 1.0, "end": 1.4, "speaker": "B", "role": "client"},
            {"start": 2.5, "end": 3.5, "speaker": "B", "role": "client"},
        ],
    }
    for seed in range(5):
        _, _, reference = with_added_voice(
            Dialogue("d", tone(4.0), truth),
            [tone(1.0)],
            share=0.2,
            placement="party",
            rng=random.Random(seed),
        )
        # only 2.0 s qualifies (1.4 s is inside A's turn, 3.5 s is the last end)
        assert reference == (
            Turn(0.5, 2.0, "counselor"),
            Turn(1.0, 1.4, "client"),
            Turn(4.7, 5.7, "client"),
        )


def test_unknown_placement_and_empty_input_are_refused() -> None:
    with pytest.raises(ValueError, match="placement"):
        with_added_voice(dialogue(), [tone(1.0)], share=0.1, placement="x", rng=random.Random(0))
    with pytest.raises(ValueError, match="at least one piece"):
        with_added_voice(dialogue(), [], share=0.1, placement="intro", rng=random.Random(0))
    with pytest.raises(ValueError, match="share between 0 and 1"):
        with_added_voice(
            dialogue(), [tone(1.0)], share=0.0, placement="intro", rng=random.Random(0)
        )


def test_clear_speech_keeps_stretches_nobody_else_is_near() -> None:
    truth = {
        "voices": {"A": "voice_a", "B": "voice_b"},
        "segments": [
            {"start": 0.0, "end": 2.0, "speaker": "A", "role": "counselor"},
            {"start": 2.1, "end": 4.0, "speaker": "B", "role": "client"},  # 0.1 s after A
            {"start": 4.5, "end": 6.5, "speaker": "A", "role": "counselor"},
            {"start": 7.0, "end": 8.0, "speaker": "B", "role": "client"},  # too short
        ],
    }
    stretches = clear_speech(Dialogue("d", tone(9.0), truth))
    assert list(stretches) == ["voice_a"]
    assert [len(s) / 16_000 for s in stretches["voice_a"]] == [2.0]
