"""The reference talk of a fixture's ``truth.json``: its planted segments less their pauses.

A planted sentence runs from its first to its last sound, but a voice can
pause inside it (Kokoro's breathy ``af_nicole`` for up to 1.3 s); the truth
lists such pauses (0.5 s or more) per segment (``scripts/make_realistic_fixtures.py``,
``scripts/measure_fixture_pauses.py``). Nobody talks in them, so every bench
scores diarization and talk time against the segments split at them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.types import Turn

Span = tuple[float, float, str]


def talk_spans(truth: Mapping[str, Any], *, label: str = "role") -> tuple[Span, ...]:
    """Every planted segment as ``(start, end, segment[label])`` pieces between its pauses."""
    spans = []
    for segment in truth["segments"]:
        edges = [
            segment["start"],
            *(t for pause in segment.get("pauses", ()) for t in pause),
            segment["end"],
        ]
        spans += [
            (start, end, segment[label]) for start, end in zip(edges[::2], edges[1::2], strict=True)
        ]
    return tuple(spans)


def reference_turns(truth: Mapping[str, Any], *, label: str = "role") -> tuple[Turn, ...]:
    """:func:`talk_spans` as turns, the speaker being the segment's ``label``."""
    return tuple(Turn(start, end, who) for start, end, who in talk_spans(truth, label=label))
