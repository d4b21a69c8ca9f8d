"""A realistic ``session.json`` document (three minutes of a fake MI session) for report tests."""

from __future__ import annotations

import copy
import statistics
from typing import Any

COUNSELOR = "SPEAKER_00"
CLIENT = "SPEAKER_01"

DIALOGUE: tuple[tuple[float, float, str, str], ...] = (
    (0.8, 6.9, "counselor", "Thanks for coming in today. What would you like to talk about?"),
    (
        7.6,
        19.4,
        "client",
        "Well, my doctor says I should cut down on drinking. "
        "I don't think it's that bad, honestly, but she keeps bringing it up.",
    ),
    (20.1, 24.3, "counselor", "So part of you wonders whether it's really a problem."),
    (
        25.0,
        38.2,
        "client",
        "Yeah. I mean, I have a few beers after work, everybody does. "
        "But lately it's more like five or six, and I'm tired in the mornings.",
    ),
    (38.9, 41.0, "counselor", "Mm-hmm."),
    (
        41.3,
        49.8,
        "client",
        "And my wife has started counting the cans. That annoys me, but I get it.",
    ),
    (48.9, 55.6, "counselor", "How many drinks would you say you have on a typical weekday?"),
    (56.4, 58.9, "client", "Five, maybe six."),
    (
        59.6,
        73.8,
        "counselor",
        "You should know that more than two a day raises the risk for "
        "your liver and your sleep. The guidelines are quite clear about that, and your "
        "doctor is right to mention it.",
    ),
    (
        74.5,
        87.2,
        "client",
        "I know, I know. It's just the way I unwind. Work has been "
        "brutal since they cut half the team.",
    ),
    (
        87.9,
        93.1,
        "counselor",
        "It sounds like drinking has become your way to cope with the stress.",
    ),
    (
        93.8,
        109.6,
        "client",
        "Pretty much. If I didn't have the beers I'd just be sitting "
        "there with my head spinning. But I don't want to end up like my dad either.",
    ),
    (105.2, 106.0, "counselor", "Right."),
    (110.3, 114.7, "counselor", "What worries you about ending up like him?"),
    (
        115.5,
        133.9,
        "client",
        "He drank every night and he was never really there. "
        "I don't want my kids to remember me like that. I want to be present for them, "
        "you know, actually do things on the weekend.",
    ),
    (134.6, 140.2, "counselor", "Being there for your kids matters a lot to you."),
    (
        140.9,
        152.5,
        "client",
        "It does. Maybe I could keep the beers to the weekend, "
        "or only have two. I'm not sure I could do none.",
    ),
    (153.2, 156.0, "counselor", "Do you want to try that this week?"),
    (156.7, 158.1, "client", "Yeah, okay."),
    (
        158.8,
        166.4,
        "counselor",
        "On the one hand the beers help you unwind, and on the "
        "other hand you want more energy for your family.",
    ),
    (
        167.1,
        178.6,
        "client",
        "That's it exactly. I think two on weekdays is something "
        "I can actually do. I'll tell my wife, she'll be glad.",
    ),
)
"""(start, end, role, text): the fake dialogue every other field is derived from."""

DURATION_S = 180.0


def _words(start: float, end: float, text: str, speaker: str, role: str) -> list[dict[str, Any]]:
    tokens = text.split()
    step = (end - start) / len(tokens)
    return [
        {
            "start": round(start + i * step, 3),
            "end": round(start + (i + 0.85) * step, 3),
            "text": token,
            "speaker": speaker,
            "role": role,
            "probability": 0.93,
        }
        for i, token in enumerate(tokens)
    ]


def _role_metrics(role: str, total_speech_s: float) -> dict[str, Any]:
    turns = [(s, e, t) for s, e, r, t in DIALOGUE if r == role]
    speech_s = sum(e - s for s, e, _ in turns)
    all_words = sum(len(t.split()) for _, _, r, t in DIALOGUE)
    words = sum(len(t.split()) for _, _, t in turns)
    durations = [e - s for s, e, _ in turns]
    return {
        "speech_s": round(speech_s, 3),
        "share": round(speech_s / total_speech_s, 4),
        "turns": len(turns),
        "words": words,
        "median_turn_s": round(statistics.median(durations), 3),
        "mean_turn_s": round(statistics.mean(durations), 3),
        "word_share": round(words / all_words, 4),
        "words_per_minute": round(words / speech_s * 60, 1),
        "longest_turn_s": round(max(durations), 3),
        "backchannels": 3 if role == "counselor" else 1,
    }


def example_document() -> dict[str, Any]:
    """A fresh, mutable copy of a complete document with a "no" verdict."""
    speakers = {"counselor": COUNSELOR, "client": CLIENT}
    segments: list[dict[str, Any]] = [
        {"start": s, "end": e, "speaker": speakers[r], "role": r} for s, e, r, _ in DIALOGUE
    ]
    next_starts = [s for s, _, _, _ in DIALOGUE[1:]] + [DURATION_S]
    exclusive_segments = [
        {**segment, "end": min(end, next_start)}
        for segment, (_, end, _, _), next_start in zip(segments, DIALOGUE, next_starts, strict=True)
    ]
    words = [w for s, e, r, t in DIALOGUE for w in _words(s, e, t, speakers[r], r)]
    utterances = []
    first_word = 0
    for s, e, r, t in DIALOGUE:
        count = len(t.split())
        utterances.append(
            {
                "start": s,
                "end": e,
                "speaker": speakers[r],
                "role": r,
                "text": t,
                "word_range": [first_word, first_word + count],
            }
        )
        first_word += count
    total_speech_s = sum(e - s for s, e, _, _ in DIALOGUE)
    counselor = _role_metrics("counselor", total_speech_s)
    client = _role_metrics("client", total_speech_s)
    document: dict[str, Any] = {
        "schema_version": "1.0",
        "audio": {
            "file_name": "session_2024-05-14_client-17.wav",
            "sha256": "3f5a9c0e7b21d4c8a6e0f19b2c7d3e8f4a5b6c7d8e9f0a1b2c3d4e5f60718293",
            "duration_s": DURATION_S,
            "original_sample_rate_hz": 16000,
            "channels": 1,
            "container": "wav",
            "codec": "pcm_s16le",
        },
        "models": {
            "transcription": "faster-whisper-base@d01c3014881c",
            "diarization": (
                "pyannote-segmentation-3.0@da85c29829d4+campplus-sv-zh-en-common@92f29b94e694"
            ),
        },
        "settings": {"model": "base", "language": None, "num_speakers": 2},
        "language": "en",
        "speakers": [COUNSELOR, CLIENT],
        "roles": {
            "counselor": COUNSELOR,
            "client": CLIENT,
            "method": "auto",
            "confidence": 0.87,
            "others": [],
            "warnings": [],
            "cues": {"questions": {COUNSELOR: 5, CLIENT: 0}, "first_speaker": COUNSELOR},
        },
        "segments": segments,
        "exclusive_segments": exclusive_segments,
        "words": words,
        "utterances": utterances,
        "metrics": {
            "counselor": counselor,
            "client": client,
            "talk_ratio_client_to_counselor": round(client["speech_s"] / counselor["speech_s"], 2),
            "overlap_s": 3.2,
            "silence_s": round(DURATION_S - total_speech_s + 3.2, 1),
            "longest_counselor_monologue_s": 14.2,
            "counselor_turns_over_60s": 0,
            "monologue_threshold_s": 60.0,
            "interruptions": {
                "counselor_interrupts_client": 1,
                "client_interrupts_counselor": 0,
                "counselor_interrupts_client_per_10min": 3.33,
                "client_interrupts_counselor_per_10min": 0.0,
                "overlap_attempts": 1,
                "overlap_attempts_by_counselor": 1,
                "overlap_attempts_by_client": 0,
                "events": [
                    {
                        "start": 48.9,
                        "end": 49.8,
                        "interrupter": "counselor",
                        "interrupted": "client",
                        "kind": "interruption",
                    },
                    {
                        "start": 105.2,
                        "end": 106.0,
                        "interrupter": "counselor",
                        "interrupted": "client",
                        "kind": "overlap_attempt",
                    },
                ],
            },
            "backchannels": {
                "counselor": 3,
                "client": 1,
                "events": [
                    {"start": 38.9, "end": 41.0, "role": "counselor", "text": "Mm-hmm."},
                    {"start": 105.2, "end": 106.0, "role": "counselor", "text": "Right."},
                    {"start": 156.7, "end": 158.1, "role": "client", "text": "Yeah, okay."},
                ],
            },
            "questions": {"open": 2, "closed": 2, "total": 4, "estimate": True},
            "reflections": {"total": 4, "estimate": True},
            "advice_cues": {"total": 1, "estimate": True},
            "reflection_to_question_ratio": 1.0,
            "latency": {"counselor_to_client_s": 0.7, "client_to_counselor_s": 0.7},
            "time_course": {
                "window_s": 60.0,
                "step_s": 30.0,
                "windows": [
                    {"start": 0.0, "end": 60.0, "client_share": 0.68},
                    {"start": 30.0, "end": 90.0, "client_share": 0.51},
                    {"start": 60.0, "end": 120.0, "client_share": 0.62},
                    {"start": 90.0, "end": 150.0, "client_share": 0.77},
                    {"start": 120.0, "end": 180.0, "client_share": 0.71},
                ],
            },
        },
        "evidence": {
            "client_led": "no",
            "reasons": [
                "The counselor interrupted the client 3.3 times per 10 minutes (limit 1.0).",
                "The client spoke 64% of the time (at least 50% expected).",
            ],
            "criteria": [
                {
                    "name": "client_share",
                    "value": round(client["share"], 3),
                    "threshold": 0.5,
                    "comparison": ">=",
                    "passed": True,
                    "description": "Client's share of all speech",
                },
                {
                    "name": "counselor_interruptions_per_10min",
                    "value": 3.33,
                    "threshold": 1.0,
                    "comparison": "<=",
                    "passed": False,
                    "description": "Counselor interruptions of the client per 10 minutes",
                },
                {
                    "name": "longest_counselor_monologue_s",
                    "value": 14.2,
                    "threshold": 60.0,
                    "comparison": "<=",
                    "passed": True,
                    "description": "Longest uninterrupted counselor turn",
                },
                {
                    "name": "reflection_to_question_ratio",
                    "value": 1.0,
                    "threshold": 1.0,
                    "comparison": ">=",
                    "passed": True,
                    "description": "Reflections per question (estimate; MITI 'fair' is 1.0)",
                },
                {
                    "name": "role_confidence",
                    "value": 0.87,
                    "threshold": 0.6,
                    "comparison": ">=",
                    "passed": True,
                    "description": "Confidence that counselor and client are the right way round",
                },
            ],
        },
        "warnings": [],
    }
    return copy.deepcopy(document)


def _norms(
    auc: float,
    high: tuple[float, float, float, float, float],
    low: tuple[float, float, float, float, float],
    percentile_high: float | None,
    percentile_low: float | None,
) -> dict[str, Any]:
    keys = ("p5", "p25", "p50", "p75", "p95")
    return {
        "source": NORMS_SOURCE,
        "auc": auc,
        "high": {"n": 102, **dict(zip(keys, high, strict=True))},
        "low": {"n": 21, **dict(zip(keys, low, strict=True))},
        "percentile_high": percentile_high,
        "percentile_low": percentile_low,
    }


NORMS_SOURCE = "AnnoMI (Wu et al. 2022), 125 expert-rated transcripts, reserved evaluation transcripts excluded"
SCORE_MEANING = (
    "Estimated probability (81%) that expert raters would judge this session good, "
    "client-centred MI, from a model fitted on expert-rated sessions (AnnoMI)."
)


def _criterion(  # noqa: PLR0917 (one row of a table of criteria)
    name: str,
    label: str,
    value: float | None,
    unit: str,
    threshold: float,
    comparison: str,
    norms: dict[str, Any] | None,
    description: str,
) -> dict[str, Any]:
    better = "higher" if comparison == ">=" else "lower"
    passed = None
    if value is not None:
        passed = value >= threshold if comparison == ">=" else value <= threshold
    return {
        "name": name,
        "label": label,
        "value": value,
        "unit": unit,
        "threshold": threshold,
        "comparison": comparison,
        "passed": passed,
        "better": better,
        "description": description,
        "norms": norms,
    }


CODES: dict[int, dict[str, str]] = {
    0: {"question": "open"},
    1: {"client_talk": "sustain"},
    2: {"reflection": "complex"},
    3: {"client_talk": "change"},
    5: {"client_talk": "neutral"},
    6: {"question": "closed"},
    7: {"client_talk": "neutral"},
    8: {"therapist_input": "information"},
    9: {"client_talk": "neutral"},
    10: {"reflection": "complex"},
    11: {"client_talk": "change"},
    13: {"question": "open"},
    14: {"client_talk": "neutral"},
    15: {"reflection": "simple"},
    16: {"client_talk": "change"},
    17: {"question": "closed"},
    18: {"client_talk": "neutral"},
    19: {"reflection": "simple"},
    20: {"client_talk": "neutral"},
}
"""Estimated MI codes of the dialogue's turns (index into ``DIALOGUE``), for 2.0 documents."""


def example_document_v2() -> dict[str, Any]:
    """The same session as a schema 2.0 document: score, norms per criterion, reliability.

    The quantiles are made up for the tests (plausible, not AnnoMI's); the verdict is
    ``yes`` with a score of 0.81 in the high band.
    """
    document = example_document()
    client_share = document["metrics"]["client"]["share"]
    document["schema_version"] = "2.0"
    metrics = document["metrics"]
    for key in ("questions", "reflections", "advice_cues"):  # 2.0 counts them in behaviour
        del metrics[key]
    metrics["coded_turns"] = [
        {"start": s, "end": e, "role": r, **CODES.get(i, {})}
        for i, (s, e, r, _) in enumerate(DIALOGUE)
        if i not in (4, 12)  # the backchannels are not floor turns
    ]
    metrics["behaviour"] = {
        "estimate": True,
        "counselor_turns": 9,
        "client_turns": 10,
        "questions": {"open": 2, "closed": 2, "total": 4},
        "reflections": {"simple": 2, "complex": 2, "total": 4},
        "therapist_input": {
            "information": 1,
            "advice": 0,
            "options": 0,
            "negotiation": 0,
            "total": 1,
        },
        "client_talk": {"change": 3, "neutral": 6, "sustain": 1},
        "reflection_to_question_ratio": 1.0,
        "therapist_input_per_turn": 0.11,
        "change_talk_share": 0.75,
        "mean_counselor_turn_words": 11.6,
    }
    document["evidence"] = {
        "client_led": "yes",
        "score": 0.81,
        "score_band": "high",
        "score_meaning": SCORE_MEANING,
        "reasons": [
            "The session looks client-led: score 0.81 (high band).",
            "The client spoke 64% of the time (good MI: middle half 35%-55%).",
            "The counselor interrupted the client 3.3 times per 10 minutes.",
        ],
        "criteria": [
            _criterion(
                "client_share",
                "Client share of talk time",
                client_share,
                "share",
                0.38,
                ">=",
                _norms(0.65, (0.2, 0.35, 0.45, 0.55, 0.7), (0.1, 0.2, 0.3, 0.4, 0.55), 88.0, 98.0),
                "Client's share of all speech",
            ),
            _criterion(
                "counselor_interruptions_per_10min",
                "Counselor interruptions per 10 minutes",
                3.33,
                "per_10min",
                4.0,
                "<=",
                _norms(0.71, (0.0, 0.0, 1.1, 2.5, 5.0), (0.0, 1.0, 3.0, 5.5, 9.0), 72.0, 55.0),
                "Counselor interruptions of the client per 10 minutes",
            ),
            _criterion(
                "longest_counselor_monologue_s",
                "Longest counselor turn",
                14.2,
                "seconds",
                45.0,
                "<=",
                _norms(
                    0.74, (5.0, 9.0, 14.0, 22.0, 40.0), (10.0, 20.0, 31.0, 48.0, 75.0), 51.0, 18.0
                ),
                "Longest uninterrupted counselor turn",
            ),
            _criterion(
                "mean_counselor_turn_words",
                "Mean counselor turn",
                11.6,
                "words",
                18.0,
                "<=",
                _norms(
                    0.76, (6.0, 9.0, 12.0, 16.0, 22.0), (10.0, 15.0, 20.0, 27.0, 38.0), 42.0, 9.0
                ),
                "Words per counselor utterance",
            ),
            _criterion(
                "reflection_to_question_ratio",
                "Reflections per question",
                1.0,
                "ratio",
                0.8,
                ">=",
                _norms(0.86, (0.3, 0.7, 1.1, 1.8, 3.2), (0.0, 0.1, 0.25, 0.5, 1.0), 45.0, 96.0),
                "Reflections per question (estimate)",
            ),
            _criterion(
                "therapist_input_per_utterance",
                "Information and advice per counselor utterance",
                0.1,
                "per_utterance",
                0.2,
                "<=",
                _norms(0.92, (0.0, 0.02, 0.06, 0.11, 0.2), (0.1, 0.2, 0.32, 0.45, 0.6), 80.0, 0.0),
                "Counselor information, advice, options per utterance (estimate)",
            ),
            _criterion(
                "change_talk_share",
                "Change talk among change and sustain talk",
                0.75,
                "share",
                0.5,
                ">=",
                _norms(0.71, (0.2, 0.45, 0.65, 0.85, 1.0), (0.0, 0.1, 0.3, 0.5, 0.8), 62.0, 92.0),
                "Client change talk / (change + sustain talk) (estimate)",
            ),
        ],
        "reliability": {"role_confidence": 0.87, "diarization_quality": "good", "blockers": []},
    }
    return copy.deepcopy(document)


def inconclusive_document_v2() -> dict[str, Any]:
    """A 2.0 document whose measurement is unreliable: no score, blockers say why."""
    document = example_document_v2()
    evidence = document["evidence"]
    evidence.update(
        client_led="inconclusive",
        score=None,
        score_band=None,
        score_meaning="No score: the measurement is not reliable enough to estimate one.",
        reasons=[
            "No verdict: the speakers could not be told apart reliably.",
            *evidence["reasons"][1:],
        ],
    )
    evidence["reliability"] = {
        "role_confidence": 0.52,
        "diarization_quality": "poor",
        "blockers": [
            "Counselor and client could not be told apart reliably (role confidence 52%): "
            "check the transcript and swap the roles if they are wrong.",
            "The two voices overlap in most turns (diarization quality poor): record each "
            "person on their own channel or microphone.",
        ],
    }
    document["roles"]["confidence"] = 0.52
    return document
