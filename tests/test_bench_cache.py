"""bench.cache.pickled: computes once, then loads what it kept."""

from __future__ import annotations

from pathlib import Path

from bench.cache import pickled


def test_a_result_is_computed_once_and_then_loaded(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> dict[str, float]:
        calls.append(1)
        return {"share": 0.5}

    path = tmp_path / "deeper" / "result.pickle"
    assert pickled(path, compute) == {"share": 0.5}
    assert pickled(path, compute) == {"share": 0.5}
    assert calls == [1] and path.is_file()
