"""The event benchmark's matching and options (``bench/events.py``), on hand-made events."""

from __future__ import annotations

import pytest

from bench.events import HELDOUT, REALISTIC, Counts, matches, parse_overrides, rule_config


def test_matching_is_one_to_one_same_who_within_tolerance() -> None:
    planted = [{"start": 10.0, "who": "client"}, {"start": 20.0, "who": "counselor"}]
    found = [
        {"start": 10.4, "who": "client"},  # 0.4 s off: matches
        {"start": 10.45, "who": "client"},  # a second one: not used twice
        {"start": 20.1, "who": "client"},  # wrong interrupter
        {"start": 20.6, "who": "counselor"},  # 0.6 s off: too far
    ]
    assert matches(found, planted) == 1
    assert matches(found, planted, tolerance_s=0.7) == 2


def test_counts_precision_and_recall() -> None:
    c = Counts(planted=16, found=12, matched=11) + Counts(planted=8, found=7, matched=6)
    assert (c.planted, c.found, c.matched) == (24, 19, 17)
    assert c.precision == pytest.approx(17 / 19)
    assert c.recall == pytest.approx(17 / 24)
    assert Counts().precision is None and Counts().recall is None


def test_overrides_reach_the_config() -> None:
    overrides = parse_overrides(["completion_max_trailing_s=0.3", "yield_window_s=1.5"])
    assert overrides == {"completion_max_trailing_s": 0.3, "yield_window_s": 1.5}
    config = rule_config("timing", overrides)
    assert config.interruption_rule == "timing"
    assert config.completion_max_trailing_s == 0.3 and config.yield_window_s == 1.5
    assert rule_config("completion").completion_max_trailing_s == 0.2
    assert rule_config("completion", parse_overrides(["cut_off_tails=0"])).cut_off_tails is False
    for bad in (
        ["interruption_rule=1"],
        ["no_such_field=1"],
        ["yield_window_s"],
        ["yield_window_s=abc"],
    ):
        with pytest.raises(ValueError, match="NAME=NUMBER"):
            parse_overrides(bad)
    with pytest.raises(ValueError, match="unknown interruption rule"):
        rule_config("loudness")


def test_the_two_fixture_sets_are_separate_folders() -> None:
    assert REALISTIC.name == "realistic" and HELDOUT.name == "realistic_heldout"
    assert HELDOUT.parent == REALISTIC.parent
    assert not {p.name for p in REALISTIC.glob("*.truth.json")} & {
        p.name for p in HELDOUT.glob("*.truth.json")
    }
