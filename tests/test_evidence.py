"""Verdicts and reasons of the client-led evidence."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.evidence import evaluate
from pipeline.measures import (
    CueEstimate,
    LabelledSentence,
    QuestionEstimate,
    SessionMetrics,
    compute_metrics,
)
from pipeline.types import Turn


def sentences(n: int, label: str) -> tuple[LabelledSentence, ...]:
    return tuple(LabelledSentence(float(i), float(i) + 1.0, "...", label) for i in range(n))


def session(
    *,
    client_share: float = 0.64,
    interruptions: int = 0,
    duration_s: float = 1200.0,
    longest_s: float = 45.0,
    reflections: int = 12,
    questions: int = 8,
) -> SessionMetrics:
    """Metrics with the given values; speech times follow from ``client_share``."""
    base = compute_metrics([], [], duration_s=duration_s)
    speech = 1000.0
    return dataclasses.replace(
        base,
        client=dataclasses.replace(base.client, speech_s=speech * client_share, share=client_share),
        counselor=dataclasses.replace(
            base.counselor, speech_s=speech * (1 - client_share), share=1 - client_share
        ),
        longest_counselor_monologue_s=longest_s,
        interruptions=dataclasses.replace(
            base.interruptions,
            counselor_interrupts_client=interruptions,
            counselor_interrupts_client_per_10min=interruptions * 600.0 / duration_s,
        ),
        questions=QuestionEstimate(sentences(questions, "open")),
        reflections=CueEstimate(sentences(reflections, "reflection")),
        reflection_to_question_ratio=reflections / questions if questions else None,
    )


def test_client_led_session_is_yes() -> None:
    evidence = evaluate(session(), role_confidence=0.9)
    assert evidence.client_led == "yes"
    assert evidence.reasons == (
        "All 4 measurable criteria met.",
        "Client spoke 64% of the counselor's and client's speech time (threshold: at least 50%).",
        "Counselor interrupted the client 0 times, 0.0 per 10 minutes (threshold: at most 1.0).",
        "Counselor's longest turn lasted 45.0 s (threshold: at most 60 s).",
        "Counselor made an estimated 1.50 reflections per question "
        "(12 reflections, 8 questions; threshold: at least 1.0).",
    )
    assert [c.passed for c in evidence.criteria] == [True, True, True, True]


def test_counselor_led_session_is_no() -> None:
    evidence = evaluate(
        session(client_share=0.3, interruptions=4, longest_s=90.0, reflections=1, questions=1),
        role_confidence=0.9,
    )
    assert evidence.client_led == "no"
    assert evidence.reasons == (
        "3 of 4 measurable criteria not met: client_share, "
        "counselor_interruptions_per_10min, longest_counselor_monologue_s.",
        "Client spoke 30% of the counselor's and client's speech time (threshold: at least 50%).",
        "Counselor interrupted the client 4 times, 2.0 per 10 minutes (threshold: at most 1.0).",
        "Counselor's longest turn lasted 90.0 s (threshold: at most 60 s).",
        "Counselor made an estimated 1.00 reflections per question "
        "(1 reflection, 1 question; threshold: at least 1.0).",
    )


def test_thresholds_are_inclusive() -> None:
    evidence = evaluate(
        session(client_share=0.5, interruptions=2, longest_s=60.0, reflections=3, questions=3),
        role_confidence=0.6,
    )
    assert evidence.client_led == "yes"
    assert [c.value for c in evidence.criteria] == [0.5, 1.0, 60.0, 1.0]


def test_value_just_below_a_threshold_is_not_shown_as_the_threshold() -> None:
    evidence = evaluate(session(client_share=0.4996), role_confidence=0.9)
    assert evidence.client_led == "no"
    assert evidence.reasons[1] == (
        "Client spoke 49.96% of the counselor's and client's speech time (threshold: at least 50%)."
    )


def test_unmeasurable_ratio_does_not_decide() -> None:
    evidence = evaluate(session(reflections=3, questions=0), role_confidence=0.9)
    assert evidence.client_led == "yes"
    assert evidence.reasons[0] == "All 3 measurable criteria met."
    ratio = evidence.criteria[3]
    assert (ratio.name, ratio.value, ratio.passed) == ("reflection_to_question_ratio", None, None)
    assert evidence.reasons[-1] == (
        "Reflection-to-question ratio is not measurable: no counselor questions were found."
    )


def test_low_role_confidence_is_inconclusive() -> None:
    evidence = evaluate(session(), role_confidence=0.45)
    assert evidence.client_led == "inconclusive"
    assert evidence.reasons[0] == (
        "Speaker roles were assigned with confidence 0.45, below 0.60: "
        "counselor and client may be swapped."
    )
    assert len(evidence.reasons) == 5  # the criteria are still explained


@pytest.mark.parametrize(
    ("client_share", "reason"),
    [
        (
            0.96,
            "The counselor has only 4% of the speech (minimum 10%): the diarization may "
            "have merged or mislabelled the speakers.",
        ),
        (
            0.05,
            "The client has only 5% of the speech (minimum 10%): the diarization may "
            "have merged or mislabelled the speakers.",
        ),
    ],
)
def test_lopsided_diarization_is_inconclusive(client_share: float, reason: str) -> None:
    evidence = evaluate(session(client_share=client_share), role_confidence=0.9)
    assert evidence.client_led == "inconclusive"
    assert evidence.reasons[0] == reason


def test_no_speech_is_inconclusive() -> None:
    metrics = compute_metrics([], [], duration_s=600.0)
    evidence = evaluate(metrics, role_confidence=0.9)
    assert evidence.client_led == "inconclusive"
    assert evidence.reasons[0] == "No counselor or client speech was detected."
    assert evidence.criteria[0].passed is False


def test_warnings_are_appended_to_reasons() -> None:
    evidence = evaluate(session(), role_confidence=0.9, warnings=("Diarization found 3 speakers.",))
    assert evidence.client_led == "yes"
    assert evidence.reasons[-1] == "Diarization found 3 speakers."


def test_evaluate_real_metrics_and_to_dict_shape() -> None:
    turns = [Turn(0.0, 20.0, "counselor"), Turn(21.0, 61.0, "client")]
    metrics = compute_metrics(turns, [], duration_s=61.0)
    d = evaluate(metrics, role_confidence=0.8).to_dict()
    json.dumps(d)
    assert set(d) == {"client_led", "reasons", "criteria"}
    assert d["client_led"] == "yes"
    assert d["criteria"][0] == {
        "name": "client_share",
        "value": 0.667,
        "threshold": 0.5,
        "comparison": ">=",
        "passed": True,
        "description": "Client's share of the counselor's and client's speech time.",
    }
    assert [c["name"] for c in d["criteria"]] == [
        "client_share",
        "counselor_interruptions_per_10min",
        "longest_counselor_monologue_s",
        "reflection_to_question_ratio",
    ]
    assert d["criteria"][3]["passed"] is None
