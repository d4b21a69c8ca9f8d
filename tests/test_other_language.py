"""A session in a language the behaviour coder cannot read gets no score and no verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.session import analyze_document

pytestmark = pytest.mark.slow

SPANISH = Path(__file__).parent / "fixtures" / "other_language" / "kokoro_es_smoking.ogg"


def test_a_spanish_session_is_heard_as_spanish_and_gets_no_score() -> None:
    document = analyze_document(SPANISH)
    evidence = document["evidence"]
    assert document["language"] == "es"  # detected by Whisper, not given
    assert evidence["client_led"] == "inconclusive"
    assert evidence["score"] is None and evidence["score_band"] is None
    assert any("language 'es', not English" in b for b in evidence["reliability"]["blockers"])
    coded = {"reflection_to_question_ratio", "therapist_input_per_utterance", "change_talk_share"}
    assert {c["name"] for c in evidence["criteria"] if c["value"] is None} == coded
