"""Arithmetic on sets of time intervals, in seconds.

An *interval* is a ``(start, end)`` pair of floats with ``start <= end``. A
*union* is a sorted list of disjoint intervals of positive length, none
touching another: the canonical form :func:`union` returns and every other
function here expects where it says "union".
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

Interval = tuple[float, float]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Return the union of ``intervals`` as sorted, disjoint intervals.

    Overlapping and touching intervals join into one; zero-length intervals
    are dropped. An interval with ``end < start`` raises ``ValueError``.
    """
    spans = []
    for start, end in intervals:
        if end < start:
            raise ValueError(f"interval ({start}, {end}) ends before it starts")
        if end > start:
            spans.append((start, end))
    spans.sort()
    merged: list[Interval] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def total(intervals: Iterable[Interval]) -> float:
    """Return the summed length of ``intervals`` (a union, so nothing is counted twice)."""
    return sum(end - start for start, end in intervals)


def difference(intervals: Iterable[Interval], removed: Sequence[Interval]) -> list[Interval]:
    """Return the parts of ``intervals`` outside the union ``removed``, in time order.

    >>> difference([(0.0, 10.0), (12.0, 14.0)], [(1.0, 2.0), (9.0, 12.5)])
    [(0.0, 1.0), (2.0, 9.0), (12.5, 14.0)]
    """
    out = []
    for start, end in sorted(intervals):
        cursor = start
        i = max(bisect.bisect_right(removed, (start, start)) - 1, 0)
        while i < len(removed) and removed[i][0] < end:
            if removed[i][0] > cursor:
                out.append((cursor, removed[i][0]))
            cursor = max(cursor, removed[i][1])
            i += 1
        if end > cursor:
            out.append((cursor, end))
    return out


def clip(intervals: Iterable[Interval], lo: float, hi: float) -> list[Interval]:
    """Return the parts of ``intervals`` inside ``[lo, hi]``, dropping empty ones."""
    out = []
    for start, end in intervals:
        s, e = max(start, lo), min(end, hi)
        if e > s:
            out.append((s, e))
    return out


def overlap_length(spans: Sequence[Interval], start: float, end: float) -> float:
    """Return how much of ``[start, end]`` the union ``spans`` covers."""
    if end <= start or not spans:
        return 0.0
    # The first span that could reach past ``start``: spans are disjoint and
    # sorted, so their ends are sorted too.
    i = bisect.bisect_right(spans, (start, start))
    i = max(i - 1, 0)
    covered = 0.0
    while i < len(spans) and spans[i][0] < end:
        s, e = max(spans[i][0], start), min(spans[i][1], end)
        if e > s:
            covered += e - s
        i += 1
    return covered


def covered_by_at_least(sets: Sequence[Sequence[Interval]], k: int) -> float:
    """Return the total time covered by at least ``k`` of the unions in ``sets``.

    Each element of ``sets`` must be a union (disjoint intervals), so that the
    number of covering intervals at an instant is the number of sets covering it.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    # At equal times, ends (-1) sort before starts (+1); either order gives the
    # same length because the instant itself has no duration.
    events = sorted(
        (t, delta) for spans in sets for s, e in spans for t, delta in ((s, 1), (e, -1))
    )
    covered = 0.0
    depth = 0
    previous = 0.0
    for t, delta in events:
        if depth >= k:
            covered += t - previous
        depth += delta
        previous = t
    return covered
