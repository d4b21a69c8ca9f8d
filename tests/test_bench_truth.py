"""The benches' reference talk: planted segments split at their pauses."""

from __future__ import annotations

from bench.truth import reference_turns, talk_spans
from pipeline.types import Turn

TRUTH = {
    "segments": [
        {
            "start": 1.0,
            "end": 6.0,
            "role": "counselor",
            "speaker": "SPK_C",
            "pauses": [[2.0, 3.5], [4.0, 4.5]],
        },
        {"start": 6.5, "end": 8.0, "role": "client", "speaker": "SPK_K"},
    ]
}


def test_segments_are_split_at_their_pauses() -> None:
    assert talk_spans(TRUTH) == (
        (1.0, 2.0, "counselor"),
        (3.5, 4.0, "counselor"),
        (4.5, 6.0, "counselor"),
        (6.5, 8.0, "client"),
    )
    assert reference_turns(TRUTH, label="speaker")[-1] == Turn(6.5, 8.0, "SPK_K")
    talk = sum(t.duration_s for t in reference_turns(TRUTH) if t.speaker == "counselor")
    assert talk == 3.0  # 5 s planted, 2 s of it pauses
