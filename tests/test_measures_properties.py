"""Property tests of the measures: invariances that must hold for any timeline.

Times are drawn on a 1/8 s grid, so shifting and comparing them is exact in
floating point and a property never fails on rounding alone.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.measures import (
    InterruptionEvent,
    SessionMetrics,
    compute_metrics,
)
from pipeline.types import SpeakerWord, Turn, Utterance

C, CL, OTHER = "counselor", "client", "other"
GRID = 0.125
VOCAB = ["mm-hmm", "yeah", "okay", "I", "see", "no", "that's", "not", "it.", "what", "you?"]
SWAP = {C: CL, CL: C, OTHER: OTHER}

fast = settings(max_examples=100, deadline=None)


@dataclass(frozen=True)
class Session:
    turns: list[Turn]
    utterances: list[Utterance]
    duration_s: float

    def metrics(self) -> SessionMetrics:
        return compute_metrics(self.turns, self.utterances, duration_s=self.duration_s)


@st.composite
def sessions(draw: st.DrawFn, roles: tuple[str, ...] = (C, CL)) -> Session:
    turns = []
    utterances = []
    for _ in range(draw(st.integers(0, 12))):
        start = draw(st.integers(0, 240))
        length = draw(st.integers(0, 100))
        role = draw(st.sampled_from(roles))
        turns.append(Turn(start * GRID, (start + length) * GRID, role))
        offsets = draw(st.lists(st.integers(0, max(length - 1, 0)), max_size=4, unique=True))
        words = tuple(
            SpeakerWord(
                (start + o) * GRID,
                (start + o + 1) * GRID,
                " " + draw(st.sampled_from(VOCAB)),
                0.9,
                role,
            )
            for o in sorted(offsets)
        )
        if words:
            utterances.append(Utterance(words[0].start, words[-1].end, role, words))
    last = max((t.end for t in turns), default=0.0)
    duration_s = last + draw(st.integers(0, 100)) * GRID
    return Session(turns, utterances, duration_s)


def swapped(session: Session) -> Session:
    turns = [dataclasses.replace(t, speaker=SWAP[t.speaker]) for t in session.turns]
    utterances = [
        Utterance(
            u.start,
            u.end,
            SWAP[u.speaker],
            tuple(dataclasses.replace(w, speaker=SWAP[w.speaker]) for w in u.words),
        )
        for u in session.utterances
    ]
    return Session(turns, utterances, session.duration_s)


def shifted(session: Session, shift_s: float) -> Session:
    turns = [Turn(t.start + shift_s, t.end + shift_s, t.speaker) for t in session.turns]
    utterances = [
        Utterance(
            u.start + shift_s,
            u.end + shift_s,
            u.speaker,
            tuple(
                dataclasses.replace(w, start=w.start + shift_s, end=w.end + shift_s)
                for w in u.words
            ),
        )
        for u in session.utterances
    ]
    return Session(turns, utterances, session.duration_s + shift_s)


@fast
@given(sessions(roles=(C, CL, OTHER)))
def test_shares_time_accounting_and_counts_are_consistent(session: Session) -> None:
    m = session.metrics()
    if m.counselor.speech_s + m.client.speech_s > 0:
        assert m.counselor.share + m.client.share == pytest.approx(1.0)
    else:
        assert m.counselor.share == m.client.share == 0.0
    if m.counselor.words + m.client.words > 0:
        assert m.counselor.word_share + m.client.word_share == pytest.approx(1.0)

    d = session.duration_s
    spoken = d - m.silence_s
    each = [m.counselor.speech_s, m.client.speech_s, m.other_speech_s]
    assert 0.0 <= m.silence_s <= d
    assert 0.0 <= m.overlap_s <= spoken
    assert max(each) <= spoken + 1e-9
    # With k roles active at an instant, the sum of speech counts it k times and
    # the overlap once (k >= 2): spoken time lies between these bounds, and
    # equals the upper one unless all three roles speak at once.
    assert sum(each) - 2 * m.overlap_s - 1e-9 <= spoken <= sum(each) - m.overlap_s + 1e-9
    if m.other_speech_s == 0:
        assert sum(each) - m.overlap_s + m.silence_s == pytest.approx(d)

    spans = [(e.start, e.end) for e in m.interruptions.events]
    spans += [(e.start, e.end) for e in m.backchannels.events]
    for start, end in spans:
        assert 0.0 <= start <= end <= d
    floor_turns = m.counselor.turns + m.client.turns
    assert len(m.interruptions.events) + m.interruptions.terminal_overlaps <= floor_turns
    assert m.counselor_turns_over_60s <= m.counselor.turns
    assert m.latency.counselor_to_client_count <= m.client.turns
    assert m.latency.client_to_counselor_count <= m.counselor.turns


def _swap_event(e: InterruptionEvent) -> InterruptionEvent:
    return dataclasses.replace(e, interrupter=SWAP[e.interrupter], interrupted=SWAP[e.interrupted])


@fast
@given(sessions(roles=(C, CL, OTHER)))
def test_swapping_roles_swaps_the_measures(session: Session) -> None:
    m = session.metrics()
    s = swapped(session).metrics()
    assert s.counselor == m.client
    assert s.client == m.counselor
    assert s.overlap_s == m.overlap_s
    assert s.silence_s == m.silence_s
    assert s.longest_counselor_monologue_s == m.client.longest_turn_s
    mi, si = m.interruptions, s.interruptions
    assert si.counselor_interrupts_client == mi.client_interrupts_counselor
    assert si.client_interrupts_counselor == mi.counselor_interrupts_client
    assert si.counselor_interrupts_client_per_10min == mi.client_interrupts_counselor_per_10min
    assert si.overlap_attempts_by_counselor == mi.overlap_attempts_by_client
    assert si.overlap_attempts_by_client == mi.overlap_attempts_by_counselor
    assert si.terminal_overlaps == mi.terminal_overlaps
    assert si.events == tuple(_swap_event(e) for e in mi.events)
    assert (s.backchannels.counselor, s.backchannels.client) == (
        m.backchannels.client,
        m.backchannels.counselor,
    )
    assert s.latency.counselor_to_client_s == m.latency.client_to_counselor_s
    assert s.latency.client_to_counselor_count == m.latency.counselor_to_client_count
    for a, b in zip(m.time_course.windows, s.time_course.windows, strict=True):
        if a.client_share is None:
            assert b.client_share is None
        else:
            assert b.client_share == pytest.approx(1.0 - a.client_share)


@fast
@given(sessions(roles=(C, CL, OTHER)), st.integers(1, 4000))
def test_shifting_time_changes_only_timestamps(session: Session, steps: int) -> None:
    shift_s = steps * GRID
    m = session.metrics()
    s = shifted(session, shift_s).metrics()
    assert s.counselor == m.counselor
    assert s.client == m.client
    assert s.overlap_s == m.overlap_s
    assert s.other_speech_s == m.other_speech_s
    assert s.silence_s == m.silence_s + shift_s  # the recording gains leading silence
    assert s.longest_counselor_monologue_s == m.longest_counselor_monologue_s
    assert s.counselor_turns_over_60s == m.counselor_turns_over_60s
    assert s.latency == m.latency
    assert s.talk_ratio_client_to_counselor == m.talk_ratio_client_to_counselor
    assert s.reflection_to_question_ratio == m.reflection_to_question_ratio
    mi, si = m.interruptions, s.interruptions
    assert (si.counselor_interrupts_client, si.client_interrupts_counselor) == (
        mi.counselor_interrupts_client,
        mi.client_interrupts_counselor,
    )
    assert (si.overlap_attempts, si.terminal_overlaps) == (
        mi.overlap_attempts,
        mi.terminal_overlaps,
    )
    assert si.events == tuple(
        dataclasses.replace(e, start=e.start + shift_s, end=e.end + shift_s) for e in mi.events
    )
    assert s.backchannels.events == tuple(
        dataclasses.replace(e, start=e.start + shift_s, end=e.end + shift_s)
        for e in m.backchannels.events
    )
    assert [dataclasses.replace(t, start=0.0, end=0.0) for t in s.coded_turns] == [
        dataclasses.replace(t, start=0.0, end=0.0) for t in m.coded_turns
    ]
    assert s.behaviour == m.behaviour


@fast
@given(sessions(roles=(C, CL, OTHER)), st.data(), st.randoms(use_true_random=False))
def test_splitting_and_reordering_turns_changes_nothing(
    session: Session, data: st.DataObject, rng: random.Random
) -> None:
    turns = list(session.turns)
    long_turns = [i for i, t in enumerate(turns) if t.end - t.start > GRID]
    if long_turns:
        i = data.draw(st.sampled_from(long_turns))
        t = turns[i]
        cut = data.draw(st.floats(t.start, t.end, exclude_min=True, exclude_max=True))
        turns[i : i + 1] = [Turn(t.start, cut, t.speaker), Turn(cut, t.end, t.speaker)]
    utterances = list(session.utterances)
    rng.shuffle(turns)
    rng.shuffle(utterances)
    recut = Session(turns, utterances, session.duration_s)
    assert recut.metrics().to_dict() == session.metrics().to_dict()


@fast
@given(sessions())
def test_the_yielding_pause_only_cuts_floor_turns(session: Session) -> None:
    # The rule only refuses to bridge pauses: every stretch it draws lies inside a
    # stretch of the same role drawn without it, and no speech changes hands.
    from pipeline.measures import floor_stretches
    from pipeline.metrics_config import DEFAULT_METRICS_CONFIG

    off = dataclasses.replace(DEFAULT_METRICS_CONFIG, yield_pause_s=float("inf"))
    with_rule = floor_stretches(session.turns, session.utterances)
    without = floor_stretches(session.turns, session.utterances, config=off)
    for s in with_rule:
        assert any(o.role == s.role and o.start <= s.start and s.end <= o.end for o in without), s
    metrics_off = compute_metrics(
        session.turns, session.utterances, duration_s=session.duration_s, config=off
    )
    metrics_on = session.metrics()
    assert metrics_on.counselor.speech_s == metrics_off.counselor.speech_s
    assert metrics_on.client.speech_s == metrics_off.client.speech_s
