"""Interruptions judged by where the cut falls (``interruption_rule="completion"``).

Hand-built turns and words with exact numbers, the timing rule kept as an
option, and properties that hold for any turns and words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.measures import (
    InterruptionEvent,
    InterruptionKind,
    completed_before,
    compute_metrics,
    floor_stretches,
    interruption_events,
)
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.mi_codes import UtteranceCode
from pipeline.types import SpeakerWord, Turn, Utterance

C, CL = "counselor", "client"
TIMING = dataclasses.replace(DEFAULT_METRICS_CONFIG, interruption_rule="timing")


def words(speaker: str, start: float, text: str, step: float = 0.3) -> list[SpeakerWord]:
    """One word per token, ``step`` seconds each, back to back from ``start``."""
    return [
        SpeakerWord(start + i * step, start + (i + 1) * step, w, 0.9, speaker)
        for i, w in enumerate(text.split())
    ]


def utterance(ws: list[SpeakerWord]) -> Utterance:
    return Utterance(ws[0].start, ws[-1].end, ws[0].speaker, tuple(ws))


def events(
    turns: list[Turn],
    ws: list[SpeakerWord],
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> tuple[InterruptionEvent, ...]:
    by_speaker = [[w for w in ws if w.speaker == s] for s in (C, CL)]
    utterances = [utterance(part) for part in by_speaker if part]
    stretches = floor_stretches(turns, utterances, config=config)
    return interruption_events(stretches, turns, words=ws, config=config)


# The counselor says 10 words from 0.0 s, 0.3 s each (the 7th, "to", ends at 2.1 s).
CUT_OFF = "So, I was going to say to be honest I"


def test_cut_off_mid_sentence_with_a_short_overlap_is_an_interruption() -> None:
    # The client starts at 2.1 s (after "to", mid-sentence); the counselor stops
    # 0.2 s later. The timing rule calls that a terminal overlap.
    ws = words(C, 0.0, CUT_OFF)[:8] + words(CL, 2.1, "wait that is not what happened at all")
    turns = [Turn(0.0, 2.3, C), Turn(2.1, 4.8, CL)]
    [event] = events(turns, ws)
    assert event == InterruptionEvent(2.1, 2.3, CL, C, "interruption")
    [timed] = events(turns, ws, TIMING)
    assert timed.kind == "terminal_overlap"


def test_onset_right_after_a_sentence_end_is_a_terminal_overlap() -> None:
    # "that." is said from 1.5 to 1.8 s and the counselor stops at 1.92 s (the
    # word's tail); the client starts at 1.7 s, 0.22 s before: a turn transition.
    ws = words(C, 0.0, "I was going to say that.") + words(CL, 1.7, "right and that is why I came")
    turns = [Turn(0.0, 1.92, C), Turn(1.7, 3.8, CL)]
    [event] = events(turns, ws)
    assert event == InterruptionEvent(1.7, 1.92, CL, C, "terminal_overlap")
    [timed] = events(turns, ws, TIMING)
    assert timed.kind == "terminal_overlap"  # held 0.22 s < terminal_overlap_s
    # Held 0.51 s: the timing rule calls it an interruption, the completion rule does not.
    longer = [Turn(0.0, 1.94, C), Turn(1.43, 3.8, CL)]
    ws_longer = words(C, 0.0, "I was going to say that.") + words(CL, 1.43, "right and that is why")
    assert events(longer, ws_longer)[0].kind == "terminal_overlap"
    assert events(longer, ws_longer, TIMING)[0].kind == "interruption"


def test_speech_going_on_after_the_period_is_a_cut_off() -> None:
    # Whisper wrote "that." but the counselor went on 0.5 s more (an untranscribed
    # fragment): not a completion point.
    ws = words(C, 0.0, "I was going to say that.") + words(CL, 1.9, "right and that is why I came")
    turns = [Turn(0.0, 2.3, C), Turn(1.9, 4.0, CL)]
    [event] = events(turns, ws)
    assert event.kind == "interruption"
    lenient = dataclasses.replace(DEFAULT_METRICS_CONFIG, completion_max_trailing_s=0.6)
    assert events(turns, ws, lenient)[0].kind == "terminal_overlap"


@pytest.mark.parametrize(
    ("turn_end_s", "kind"), [(1.95, "terminal_overlap"), (2.05, "interruption")]
)
def test_trailing_speech_limit_is_0_2_s(turn_end_s: float, kind: InterruptionKind) -> None:
    # "that." ends at 1.8 s; the counselor's speech ends 0.15 s (a word's tail: Whisper's
    # last word ends early) or 0.25 s later (a fragment Whisper left out). Chosen on the
    # development, held-out, fresh and first recast fixtures: docs/metrics.md, "Trailing
    # speech after the completing word".
    assert DEFAULT_METRICS_CONFIG.completion_max_trailing_s == 0.2
    ws = words(C, 0.0, "I was going to say that.") + words(CL, 1.7, "right and that is why I came")
    turns = [Turn(0.0, turn_end_s, C), Turn(1.7, 4.0, CL)]
    [event] = events(turns, ws)
    assert event == InterruptionEvent(1.7, turn_end_s, CL, C, kind)


def test_onset_during_the_last_word_of_a_question_is_a_terminal_overlap() -> None:
    # "you?" is said from 1.2 to 1.5 s; the client starts at 1.35 s.
    ws = words(C, 0.0, "how are you doing you?") + words(CL, 1.35, "fine thanks for asking me")
    turns = [Turn(0.0, 1.5, C), Turn(1.35, 3.15, CL)]
    [event] = events(turns, ws)
    assert event.kind == "terminal_overlap"


def test_lookahead_counts_a_word_starting_just_after_the_onset() -> None:
    ws = words(C, 0.0, "it was hard. and", step=0.25)
    # "hard." is said from 0.5 to 0.75 s, "and" from 0.75 s.
    assert completed_before(ws, 0.6, since=0.0) is True
    assert completed_before(ws, 0.7, since=0.0) is False  # "and" starts 0.05 s later
    no_lookahead = dataclasses.replace(DEFAULT_METRICS_CONFIG, completion_lookahead_s=0.0)
    assert completed_before(ws, 0.75, since=0.0, config=no_lookahead) is True
    assert completed_before(ws, 0.76, since=0.0, config=no_lookahead) is False


def test_completion_marks_quotes_and_missing_words() -> None:
    assert completed_before(words(C, 0.0, 'he said "stop."'), 1.0, since=0.0) is True
    assert completed_before(words(C, 0.0, "really?"), 1.0, since=0.0) is True
    assert completed_before(words(C, 0.0, "well, so,"), 1.0, since=0.0) is False
    assert completed_before([], 1.0, since=0.0) is None
    # Words before the turn began do not count.
    assert completed_before(words(C, 0.0, "done."), 5.0, since=1.0) is None
    commas = dataclasses.replace(DEFAULT_METRICS_CONFIG, completion_marks=".?!,")
    assert completed_before(words(C, 0.0, "well, so,"), 1.0, since=0.0, config=commas) is True


def test_speaker_who_holds_the_floor_makes_it_an_overlap_attempt() -> None:
    # The client starts mid-sentence at 2.1 s and gives up at 3.5 s; the
    # counselor talks on to 8.0 s. Both rules agree.
    ws = words(C, 0.0, CUT_OFF) + words(CL, 2.1, "can I just say one thing")
    turns = [Turn(0.0, 8.0, C), Turn(2.1, 3.5, CL)]
    for config in (DEFAULT_METRICS_CONFIG, TIMING):
        [event] = events(turns, ws, config)
        assert event == InterruptionEvent(2.1, 3.5, CL, C, "overlap_attempt")


def test_completion_point_but_the_speaker_goes_on_is_an_overlap_attempt() -> None:
    ws = words(C, 0.0, "I was going to say that.") + words(C, 2.3, "Honestly I think so")
    ws += words(CL, 1.9, "right and that is why I came here")
    turns = [Turn(0.0, 6.0, C), Turn(1.9, 7.0, CL)]  # the counselor goes on 4.1 s
    [event] = events(turns, ws)
    assert event.kind == "overlap_attempt"


def test_cut_off_but_yielding_too_late_is_an_overlap_attempt() -> None:
    ws = words(C, 0.0, CUT_OFF)[:8] + words(CL, 2.1, "wait that is not what happened at all")
    turns = [Turn(0.0, 4.2, C), Turn(2.1, 6.0, CL)]  # stops 2.1 s after the onset
    [event] = events(turns, ws)
    assert event.kind == "overlap_attempt"
    edge = [Turn(0.0, 4.1, C), Turn(2.1, 6.0, CL)]  # exactly yield_window_s
    [event] = events(edge, ws)
    assert event.kind == "interruption"


def test_unpunctuated_transcript_falls_back_to_the_timing_rule() -> None:
    ws = words(C, 0.0, "so I was going to say to be honest I")[:8]
    ws += words(CL, 2.1, "wait that is not what happened at all")
    turns = [Turn(0.0, 2.3, C), Turn(2.1, 4.8, CL)]
    assert completed_before(ws[:8], 2.1, since=0.0) is None
    [event] = events(turns, ws)
    assert event.kind == "terminal_overlap"  # held 0.2 s < terminal_overlap_s


def test_without_words_the_timing_rule_decides() -> None:
    turns = [Turn(0.0, 20.0, C), Turn(19.8, 30.0, CL)]
    [short] = events(turns, [])
    assert short.kind == "terminal_overlap"
    [longer] = events([Turn(0.0, 20.0, C), Turn(19.0, 30.0, CL)], [])
    assert longer.kind == "interruption"


def test_backchannel_over_a_cut_off_is_not_an_event() -> None:
    ws = words(C, 0.0, CUT_OFF) + words(CL, 1.0, "mm-hmm")
    turns = [Turn(0.0, 3.0, C), Turn(1.0, 1.4, CL)]
    assert events(turns, ws) == ()


def no_codes(turns: Sequence[tuple[str, str]]) -> list[UtteranceCode]:
    """No MI behaviour codes: the interruption counts do not depend on them."""
    return [UtteranceCode(role) for role, _ in turns]


def test_compute_metrics_uses_the_words_and_counts_interruptions() -> None:
    ws_c = words(C, 0.0, CUT_OFF)[:8]
    ws_cl = words(CL, 2.1, "wait that is not what happened at all")
    turns = [Turn(0.0, 2.3, C), Turn(2.1, 4.8, CL)]
    utterances = [utterance(ws_c), utterance(ws_cl)]
    m = compute_metrics(turns, utterances, duration_s=60.0, coder=no_codes)
    assert m.interruptions.client_interrupts_counselor == 1
    assert m.interruptions.terminal_overlaps == 0
    t = compute_metrics(turns, utterances, duration_s=60.0, config=TIMING, coder=no_codes)
    assert t.interruptions.client_interrupts_counselor == 0
    assert t.interruptions.terminal_overlaps == 1


def test_rule_must_be_known() -> None:
    with pytest.raises(ValueError, match="interruption_rule"):
        MetricsConfig(interruption_rule="loudness")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="completion_lookahead_s"):
        MetricsConfig(completion_lookahead_s=float("nan"))
    with pytest.raises(ValueError, match="completion_max_trailing_s"):
        MetricsConfig(completion_max_trailing_s=-0.1)
    assert DEFAULT_METRICS_CONFIG.to_dict()["interruption_rule"] == "completion"


# --- properties ----------------------------------------------------------------

TOKENS = ("so", "and", "I", "think", "it", "was.", "hard?", "well,", "you!", "yes.")


@st.composite
def dialogues(draw: st.DrawFn) -> tuple[list[Turn], list[SpeakerWord]]:
    turns: list[Turn] = []
    ws: list[SpeakerWord] = []
    for speaker in (C, CL):
        t = draw(st.floats(0.0, 2.0))
        for _ in range(draw(st.integers(1, 4))):
            start = t + draw(st.floats(0.0, 3.0))
            end = start + draw(st.floats(0.1, 6.0))
            turns.append(Turn(round(start, 2), round(end, 2), speaker))
            n = draw(st.integers(0, 6))
            step = (end - start) / max(n, 1)
            for k in range(n):
                text = draw(st.sampled_from(TOKENS))
                ws.append(SpeakerWord(start + k * step, start + (k + 1) * step, text, 0.9, speaker))
            t = end
    return turns, ws


@settings(max_examples=200, deadline=None)
@given(dialogues())
def test_rules_find_the_same_onsets_and_differ_only_in_kind(
    data: tuple[list[Turn], list[SpeakerWord]],
) -> None:
    turns, ws = data
    completion, timing = events(turns, ws), events(turns, ws, TIMING)
    strip = [(e.start, e.end, e.interrupter, e.interrupted) for e in completion]
    assert strip == [(e.start, e.end, e.interrupter, e.interrupted) for e in timing]
    # Without words the two rules are the same rule.
    assert events(turns, []) == events(turns, [], TIMING)


@settings(max_examples=200, deadline=None)
@given(dialogues())
def test_an_onset_at_a_completion_point_is_never_an_interruption(
    data: tuple[list[Turn], list[SpeakerWord]],
) -> None:
    turns, ws = data
    for event in events(turns, ws, STOPS_AT_ANY_POINT):
        own = sorted((w for w in ws if w.speaker == event.interrupted), key=lambda w: w.start)
        before = [
            w for w in own if w.start < event.start + DEFAULT_METRICS_CONFIG.completion_lookahead_s
        ]
        if event.kind == "interruption" and before:
            assert before[-1].text[-1] not in ".?!" or before[-1].start < _turn_start(turns, event)


STOPS_AT_ANY_POINT = dataclasses.replace(DEFAULT_METRICS_CONFIG, completion_max_trailing_s=1e9)


def _turn_start(turns: list[Turn], event: InterruptionEvent) -> float:
    """Start of the interrupted speaker's speech that contains the onset (upper bound
    of the stretch start, which may begin earlier across short pauses)."""
    return max(t.start for t in turns if t.speaker == event.interrupted and t.start < event.start)
