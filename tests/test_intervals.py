"""Unit tests of interval arithmetic."""

from __future__ import annotations

import pytest

from pipeline.intervals import clip, covered_by_at_least, difference, overlap_length, total, union


def test_union_joins_overlapping_and_touching_and_drops_empty() -> None:
    spans = [(5.0, 7.0), (0.0, 2.0), (1.0, 3.0), (3.0, 4.0), (9.0, 9.0), (6.0, 6.5)]
    assert union(spans) == [(0.0, 4.0), (5.0, 7.0)]


def test_union_rejects_reversed_interval() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        union([(2.0, 1.0)])


def test_total_and_clip() -> None:
    spans = union([(0.0, 4.0), (5.0, 7.0)])
    assert total(spans) == 6.0
    assert clip(spans, 1.0, 6.0) == [(1.0, 4.0), (5.0, 6.0)]
    assert clip(spans, 4.0, 5.0) == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0.0, 10.0, 6.0),
        (1.0, 6.0, 4.0),
        (4.0, 5.0, 0.0),
        (3.5, 5.5, 1.0),
        (5.0, 7.0, 2.0),
        (8.0, 9.0, 0.0),
        (6.0, 6.0, 0.0),
    ],
)
def test_overlap_length(start: float, end: float, expected: float) -> None:
    assert overlap_length([(0.0, 4.0), (5.0, 7.0)], start, end) == expected


def test_covered_by_at_least() -> None:
    a = [(0.0, 10.0)]
    b = [(8.0, 12.0)]
    c = [(9.0, 11.0)]
    assert covered_by_at_least([a, b, c], 1) == 12.0
    assert covered_by_at_least([a, b, c], 2) == 3.0
    assert covered_by_at_least([a, b, c], 3) == 1.0
    assert covered_by_at_least([], 2) == 0.0
    with pytest.raises(ValueError, match="at least 1"):
        covered_by_at_least([a], 0)


def test_difference_keeps_what_the_union_leaves_out() -> None:
    removed = [(1.0, 2.0), (9.0, 12.5), (20.0, 21.0)]
    assert difference([(0.0, 10.0), (12.0, 14.0)], removed) == [
        (0.0, 1.0),
        (2.0, 9.0),
        (12.5, 14.0),
    ]
    assert difference([(1.2, 1.8)], removed) == []
    assert difference([(3.0, 4.0)], []) == [(3.0, 4.0)]
