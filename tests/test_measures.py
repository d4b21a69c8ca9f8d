"""Exact-number tests of the measures on small constructed timelines."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import pytest

from pipeline.measures import (
    SessionMetrics,
    all_in_lexicon,
    compute_metrics,
    floor_stretches,
    has_advice_cue,
    is_question,
    is_reflection_candidate,
    is_short_response,
    overlap_seconds,
    response_latencies,
    silence_seconds,
    speech_seconds,
    split_sentences,
    time_course,
    tokenize,
)
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.mi_codes import UtteranceCode
from pipeline.types import SpeakerWord, Turn, Utterance

C, CL = "counselor", "client"


def utt(speaker: str, start: float, text: str, step: float = 0.25) -> Utterance:
    """An utterance with one word per whitespace-separated token, ``step`` seconds each."""
    words = tuple(
        SpeakerWord(start + i * step, start + (i + 1) * step, " " + w, 0.9, speaker)
        for i, w in enumerate(text.split())
    )
    return Utterance(words[0].start, words[-1].end, speaker, words)


def metrics(
    turns: list[Turn],
    utterances: list[Utterance] | None = None,
    *,
    duration_s: float = 60.0,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> SessionMetrics:
    return compute_metrics(turns, utterances or [], duration_s=duration_s, config=config)


# --- speech, overlap, silence ----------------------------------------------


def test_same_role_overlapping_touching_unsorted_and_empty_turns_count_once() -> None:
    turns = [
        Turn(15.0, 20.0, C),
        Turn(5.0, 15.0, C),  # touches the previous one
        Turn(0.0, 10.0, C),  # overlaps
        Turn(30.0, 30.0, C),  # zero length
        Turn(40.0, 45.0, CL),
    ]
    m = metrics(turns)
    assert m.counselor.speech_s == 20.0
    assert m.client.speech_s == 5.0
    assert m.counselor.share == 0.8
    assert m.client.share == 0.2
    assert m.talk_ratio_client_to_counselor == 0.25
    assert m.overlap_s == 0.0
    assert m.silence_s == 35.0
    assert m.counselor.turns == 1
    assert m.longest_counselor_monologue_s == 20.0


def test_overlap_counts_time_with_two_or_more_roles_including_other() -> None:
    turns = [Turn(0.0, 10.0, C), Turn(8.0, 12.0, CL), Turn(9.0, 11.0, "other")]
    assert overlap_seconds(turns) == 3.0  # [8, 10] counselor+client, [10, 11] client+other
    assert silence_seconds(turns, duration_s=20.0) == 8.0
    m = metrics(turns, duration_s=20.0)
    assert m.overlap_s == 3.0
    assert m.silence_s == 8.0
    assert m.other_speech_s == 2.0
    assert speech_seconds(turns, CL) == 4.0


def test_turns_outside_the_recording_are_cut() -> None:
    m = metrics([Turn(-2.0, 3.0, C), Turn(55.0, 70.0, CL), Turn(80.0, 90.0, CL)])
    assert m.counselor.speech_s == 3.0
    assert m.client.speech_s == 5.0
    assert m.silence_s == 52.0


def test_no_speech_gives_zero_shares_and_none_ratios() -> None:
    m = metrics([], duration_s=30.0)
    assert m.counselor.share == 0.0
    assert m.client.share == 0.0
    assert m.talk_ratio_client_to_counselor is None
    assert m.counselor.median_turn_s is None
    assert m.counselor.words_per_minute is None
    assert m.silence_s == 30.0
    assert m.reflection_to_question_ratio is None
    assert m.latency.counselor_to_client_s is None
    assert m.time_course.windows[0].client_share is None


@pytest.mark.parametrize("duration_s", [-1.0, math.nan, math.inf])
def test_bad_duration_is_rejected(duration_s: float) -> None:
    with pytest.raises(ValueError, match="duration_s"):
        metrics([], duration_s=duration_s)


def test_reversed_turn_is_rejected() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        metrics([Turn(5.0, 4.0, C)])


# --- turns, words -----------------------------------------------------------


def test_turn_statistics_and_words() -> None:
    turns = [
        Turn(0.0, 10.0, C),
        Turn(10.5, 14.0, C),  # pause 0.5 s < 1.0 s: same turn
        Turn(15.0, 20.0, CL),
        Turn(21.0, 25.0, C),
        Turn(26.0, 36.0, CL),
        Turn(36.8, 38.0, CL),  # pause 0.8 s: same turn
    ]
    utterances = [
        utt(C, 0.0, "one two three four five six"),
        utt(CL, 15.0, "a b c d"),
        utt(CL, 26.0, "e f g h i j"),
    ]
    m = metrics(turns, utterances)
    assert m.counselor.turns == 2
    assert m.counselor.mean_turn_s == 9.0  # 14 and 4
    assert m.counselor.median_turn_s == 9.0
    assert m.counselor.longest_turn_s == 14.0
    assert m.client.turns == 2
    assert m.client.median_turn_s == pytest.approx(8.5)  # 5 and 12
    assert m.counselor.speech_s == 17.5
    assert m.counselor.words == 6
    assert m.client.words == 10
    assert m.client.word_share == 10 / 16
    assert m.client.words_per_minute == pytest.approx(10 / (16.2 / 60))


def test_monologues_over_threshold() -> None:
    turns = [Turn(0.0, 61.0, C), Turn(62.0, 70.0, CL), Turn(71.0, 131.0, C), Turn(132.0, 250.0, C)]
    m = metrics(turns, duration_s=300.0)
    assert m.longest_counselor_monologue_s == 118.0
    assert m.counselor_turns_over_60s == 2  # 61 s and 118 s; exactly 60 s is not over


# --- backchannels -----------------------------------------------------------


def test_backchannel_inside_a_long_turn_is_not_an_interruption() -> None:
    turns = [Turn(0.0, 30.0, C), Turn(10.0, 10.4, CL)]
    m = metrics(turns, [utt(CL, 10.0, "Mm-hmm.")])
    assert m.client.backchannels == 1
    assert m.client.turns == 0
    assert m.counselor.turns == 1
    assert m.backchannels.client == 1
    assert m.backchannels.events[0].text == "Mm-hmm."
    assert (m.backchannels.events[0].start, m.backchannels.events[0].end) == (10.0, 10.4)
    assert m.interruptions.events == ()
    assert m.interruptions.overlap_attempts == 0


def test_long_lexical_backchannel_counts_as_backchannel() -> None:
    turns = [Turn(0.0, 30.0, C), Turn(10.0, 12.0, CL)]
    m = metrics(turns, [utt(CL, 10.0, "yeah, yeah okay I see.", step=0.4)])
    assert m.client.backchannels == 1
    assert m.interruptions.events == ()


def test_backchannel_in_a_pause_lets_the_speaker_keep_the_turn() -> None:
    # The counselor pauses 0.9 s; the client says "yeah" in the pause.
    turns = [Turn(0.0, 10.0, C), Turn(10.2, 10.6, CL), Turn(10.9, 20.0, C)]
    m = metrics(turns, [utt(CL, 10.2, "yeah")])
    assert m.counselor.turns == 1
    assert m.longest_counselor_monologue_s == 20.0
    assert m.client.backchannels == 1
    assert m.client.turns == 0


def test_sandwiched_short_response_after_a_long_pause_is_a_backchannel() -> None:
    turns = [Turn(0.0, 10.0, C), Turn(10.3, 10.6, CL), Turn(11.5, 20.0, C)]
    m = metrics(turns)  # no words: judged by duration (0.3 s)
    assert m.client.backchannels == 1
    assert m.counselor.turns == 2


def test_short_response_followed_by_own_speech_takes_the_floor() -> None:
    turns = [Turn(0.0, 5.0, C), Turn(5.5, 5.8, CL), Turn(8.0, 20.0, CL)]
    m = metrics(turns, [utt(CL, 5.5, "No.")])
    assert m.client.backchannels == 0
    assert m.client.turns == 2


def test_listener_response_right_after_own_turn_is_split_off() -> None:
    # Counselor ends at 10, client starts at 10.2, counselor says "mm-hmm" at 10.8.
    # The pause 10 -> 10.8 is under the merge gap, but the client took the floor in it.
    turns = [Turn(0.0, 10.0, C), Turn(10.2, 30.0, CL), Turn(10.8, 11.1, C)]
    m = metrics(turns, [utt(C, 10.8, "mm-hmm")])
    assert m.counselor.turns == 1
    assert m.longest_counselor_monologue_s == 10.0
    assert m.counselor.backchannels == 1
    assert m.interruptions.events == ()
    assert m.latency.counselor_to_client_s == pytest.approx(0.2)


def test_cut_off_tail_after_a_switch_with_no_pause_is_an_interruption() -> None:
    # The diarization switches to the client at 10.0 with no pause (too early) and
    # hears the counselor again only where both speak, 10.6-10.9: the counselor was
    # cut off there, and did not backchannel.
    turns = [Turn(0.0, 10.0, C), Turn(10.0, 30.0, CL), Turn(10.6, 10.9, C)]
    m = metrics(turns)
    assert m.counselor.backchannels == 0
    assert m.counselor.turns == 1
    assert m.longest_counselor_monologue_s == pytest.approx(10.9)
    [event] = m.interruptions.events
    assert event.to_dict() == {
        "start": 10.6,
        "end": 10.9,
        "interrupter": "client",
        "interrupted": "counselor",
        "kind": "interruption",  # no words: held 0.9 s after the client's onset
    }


def test_cut_off_tails_can_be_turned_off() -> None:
    turns = [Turn(0.0, 10.0, C), Turn(10.0, 30.0, CL), Turn(10.6, 10.9, C)]
    m = metrics(turns, config=MetricsConfig(cut_off_tails=False))
    assert m.counselor.backchannels == 1
    assert m.interruptions.events == ()


def test_cut_off_tail_keeps_its_words() -> None:
    turns = [Turn(0.0, 10.0, C), Turn(10.0, 30.0, CL), Turn(10.3, 10.6, C)]
    utterances = [utt(C, 8.5, "so I was thinking"), utt(C, 10.3, "that", step=0.3)]
    stretches = floor_stretches(turns, utterances)
    counselor = [s for s in stretches if s.role == C]
    assert [(s.start, s.end, s.text, s.n_words, s.backchannel) for s in counselor] == [
        (0.0, 10.6, "so I was thinking that", 5, False)
    ]
    [event] = compute_metrics(turns, utterances, duration_s=60.0).interruptions.events
    assert (event.start, event.end, event.kind) == (10.3, 10.6, "interruption")


def test_cut_off_tail_heard_briefly_is_a_terminal_overlap() -> None:
    # No words: the timing rule; the counselor goes on 0.45 s after the client's onset.
    turns = [Turn(0.0, 10.0, C), Turn(10.0, 30.0, CL), Turn(10.25, 10.45, C)]
    m = metrics(turns)
    assert (m.counselor.backchannels, m.counselor.turns) == (0, 1)
    assert m.interruptions.events == ()
    assert m.interruptions.terminal_overlaps == 1


@pytest.mark.parametrize(
    ("client_start_s", "tail_start_s", "tail_end_s"),
    [
        (10.03, 10.6, 11.2),  # a pause of 0.03 s before the client: a switch with a pause
        (10.0, 11.0, 11.2),  # 1.0 s after the counselor stopped: not under merge_gap_s
        (10.0, 10.19, 11.0),  # 0.19 s after: under cut_off_tail_min_gap_s, speech going on
        (10.0, 10.5, 10.59),  # 0.09 s long: under cut_off_tail_min_s
    ],
)
def test_short_response_after_a_switch_stays_a_backchannel(
    client_start_s: float, tail_start_s: float, tail_end_s: float
) -> None:
    turns = [Turn(0.0, 10.0, C), Turn(client_start_s, 30.0, CL), Turn(tail_start_s, tail_end_s, C)]
    m = metrics(turns)
    assert m.counselor.backchannels == 1
    assert m.interruptions.events == ()


@pytest.mark.parametrize(
    ("duration_s", "text", "expected"),
    [
        (0.5, "", True),
        (0.999, "", True),
        (1.0, "", False),
        (5.0, "no way", True),  # fewer than 3 words
        (0.5, "I don't know", False),  # words decide, not duration
        (5.0, "yeah okay I see", True),  # all in the lexicon
        (5.0, "yeah I see that", False),
        (5.0, "uh-huh uh huh", True),
    ],
)
def test_is_short_response(duration_s: float, text: str, expected: bool) -> None:
    assert is_short_response(duration_s, tokenize(text)) is expected


def test_all_in_lexicon_needs_whole_phrases() -> None:
    lexicon = ("i see", "got it", "okay")
    assert all_in_lexicon(["okay", "i", "see"], lexicon)
    assert not all_in_lexicon(["i"], lexicon)
    assert not all_in_lexicon(["see", "okay"], lexicon)
    assert not all_in_lexicon([], lexicon)


def test_word_belongs_to_stretch_by_midpoint_and_speaker() -> None:
    turns = [Turn(0.0, 30.0, C), Turn(10.0, 11.0, CL)]
    # Client words mostly outside the stretch, and a counselor word inside it.
    words = (
        SpeakerWord(9.0, 10.1, " I", 0.9, CL),  # midpoint 9.55: outside
        SpeakerWord(10.2, 10.6, " really", 0.9, C),  # counselor's: ignored
        SpeakerWord(10.4, 10.8, " mhm", 0.9, CL),  # inside
    )
    stretches = floor_stretches(turns, [Utterance(9.0, 10.8, CL, words)])
    client = [s for s in stretches if s.role == CL]
    assert len(client) == 1
    assert client[0].text == "mhm"
    assert client[0].n_words == 1
    assert client[0].backchannel


# --- interruptions ----------------------------------------------------------

LONG_CLIENT = "no that is not what I meant at all"


def test_interruption_with_yield_is_counted() -> None:
    turns = [Turn(0.0, 20.0, C), Turn(19.0, 30.0, CL)]
    m = metrics(turns, [utt(CL, 19.0, LONG_CLIENT)])
    ints = m.interruptions
    assert ints.client_interrupts_counselor == 1
    assert ints.counselor_interrupts_client == 0
    assert ints.overlap_attempts == 0
    [event] = ints.events
    assert event.to_dict() == {
        "start": 19.0,
        "end": 20.0,
        "interrupter": "client",
        "interrupted": "counselor",
        "kind": "interruption",
    }


def test_overlap_without_yield_is_an_overlap_attempt() -> None:
    turns = [Turn(0.0, 20.0, C), Turn(5.0, 8.0, CL)]
    m = metrics(turns, [utt(CL, 5.0, LONG_CLIENT)])
    ints = m.interruptions
    assert ints.client_interrupts_counselor == 0
    assert ints.overlap_attempts == 1
    assert ints.overlap_attempts_by_client == 1
    [event] = ints.events
    assert (event.start, event.end, event.kind) == (5.0, 8.0, "overlap_attempt")


def test_interrupter_dropping_out_first_is_an_overlap_attempt() -> None:
    turns = [Turn(0.0, 20.0, C), Turn(18.5, 19.5, CL)]  # 1.0 s, no words: not short
    m = metrics(turns)
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.overlap_attempts_by_client == 1


def test_terminal_overlap_is_not_an_interruption() -> None:
    turns = [Turn(0.0, 20.0, C), Turn(19.8, 30.0, CL)]
    m = metrics(turns)
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.overlap_attempts == 0
    assert m.interruptions.terminal_overlaps == 1
    assert m.interruptions.events == ()


def test_yield_window_edges() -> None:
    exactly = metrics([Turn(0.0, 20.0, C), Turn(18.0, 30.0, CL)])
    assert exactly.interruptions.client_interrupts_counselor == 1  # stops 2.0 s after
    later = metrics([Turn(0.0, 20.0, C), Turn(17.9, 30.0, CL)])
    assert later.interruptions.client_interrupts_counselor == 0
    assert later.interruptions.overlap_attempts_by_client == 1
    simultaneous = metrics([Turn(0.0, 20.0, C), Turn(0.0, 30.0, CL)])
    assert simultaneous.interruptions.events == ()


def test_speaker_who_pauses_briefly_and_goes_on_did_not_yield() -> None:
    # The counselor stops at 11 (1 s after the onset) but resumes 0.5 s later.
    turns = [Turn(0.0, 11.0, C), Turn(11.5, 20.0, C), Turn(10.0, 14.0, CL)]
    m = metrics(turns, [utt(CL, 10.0, LONG_CLIENT)])
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.overlap_attempts_by_client == 1


def test_a_pause_the_other_party_talks_through_ends_the_turn() -> None:
    # The counselor stops at 11 (1 s after the client's onset) and is silent for
    # 0.7 s while the client talks all through the pause: the counselor yielded
    # (an interruption by the client), and came back over the client at 11.7;
    # the client holds on 2.3 s, longer than the yield window: an attempt.
    turns = [Turn(0.0, 11.0, C), Turn(11.7, 20.0, C), Turn(10.0, 14.0, CL)]
    m = metrics(turns, [utt(CL, 10.0, LONG_CLIENT)])
    assert m.interruptions.client_interrupts_counselor == 1
    assert m.interruptions.overlap_attempts_by_counselor == 1
    assert m.counselor.turns == 2


def test_a_pause_the_other_party_does_not_talk_through_is_bridged() -> None:
    # The client stops at 11.5, before the counselor resumes at 11.8: the pause
    # is the counselor's own, and the counselor held the floor.
    turns = [Turn(0.0, 11.0, C), Turn(11.8, 20.0, C), Turn(10.0, 11.5, CL)]
    m = metrics(turns, [utt(CL, 10.0, "but I really think that")])
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.overlap_attempts_by_client == 1
    assert m.counselor.turns == 1


def test_a_backchannel_through_a_pause_does_not_end_the_turn() -> None:
    # "mm-hmm" from 10.9 to 11.8 spans the counselor's 0.7-s pause, but a
    # listener response does not take the floor.
    turns = [Turn(0.0, 11.0, C), Turn(11.7, 20.0, C), Turn(10.9, 11.8, CL)]
    m = metrics(turns, [utt(CL, 10.9, "mm-hmm")])
    assert m.counselor.turns == 1
    assert m.client.backchannels == 1
    assert m.interruptions.events == ()


def test_a_sliver_before_a_pause_does_not_yield() -> None:
    # The diarization heard 0.5 s of the client at the onset, then the counselor
    # through a 0.7-s pause of the client: too little to have held the floor, so
    # the client's turn is not cut there (its first piece would be a backchannel).
    turns = [Turn(0.0, 12.0, C), Turn(10.0, 10.5, CL), Turn(11.2, 20.0, CL)]
    m = metrics(turns, [utt(C, 0.0, LONG_CLIENT), utt(CL, 11.2, LONG_CLIENT)])
    assert m.client.turns == 1
    assert m.client.backchannels == 0
    assert m.interruptions.client_interrupts_counselor == 1


def test_settings_turned_off_with_inf_stay_strict_json() -> None:
    off = dataclasses.replace(DEFAULT_METRICS_CONFIG, yield_pause_s=math.inf)
    settings = off.to_dict()
    assert settings["yield_pause_s"] == "inf"
    assert settings["merge_gap_s"] == 1.0
    assert isinstance(settings["backchannel_lexicon"], list)
    json.dumps(settings, allow_nan=False)


def test_the_yielding_pause_can_be_turned_off() -> None:
    turns = [Turn(0.0, 11.0, C), Turn(11.7, 20.0, C), Turn(10.0, 14.0, CL)]
    off = dataclasses.replace(DEFAULT_METRICS_CONFIG, yield_pause_s=math.inf)
    m = metrics(turns, [utt(CL, 10.0, LONG_CLIENT)], config=off)
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.overlap_attempts_by_client == 1


def test_starting_in_a_pause_is_not_an_interruption() -> None:
    turns = [Turn(0.0, 10.0, C), Turn(10.3, 20.0, CL), Turn(10.8, 12.0, C)]
    m = metrics(turns, [utt(C, 10.8, "and another thing is")])
    # The client starts in the counselor's pause; the counselor restarts inside
    # the client's speech and keeps going for less than the client does.
    assert m.interruptions.client_interrupts_counselor == 0
    assert m.interruptions.counselor_interrupts_client == 0
    assert m.interruptions.overlap_attempts_by_counselor == 1


def test_rates_per_10_minutes() -> None:
    turns = [Turn(100.0 * k, 100.0 * k + 50.0, CL) for k in range(3)]
    turns += [Turn(100.0 * k + 49.0, 100.0 * k + 90.0, C) for k in range(3)]
    m = metrics(turns, duration_s=1200.0)
    assert m.interruptions.counselor_interrupts_client == 3
    assert m.interruptions.counselor_interrupts_client_per_10min == 1.5
    assert m.interruptions.client_interrupts_counselor_per_10min == 0.0


# --- latency ----------------------------------------------------------------


def test_response_latency_medians_by_direction() -> None:
    turns = [
        Turn(0.0, 10.0, C),
        Turn(11.0, 20.0, CL),  # counselor -> client 1.0
        Turn(20.5, 30.0, C),  # client -> counselor 0.5
        Turn(33.0, 40.0, CL),  # counselor -> client 3.0
        Turn(39.0, 50.0, C),  # overlapping switch: excluded
        Turn(52.0, 60.0, CL),  # counselor -> client 2.0
    ]
    m = metrics(turns, duration_s=60.0)
    assert m.latency.counselor_to_client_s == 2.0
    assert m.latency.counselor_to_client_count == 3
    assert m.latency.client_to_counselor_s == 0.5
    assert m.latency.client_to_counselor_count == 1


def test_latency_follows_the_latest_ending_turn() -> None:
    # A client overlap attempt inside a counselor turn does not hide the switch at 30 -> 32.
    stretches = floor_stretches(
        [Turn(0.0, 30.0, C), Turn(10.0, 12.0, CL), Turn(32.0, 40.0, CL)],
        [],
    )
    assert response_latencies(stretches) == {
        "counselor_to_client": [2.0],
        "client_to_counselor": [],
    }


# --- time course ------------------------------------------------------------


def test_time_course_on_a_ten_minute_timeline() -> None:
    turns = [Turn(0.0, 300.0, C), Turn(300.0, 600.0, CL)]
    course = time_course(turns, duration_s=600.0, window_s=300.0, step_s=60.0)
    assert [(w.start, w.end) for w in course.windows] == [
        (0.0, 300.0),
        (60.0, 360.0),
        (120.0, 420.0),
        (180.0, 480.0),
        (240.0, 540.0),
        (300.0, 600.0),
    ]
    assert [w.client_share for w in course.windows] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_time_course_last_window_is_short_and_silent_windows_are_none() -> None:
    turns = [Turn(0.0, 100.0, C), Turn(100.0, 150.0, CL)]
    course = time_course(turns, duration_s=630.0, window_s=300.0, step_s=60.0)
    assert len(course.windows) == 7
    assert (course.windows[-1].start, course.windows[-1].end) == (360.0, 630.0)
    assert course.windows[-1].client_share is None
    assert course.windows[0].client_share == pytest.approx(1 / 3)


def test_time_course_of_a_short_recording_is_one_window() -> None:
    course = time_course([Turn(0.0, 50.0, C)], duration_s=200.0)
    assert [(w.start, w.end, w.client_share) for w in course.windows] == [(0.0, 200.0, 0.0)]
    assert time_course([], duration_s=0.0).windows == ()


# --- lexical cues (used by the role model) and MI codes of floor turns --------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It sounds like you're worried about your health.", True),
        ("You feel stuck.", True),
        ("So you want things to change", True),  # no final punctuation
        ("On one hand you enjoy it, on the other hand it costs you.", True),
        ("Part of you wants to quit.", True),
        ("It sounds like you're worried?", False),  # a question
        ("You want to stop, so you should try the patch.", False),  # advice
        ("I went to a conference last week.", False),
        ("Let's look at your week, so you know where you stand.", False),  # "so you" mid-sentence
    ],
)
def test_is_reflection_candidate(text: str, expected: bool) -> None:
    assert is_reflection_candidate(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You should cut down.", True),
        ("I'd suggest keeping a diary.", True),
        ("It's important to sleep.", True),
        ("Why don't you try it?", True),
        ("You shouldn't worry.", True),
        ("I would like to hear more.", False),
        ("What should we talk about?", False),
    ],
)
def test_has_advice_cue(text: str, expected: bool) -> None:
    assert has_advice_cue(text) is expected


def test_split_sentences_times_each_sentence_by_its_words() -> None:
    u = utt(C, 10.0, "So you feel stuck. What would help? okay")
    assert [(s.start, s.end, s.text) for s in split_sentences(u)] == [
        (10.0, 11.0, "So you feel stuck."),
        (11.0, 11.75, "What would help?"),
        (11.75, 12.0, "okay"),
    ]
    assert is_question("What would help?") and not is_question("okay")


def scripted_coder(turns: Sequence[tuple[str, str]]) -> list[UtteranceCode]:
    """Codes by first word, so the counting is checked independently of the fitted coder."""
    table = {
        "what": UtteranceCode(C, question="open"),
        "do": UtteranceCode(C, question="closed"),
        "so": UtteranceCode(C, reflection="complex"),
        "you": UtteranceCode(C, therapist_input="advice"),
        "i": UtteranceCode(CL, client_talk="change"),
        "but": UtteranceCode(CL, client_talk="sustain"),
    }
    return [table.get(text.split()[0].lower(), UtteranceCode(role)) for role, text in turns]


def test_floor_turns_are_coded_and_counted() -> None:
    utterances = [
        utt(C, 0.0, "What brings you here"),  # open question
        utt(CL, 2.0, "I want to cut down"),  # change
        utt(C, 5.0, "So you feel ready"),  # complex reflection
        utt(CL, 7.0, "But I like it"),  # sustain
        utt(C, 10.0, "Do you drink daily"),  # closed question
        utt(CL, 12.0, "I do yes"),  # change
        utt(C, 15.0, "You should try patches now"),  # advice
    ]
    turns = [Turn(u.start, u.end, u.speaker) for u in utterances]
    m = compute_metrics(turns, utterances, duration_s=20.0, coder=scripted_coder)
    b = m.behaviour
    assert [t.role for t in m.coded_turns] == [C, CL, C, CL, C, CL, C]
    assert (b.counselor_turns, b.client_turns, b.counselor_words) == (4, 3, 17)
    assert (b.question_total, b.reflection_total, b.therapist_input_total) == (2, 1, 1)
    assert m.reflection_to_question_ratio == 0.5
    assert b.therapist_input_per_turn == 0.25
    assert b.change_talk_share == 2 / 3
    assert b.mean_counselor_turn_words == 4.25
    d = m.to_dict()
    assert d["behaviour"]["questions"] == {"open": 1, "closed": 1, "total": 2}
    assert d["behaviour"]["change_talk_share"] == 0.6667
    assert d["behaviour"]["expected"] == {  # no probabilities: present counts 1
        "change": 2.0,
        "question": 2.0,
        "reflection": 1.0,
        "sustain": 1.0,
        "therapist_input": 1.0,
    }
    assert d["coded_turns"][2] == {
        "start": 5.0,
        "end": 6.0,
        "role": C,
        "question": None,
        "reflection": "complex",
        "therapist_input": None,
        "client_talk": None,
    }


def test_backchannels_are_not_coded() -> None:
    utterances = [utt(C, 0.0, "What brings you here today then"), utt(CL, 0.5, "mm-hmm")]
    turns = [Turn(0.0, 1.75, C), Turn(0.5, 0.75, CL)]
    m = compute_metrics(turns, utterances, duration_s=5.0, coder=scripted_coder)
    assert [t.role for t in m.coded_turns] == [C]


def test_a_coder_returning_the_wrong_count_is_an_error() -> None:
    utterances = [utt(C, 0.0, "What brings you here")]
    with pytest.raises(ValueError, match="1 turns"):
        compute_metrics([Turn(0.0, 1.0, C)], utterances, duration_s=5.0, coder=lambda turns: [])


def test_the_packaged_coder_is_the_default() -> None:
    utterances = [utt(C, 0.0, "What brings you here today?")]
    m = compute_metrics([Turn(0.0, 1.5, C)], utterances, duration_s=5.0)
    assert m.behaviour.questions == {"open": 1}


# --- JSON shape -------------------------------------------------------------


def test_to_dict_has_the_documented_keys_and_millisecond_rounding() -> None:
    turns = [Turn(0.0, 10.12345, C), Turn(10.5, 20.0, CL), Turn(12.0, 12.3, C)]
    m = metrics(turns, [utt(C, 0.0, "What brings you here?")], duration_s=30.0)
    d = m.to_dict()
    json.dumps(d)  # serialisable
    for role in ("counselor", "client"):
        assert {"speech_s", "share", "turns", "words", "median_turn_s", "mean_turn_s"} <= set(
            d[role]
        )
        assert {"word_share", "words_per_minute", "backchannels"} <= set(d[role])
    assert {
        "talk_ratio_client_to_counselor",
        "overlap_s",
        "silence_s",
        "longest_counselor_monologue_s",
        "counselor_turns_over_60s",
        "interruptions",
        "backchannels",
        "behaviour",
        "coded_turns",
        "reflection_to_question_ratio",
        "latency",
        "time_course",
    } <= set(d)
    assert {
        "counselor_interrupts_client",
        "client_interrupts_counselor",
        "counselor_interrupts_client_per_10min",
        "client_interrupts_counselor_per_10min",
        "overlap_attempts",
        "events",
    } <= set(d["interruptions"])
    assert set(d["backchannels"]) == {"counselor", "client", "events"}
    assert d["backchannels"]["events"] == [
        {"start": 12.0, "end": 12.3, "role": "counselor", "text": ""}
    ]
    assert {"questions", "reflections", "therapist_input", "client_talk", "estimate"} <= set(
        d["behaviour"]
    )
    assert {"counselor_to_client_s", "client_to_counselor_s"} <= set(d["latency"])
    assert set(d["time_course"]) == {"window_s", "step_s", "windows"}
    assert d["time_course"]["windows"][0] == {"start": 0.0, "end": 30.0, "client_share": 0.477}
    assert d["counselor"]["speech_s"] == 10.423  # 10.12345 + 0.3
    assert d["latency"]["counselor_to_client_s"] == 0.377


def test_config_changes_thresholds() -> None:
    config = dataclasses.replace(DEFAULT_METRICS_CONFIG, merge_gap_s=0.4, monologue_s=5.0)
    turns = [Turn(0.0, 10.0, C), Turn(10.5, 16.0, C)]
    m = metrics(turns, config=config)
    assert m.counselor.turns == 2
    assert m.counselor_turns_over_60s == 2
    assert m.monologue_threshold_s == 5.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("merge_gap_s", 0.0), ("window_s", -1.0), ("min_role_share", 1.5), ("step_s", math.nan)],
)
def test_config_rejects_bad_values(field: str, value: float) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(DEFAULT_METRICS_CONFIG, **changes)


def test_config_to_dict_is_json() -> None:
    d = DEFAULT_METRICS_CONFIG.to_dict()
    assert d["yield_window_s"] == 2.0
    assert "mm-hmm" in d["backchannel_lexicon"]
    json.dumps(d)


def test_expected_counts_sum_the_coder_probabilities() -> None:
    def probable(turns: Sequence[tuple[str, str]]) -> list[UtteranceCode]:
        return [
            UtteranceCode(
                C, question="open", p_question=0.9, p_reflection=0.2, p_therapist_input=0.1
            )
            if role == C
            else UtteranceCode(CL, client_talk="neutral", p_change=0.3, p_sustain=0.25)
            for role, _ in turns
        ]

    utterances = [utt(C, 0.0, "What brings you here"), utt(CL, 2.0, "I want to cut down")]
    utterances.append(utt(C, 5.0, "What else"))
    turns = [Turn(u.start, u.end, u.speaker) for u in utterances]
    b = compute_metrics(turns, utterances, duration_s=10.0, coder=probable).behaviour
    assert b.expected["question"] == pytest.approx(1.8)
    assert b.expected["reflection"] == pytest.approx(0.4)
    assert b.expected["therapist_input"] == pytest.approx(0.2)
    assert (b.expected["change"], b.expected["sustain"]) == (0.3, 0.25)
    assert b.question_total == 2 and b.reflection_total == 0
