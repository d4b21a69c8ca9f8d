"""The pure parts of ``bench/cli_overhead.py``: wall-time attribution and the comparison."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.cli_overhead import PRIORITY, attribute_wall, compare, mean_phases, summarize


def test_overlapping_phases_go_to_the_first_in_priority() -> None:
    intervals = [("decode", 1.0, 3.0), ("model_load", 2.0, 4.0), ("exit", 4.5, 5.0)]
    assert attribute_wall(intervals, total_s=5.0) == {
        "model_load": 2.0,
        "decode": 1.0,
        "exit": 0.5,
        "orchestration": 1.5,
    }


def test_intervals_are_clipped_and_nesting_counts_once() -> None:
    intervals = [("import", -1.0, 2.0), ("import", 0.5, 1.0), ("unknown", 1.5, 9.0)]
    assert attribute_wall(intervals, total_s=3.0) == {"import": 2.0, "unknown": 1.0}


def test_no_phase_is_all_orchestration() -> None:
    assert attribute_wall([], total_s=2.5) == {"orchestration": 2.5}
    assert attribute_wall([("decode", 3.0, 4.0)], total_s=2.0) == {"orchestration": 2.0}


def test_priority_names_the_phases_the_child_records() -> None:
    assert PRIORITY[0] == "model_load" and "server_start" in PRIORITY and "exit" in PRIORITY


@given(
    st.lists(
        st.tuples(
            st.sampled_from([*PRIORITY, "other"]),
            st.floats(0, 50, allow_nan=False),
            st.floats(0, 50, allow_nan=False),
        ),
        max_size=12,
    ),
    st.floats(0.5, 60, allow_nan=False),
)
def test_attributed_seconds_add_up_to_the_wall_time(
    raw: list[tuple[str, float, float]], total_s: float
) -> None:
    intervals = [(name, min(a, b), max(a, b)) for name, a, b in raw]
    seconds = attribute_wall(intervals, total_s=total_s)
    assert sum(seconds.values()) == pytest.approx(total_s, abs=1e-3 * (len(seconds) + 1))
    assert all(value > 0 for value in seconds.values())


def test_summary_and_comparison() -> None:
    assert summarize([3.0, 1.0, 2.0, 10.0]) == {"median_s": 2.5, "min_s": 1.0, "max_s": 10.0}
    result = compare([20.0, 22.0, 21.0], [24.5, 23.0, 30.0])
    assert result["overhead_median_s"] == 3.5
    assert result["overhead_min_s"] == 3.0
    assert result["meets_target"] is False
    assert compare([20.0], [23.0])["meets_target"] is True


def test_phase_medians_count_a_missing_phase_as_zero() -> None:
    assert mean_phases([{"a": 1.0, "b": 2.0}, {"a": 3.0}, {"a": 2.0, "b": 4.0}]) == {
        "a": 2.0,
        "b": 2.0,
    }
