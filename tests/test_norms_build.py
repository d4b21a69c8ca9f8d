"""scripts/build_norms.py on a small committed synthetic AnnoMI-format table.

The real AnnoMI CSV is never committed; these tests check the computation with
exact numbers and that the reserved transcripts never reach the norms.
"""

from __future__ import annotations

import json
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from pipeline.norms import parse_norms
from tests.conftest import ANNOMI_SYNTHETIC, script_module

# eight synthetic transcripts give folds with few poor sessions; scikit-learn says so each fold
pytestmark = pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")


@pytest.fixture(scope="module")
def norms() -> ModuleType:
    pytest.importorskip("sklearn")
    return script_module("build_norms")


def _build(norms: ModuleType, rows: list[Any]) -> str:
    built = norms.build(rows, norms.expert_codes(rows), code_source="expert labels")
    return json.dumps(built, sort_keys=True)


def test_norms_ignore_reserved_transcripts(annomi: ModuleType, norms: ModuleType) -> None:
    rows = annomi.load_annomi(ANNOMI_SYNTHETIC)
    assert {r.transcript_id for r in annomi.reserved_rows(rows)} == {4, 9}
    with_reserved = _build(norms, rows)
    assert with_reserved == _build(norms, annomi.development_rows(rows))
    assert with_reserved == _build(norms, rows)  # deterministic
    # the same transcripts under other ids do change the norms: the test can fail
    renumbered = [
        replace(r, transcript_id=r.transcript_id + 100) if r.reserved else r for r in rows
    ]
    assert _build(norms, renumbered) != with_reserved


def test_built_norms_parse_and_count_the_development_transcripts(
    annomi: ModuleType, norms: ModuleType
) -> None:
    built = json.loads(_build(norms, annomi.load_annomi(ANNOMI_SYNTHETIC)))
    assert built["transcripts"] == {"high": 5, "low": 3}
    assert built["reserved_transcript_ids"] == [4, 9, 37, 54, 87, 106, 115, 118]
    assert "counselor_interruptions_per_10min" not in built["measures"]
    parsed = parse_norms(built)
    assert 0.0 <= parsed.score.no_below <= parsed.score.yes_from <= 1.0
    assert parsed.measures["client_share"].high.n == 5


def _row(annomi: ModuleType, uid: int, who: str, at: str, text: str, **labels: str) -> Any:
    return annomi.AnnoMIUtterance(
        transcript_id=1,
        mi_quality="high",
        utterance_id=uid,
        interlocutor=who,
        timestamp=at,
        text=text,
        labels=annomi.AnnoMILabels(**labels),
    )


def test_transcript_inputs_with_exact_numbers(annomi: ModuleType, norms: ModuleType) -> None:
    rows = [
        _row(annomi, 0, "therapist", "00:00:00", "What brings you here today?", question="open"),
        _row(
            annomi, 1, "client", "00:00:03", "I want to drink less, I think.", client_talk="change"
        ),
        _row(annomi, 2, "therapist", "00:00:09", "You are ready.", reflection="simple"),
        _row(annomi, 3, "client", "00:00:08", "But I enjoy it.", client_talk="sustain"),
        _row(annomi, 4, "therapist", "00:00:12", "Try patches.", therapist_input="advice"),
    ]
    inputs = norms.transcript_inputs(rows, norms.expert_codes(rows))
    # words: counselor 5 + 3 + 2 = 10, client 7 + 4 = 11
    assert inputs.client_share == 11 / 21
    # start times made monotonic (00:00:08 follows 00:00:09); the last turn lasts 2 words / 2.5 w/s
    assert inputs.longest_counselor_monologue_s == 3.0
    assert inputs.counselor_interruptions_per_10min is None
    values = inputs.values()
    assert values["mean_counselor_turn_words"] == 10 / 3
    assert values["reflection_to_question_ratio"] == 1.0
    assert values["therapist_input_per_utterance"] == 1 / 3
    assert values["change_talk_share"] == 0.5
