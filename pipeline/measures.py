"""Measures of who held the floor in a counseling session.

Pure functions of role-labelled :class:`~pipeline.types.Turn` s (overlap-aware
diarization), :class:`~pipeline.types.Utterance` s (words attributed to roles)
and a :class:`~pipeline.metrics_config.MetricsConfig`. No models, no I/O.
``docs/metrics.md`` defines every measure, its JSON key and its reference.

The building block is the *stretch*: one role's speech joined across pauses
shorter than ``merge_gap_s``. A stretch is either a *floor turn* or a
*backchannel* (a short listener response that does not take the floor).
Turn counts, monologues, interruptions and response latencies are computed on
stretches; speech time, overlap and silence on the raw speech.

Questions, reflections, therapist input and client change talk are *estimates*:
each floor turn is coded by the MI coder (:mod:`pipeline.mi_codes`, fitted on
expert-coded sessions; its accuracy per code is in ``docs/evidence.md``).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pipeline.behaviour import BehaviourSummary, CodedTurn, summarize_behaviour
from pipeline.intervals import (
    Interval,
    clip,
    covered_by_at_least,
    overlap_length,
    total,
    union,
)
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.mi_codes import UtteranceCode, code_utterances
from pipeline.types import SpeakerWord, Turn, Utterance

COUNSELOR = "counselor"
CLIENT = "client"
ROLES: tuple[str, str] = (COUNSELOR, CLIENT)
"""The two roles every measure is computed for; any other label counts only as speech."""

InterruptionKind = Literal["interruption", "overlap_attempt", "terminal_overlap"]


# ---------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------


def _ms(value: float | None) -> float | None:
    """Round to milliseconds (3 decimals) for JSON; ``None`` stays ``None``."""
    return None if value is None else round(value, 3) + 0.0


def _ms0(value: float) -> float:
    return round(value, 3) + 0.0


@dataclass(frozen=True)
class Stretch:
    """One role's speech joined across short pauses: a floor turn or a backchannel."""

    start: float
    end: float
    role: str
    text: str
    """The role's transcribed words inside the stretch (may be empty)."""
    n_words: int
    backchannel: bool

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RoleMetrics:
    """Talk-time and turn measures of one role."""

    speech_s: float
    share: float
    turns: int
    median_turn_s: float | None
    mean_turn_s: float | None
    longest_turn_s: float
    words: int
    word_share: float
    words_per_minute: float | None
    backchannels: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "speech_s": _ms0(self.speech_s),
            "share": _ms0(self.share),
            "turns": self.turns,
            "median_turn_s": _ms(self.median_turn_s),
            "mean_turn_s": _ms(self.mean_turn_s),
            "longest_turn_s": _ms0(self.longest_turn_s),
            "words": self.words,
            "word_share": _ms0(self.word_share),
            "words_per_minute": _ms(self.words_per_minute),
            "backchannels": self.backchannels,
        }


@dataclass(frozen=True)
class InterruptionEvent:
    """A floor turn that began while the other role was speaking.

    ``start`` is the onset of the overlapping turn, ``end`` the moment the
    simultaneous talk ends (the earlier of the two turns' ends).
    """

    start: float
    end: float
    interrupter: str
    interrupted: str
    kind: InterruptionKind

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _ms0(self.start),
            "end": _ms0(self.end),
            "interrupter": self.interrupter,
            "interrupted": self.interrupted,
            "kind": self.kind,
        }


def _rate_per_10min(count: int, duration_s: float) -> float | None:
    return None if duration_s <= 0 else count * 600.0 / duration_s


@dataclass(frozen=True)
class Interruptions:
    """Interruptions and overlap attempts by direction.

    ``events`` lists interruptions and overlap attempts in time order; terminal
    overlaps (the overlapped speaker was finishing anyway) are only counted.
    """

    counselor_interrupts_client: int
    client_interrupts_counselor: int
    counselor_interrupts_client_per_10min: float | None
    client_interrupts_counselor_per_10min: float | None
    overlap_attempts_by_counselor: int
    overlap_attempts_by_client: int
    terminal_overlaps: int
    events: tuple[InterruptionEvent, ...]

    @property
    def overlap_attempts(self) -> int:
        return self.overlap_attempts_by_counselor + self.overlap_attempts_by_client

    def to_dict(self) -> dict[str, Any]:
        return {
            "counselor_interrupts_client": self.counselor_interrupts_client,
            "client_interrupts_counselor": self.client_interrupts_counselor,
            "counselor_interrupts_client_per_10min": _ms(
                self.counselor_interrupts_client_per_10min
            ),
            "client_interrupts_counselor_per_10min": _ms(
                self.client_interrupts_counselor_per_10min
            ),
            "overlap_attempts": self.overlap_attempts,
            "overlap_attempts_by_counselor": self.overlap_attempts_by_counselor,
            "overlap_attempts_by_client": self.overlap_attempts_by_client,
            "terminal_overlaps": self.terminal_overlaps,
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class BackchannelEvent:
    start: float
    end: float
    role: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _ms0(self.start),
            "end": _ms0(self.end),
            "role": self.role,
            "text": self.text,
        }


@dataclass(frozen=True)
class Backchannels:
    counselor: int
    client: int
    events: tuple[BackchannelEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "counselor": self.counselor,
            "client": self.client,
            "events": [e.to_dict() for e in self.events],
        }


@dataclass(frozen=True)
class Sentence:
    """A sentence of one utterance, timed by its first and last word."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Latency:
    """Median gap of clean floor switches, by direction (``None`` when there were none)."""

    counselor_to_client_s: float | None
    client_to_counselor_s: float | None
    counselor_to_client_count: int
    client_to_counselor_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "counselor_to_client_s": _ms(self.counselor_to_client_s),
            "client_to_counselor_s": _ms(self.client_to_counselor_s),
            "counselor_to_client_count": self.counselor_to_client_count,
            "client_to_counselor_count": self.client_to_counselor_count,
        }


@dataclass(frozen=True)
class TimeWindow:
    start: float
    end: float
    client_share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _ms0(self.start),
            "end": _ms0(self.end),
            "client_share": _ms(self.client_share),
        }


@dataclass(frozen=True)
class TimeCourse:
    window_s: float
    step_s: float
    windows: tuple[TimeWindow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": _ms0(self.window_s),
            "step_s": _ms0(self.step_s),
            "windows": [w.to_dict() for w in self.windows],
        }


@dataclass(frozen=True)
class SessionMetrics:
    """Every measure of one session; :meth:`to_dict` is its JSON form."""

    duration_s: float
    counselor: RoleMetrics
    client: RoleMetrics
    talk_ratio_client_to_counselor: float | None
    overlap_s: float
    silence_s: float
    other_speech_s: float
    longest_counselor_monologue_s: float
    counselor_turns_over_60s: int
    monologue_threshold_s: float
    interruptions: Interruptions
    backchannels: Backchannels
    behaviour: BehaviourSummary
    """Estimated MI codes counted over the session (questions, reflections, input, change talk)."""
    coded_turns: tuple[CodedTurn, ...]
    """Every counselor and client floor turn with its estimated MI codes, in time order."""
    latency: Latency
    time_course: TimeCourse

    @property
    def reflection_to_question_ratio(self) -> float | None:
        """Estimated counselor reflections per question; ``None`` without questions."""
        return self.behaviour.reflection_to_question_ratio

    def role(self, role: str) -> RoleMetrics:
        """Return the measures of ``"counselor"`` or ``"client"``."""
        if role == COUNSELOR:
            return self.counselor
        if role == CLIENT:
            return self.client
        raise ValueError(f"unknown role {role!r}; expected 'counselor' or 'client'")

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": _ms0(self.duration_s),
            "counselor": self.counselor.to_dict(),
            "client": self.client.to_dict(),
            "talk_ratio_client_to_counselor": _ms(self.talk_ratio_client_to_counselor),
            "overlap_s": _ms0(self.overlap_s),
            "silence_s": _ms0(self.silence_s),
            "other_speech_s": _ms0(self.other_speech_s),
            "longest_counselor_monologue_s": _ms0(self.longest_counselor_monologue_s),
            "counselor_turns_over_60s": self.counselor_turns_over_60s,
            "monologue_threshold_s": _ms0(self.monologue_threshold_s),
            "interruptions": self.interruptions.to_dict(),
            "backchannels": self.backchannels.to_dict(),
            "behaviour": self.behaviour.to_dict(),
            "coded_turns": [t.to_dict() for t in self.coded_turns],
            "reflection_to_question_ratio": _ms(self.reflection_to_question_ratio),
            "latency": self.latency.to_dict(),
            "time_course": self.time_course.to_dict(),
        }


# ---------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Return the lowercase words of ``text`` without punctuation.

    Apostrophes and hyphens inside a word are kept (``"you're"``, ``"mm-hmm"``);
    curly apostrophes become straight ones.

    >>> tokenize(" Mm-hmm, you\u2019re RIGHT.")
    ['mm-hmm', "you're", 'right']
    """
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


@functools.cache
def _phrases(phrases: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(t for t in (tuple(tokenize(p)) for p in phrases) if t)


def _starts_with(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    return tuple(tokens[: len(phrase)]) == phrase


def _contains(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1))


def all_in_lexicon(tokens: Sequence[str], lexicon: Sequence[str]) -> bool:
    """Whether ``tokens`` (non-empty) split entirely into entries of ``lexicon``.

    Multi-word entries (``"i see"``) must appear as a whole.
    """
    if not tokens:
        return False
    entries = _phrases(tuple(lexicon))
    reachable = [False] * (len(tokens) + 1)
    reachable[0] = True
    for i in range(len(tokens)):
        if reachable[i]:
            for entry in entries:
                if _starts_with(tokens[i:], entry):
                    reachable[i + len(entry)] = True
    return reachable[-1]


def is_short_response(
    duration_s: float, tokens: Sequence[str], *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> bool:
    """Whether a stretch is short enough to be a backchannel.

    With transcribed words: fewer than ``backchannel_max_words`` words, or only
    words from ``backchannel_lexicon``. Without words: shorter than
    ``backchannel_max_s``.
    """
    if tokens:
        return len(tokens) < config.backchannel_max_words or all_in_lexicon(
            tokens, config.backchannel_lexicon
        )
    return duration_s < config.backchannel_max_s


class _Words:
    """A role's words ordered by midpoint, to find those inside a stretch."""

    def __init__(self, words: Iterable[SpeakerWord]) -> None:
        # ties broken by the word itself, not input order: the text of a stretch (which
        # the MI coder reads) must not depend on the order utterances were given in
        # (identical words may keep either order: the final index only avoids comparing them)
        pairs = sorted(
            ((w.start + w.end) / 2, w.start, w.end, w.text, w.probability, i, w)
            for i, w in enumerate(words)
        )
        self.mids = [p[0] for p in pairs]
        self.words = [p[-1] for p in pairs]

    def between(self, start: float, end: float) -> list[SpeakerWord]:
        lo = bisect.bisect_left(self.mids, start)
        hi = bisect.bisect_right(self.mids, end)
        return self.words[lo:hi]


def _words_by_role(utterances: Sequence[Utterance]) -> dict[str, _Words]:
    return {
        role: _Words(w for u in utterances for w in u.words if w.speaker == role) for role in ROLES
    }


def word_count(utterances: Sequence[Utterance], role: str) -> int:
    """Return the number of words (tokens, see :func:`tokenize`) attributed to ``role``."""
    return sum(len(tokenize(w.text)) for u in utterances for w in u.words if w.speaker == role)


# ---------------------------------------------------------------------------
# Speech, overlap, silence
# ---------------------------------------------------------------------------


def speech_intervals(turns: Sequence[Turn], speaker: str) -> list[Interval]:
    """Return when ``speaker`` speaks: the union of its turns."""
    return union((t.start, t.end) for t in turns if t.speaker == speaker)


def speech_seconds(turns: Sequence[Turn], speaker: str) -> float:
    """Return how long ``speaker`` speaks, counting overlapping turns once."""
    return total(speech_intervals(turns, speaker))


def overlap_seconds(turns: Sequence[Turn]) -> float:
    """Return the time during which at least two different speakers speak."""
    speakers = sorted({t.speaker for t in turns})
    return covered_by_at_least([speech_intervals(turns, s) for s in speakers], 2)


def silence_seconds(turns: Sequence[Turn], *, duration_s: float) -> float:
    """Return the time in ``[0, duration_s]`` during which nobody speaks."""
    spoken = total(clip(union((t.start, t.end) for t in turns), 0.0, duration_s))
    return max(duration_s - spoken, 0.0)


def _share(part: float, other: float) -> float:
    whole = part + other
    return part / whole if whole > 0 else 0.0


# ---------------------------------------------------------------------------
# Stretches: floor turns and backchannels
# ---------------------------------------------------------------------------


def _other(role: str) -> str:
    return CLIENT if role == COUNSELOR else COUNSELOR


def _join(
    segments: Sequence[Interval],
    gap_s: float,
    blockers: Sequence[float],
    *,
    yielded: Callable[[Interval, float], bool] | None = None,
) -> list[Interval]:
    """Join consecutive segments whose pause is shorter than ``gap_s``.

    A pause is not bridged when one of the sorted ``blockers`` (onsets of the
    other role's floor turns) falls inside it, ends included, or when
    ``yielded(stretch so far, end of the pause)`` says the speaker gave up the
    floor there (:func:`_yielding`).
    """
    out: list[Interval] = []
    for start, end in segments:
        if out:
            prev_start, prev_end = out[-1]
            i = bisect.bisect_left(blockers, prev_end)
            blocked = i < len(blockers) and blockers[i] <= start
            blocked = blocked or (yielded is not None and yielded(out[-1], start))
            if start - prev_end < gap_s and not blocked:
                out[-1] = (prev_start, end)
                continue
        out.append((start, end))
    return out


def _yielding(
    words: _Words, talked_through: _Speech, config: MetricsConfig
) -> Callable[[Interval, float], bool]:
    """The test :func:`_join` asks at each pause: did a speaker whose floor turn so far is
    ``stretch`` yield in the pause from its end to ``resume``? Yes when the pause lasts
    ``yield_pause_s`` or more, one segment
    of ``talked_through`` (the other role's speech inside its floor turns) spans all
    of it, and the turn so far is long enough to hold the floor on its own.

    The last condition keeps a diarization that breaks the interrupter's first
    words into slivers (the interrupted voice heard between them) from cutting
    the interrupter's turn into backchannels.
    """

    def yielded(stretch: Interval, resume: float) -> bool:
        start, end = stretch
        if resume - end < config.yield_pause_s:
            return False
        k = bisect.bisect_right(talked_through.starts, end) - 1
        if k < 0 or talked_through.ends[k] < resume:
            return False
        return not _short(words, start, end, config)

    return yielded


def _short(words: _Words, start: float, end: float, config: MetricsConfig) -> bool:
    """Whether the stretch ``[start, end]`` with the role's ``words`` is short
    (:func:`is_short_response`)."""
    tokens = [t for w in words.between(start, end) for t in tokenize(w.text)]
    return is_short_response(end - start, tokens, config=config)


class _Speech:
    """One role's speech (a union) with its starts and ends, for bisection."""

    def __init__(self, segments: list[Interval]) -> None:
        self.segments = segments
        self.starts = [s for s, _ in segments]
        self.ends = [e for _, e in segments]


def _sandwiched(start: float, end: float, own: _Speech, other: _Speech) -> bool:
    """Whether the other role speaks both just before and just after ``[start, end]``.

    "Just" means with no speech of the own role in between. Only called when
    ``[start, end]`` does not overlap the other role's speech.
    """
    i = bisect.bisect_right(other.ends, start) - 1
    j = bisect.bisect_left(other.starts, end)
    if i < 0 or j >= len(other.starts):
        return False
    k = bisect.bisect_right(own.ends, start) - 1
    if k >= 0 and own.ends[k] > other.ends[i]:
        return False
    m = bisect.bisect_left(own.starts, end)
    return not (m < len(own.starts) and own.starts[m] < other.starts[j])


def _classify(
    spans: dict[str, list[Interval]],
    speech: dict[str, _Speech],
    words: dict[str, _Words],
    config: MetricsConfig,
) -> list[Stretch]:
    out = []
    for role in ROLES:
        own, other = speech[role], speech[_other(role)]
        for start, end in spans[role]:
            inside = words[role].between(start, end)
            short = _short(words[role], start, end, config)
            context = overlap_length(other.segments, start, end) > 0 or _sandwiched(
                start, end, own, other
            )
            out.append(_stretch(start, end, role, inside, backchannel=short and context))
    out.sort(key=lambda s: (s.start, s.end, s.role))
    return out


def _stretch(
    start: float, end: float, role: str, inside: Sequence[SpeakerWord], *, backchannel: bool
) -> Stretch:
    """The stretch ``[start, end]`` of ``role`` with ``inside``, the role's words in it."""
    return Stretch(
        start=start,
        end=end,
        role=role,
        text=" ".join(w.text.strip() for w in inside),
        n_words=sum(len(tokenize(w.text)) for w in inside),
        backchannel=backchannel,
    )


def floor_stretches(
    turns: Sequence[Turn],
    utterances: Sequence[Utterance],
    *,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> tuple[Stretch, ...]:
    """Return the counselor's and client's stretches in time order, each classified.

    1. Each role's speech (the union of its turns) is joined across pauses
       shorter than ``merge_gap_s``, and each stretch is classified (below).
    2. The joining is redone, except across a pause in which the other role
       begins a floor turn found in step 1, or one of ``yield_pause_s`` or more
       that the other role talks all through in such a floor turn (the speaker
       yielded there); the result is classified again.

    3. With ``cut_off_tails`` (the default), a cut-off tail is joined back
       (:func:`_rejoin_cut_off_tails`).

    A stretch is a *backchannel* when it is short (:func:`is_short_response`,
    judged on the role's words whose midpoint lies in the stretch) and it does
    not take the floor: it overlaps the other role's speech, or the other role
    spoke last before it and speaks next after it. Otherwise it is a floor turn.
    """
    speech = {role: _Speech(speech_intervals(turns, role)) for role in ROLES}
    words = _words_by_role(utterances)
    first = _classify(
        {role: _join(speech[role].segments, config.merge_gap_s, ()) for role in ROLES},
        speech,
        words,
        config,
    )
    floors = {
        role: [(s.start, s.end) for s in first if s.role == role and not s.backchannel]
        for role in ROLES
    }
    spans = {
        role: _join(
            speech[role].segments,
            config.merge_gap_s,
            [start for start, _ in floors[_other(role)]],
            yielded=_yielding(
                words[role],
                _Speech(_within(speech[_other(role)].segments, floors[_other(role)])),
                config,
            ),
        )
        for role in ROLES
    }
    second = _classify(spans, speech, words, config)
    return tuple(_rejoin_cut_off_tails(second, words, config) if config.cut_off_tails else second)


def _within(segments: Sequence[Interval], spans: Sequence[Interval]) -> list[Interval]:
    """The ``segments`` that lie inside one of the sorted ``spans`` (each segment of a
    role's speech lies wholly inside one of its stretches, or outside all)."""
    starts = [start for start, _ in spans]
    out = []
    for start, end in segments:
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and end <= spans[i][1]:
            out.append((start, end))
    return out


SWITCH_TOLERANCE_S = 0.02
"""A floor turn that starts at most this long after the other role's speech stops
starts *at* its end: about one frame of the segmentation model (17 ms). A speaker
change that the diarization places with no pause has exactly touching bounds."""


def _rejoin_cut_off_tails(
    stretches: list[Stretch], words: dict[str, _Words], config: MetricsConfig
) -> list[Stretch]:
    """Join each cut-off tail back into the floor turn it was split from.

    A *cut-off tail* is a backchannel of role A, at least
    ``cut_off_tail_min_s`` long, that starts ``cut_off_tail_min_gap_s`` or more
    but less than ``merge_gap_s`` after A's floor turn, inside a floor turn of
    B that began right where A stopped (no pause: :data:`SWITCH_TOLERANCE_S`). Step 2 of
    :func:`floor_stretches` split it off because B's onset fell in A's pause,
    but what it shows is A still talking when both speak: the usual way a
    one-microphone diarization renders an interruption is to switch to B up
    to a second too early (giving A's last words to B) and to hear A again
    only where the voices overlap. Counted as A's backchannel, it made the
    interruption disappear and a false backchannel appear
    (``docs/metrics.md``, "Cut-off tails"). A listener response after a
    switch with a pause (``A ... | pause | B ... [A: mm-hmm]``) stays a
    backchannel.
    """
    floor_turns = {
        role: sorted((s.start, s.end) for s in stretches if s.role == role and not s.backchannel)
        for role in ROLES
    }
    out: list[Stretch] = []
    latest: dict[str, int] = {}  # index in ``out`` of each role's latest stretch
    for s in stretches:
        k = latest.get(s.role)
        if s.backchannel and k is not None and _cut_off_tail(out[k], s, floor_turns, config):
            a = out[k]
            end = max(a.end, s.end)
            inside = words[a.role].between(a.start, end)
            out[k] = _stretch(a.start, end, a.role, inside, backchannel=False)
            continue
        latest[s.role] = len(out)
        out.append(s)
    return out


def _cut_off_tail(
    floor: Stretch,
    tail: Stretch,
    floor_turns: dict[str, list[Interval]],
    config: MetricsConfig,
) -> bool:
    """Whether ``tail`` is a cut-off tail of ``floor`` (:func:`_rejoin_cut_off_tails`):
    the other role's floor turn starts where ``floor`` ends and is still going when
    ``tail`` starts, ``cut_off_tail_min_gap_s`` or more but less than ``merge_gap_s``
    later, and ``tail`` lasts ``cut_off_tail_min_s`` or more."""
    if floor.backchannel or tail.duration_s < config.cut_off_tail_min_s:
        return False
    if not config.cut_off_tail_min_gap_s <= tail.start - floor.end < config.merge_gap_s:
        return False
    turns = floor_turns[_other(floor.role)]
    i = bisect.bisect_left(turns, (floor.end - SWITCH_TOLERANCE_S,))
    return (
        i < len(turns)
        and turns[i][0] <= floor.end + SWITCH_TOLERANCE_S
        and tail.start < turns[i][1]
    )


# ---------------------------------------------------------------------------
# Interruptions
# ---------------------------------------------------------------------------


TRAILING_OFF: tuple[str, ...] = ("...", "…", "-", "—", "–")
"""Word endings with which ASR marks speech that breaks off: never a completion."""


def _ends_unit(text: str, marks: str) -> bool:
    """Whether a word's text ends a unit: its last non-quote character is one of ``marks``
    and it does not trail off (``...``, a dash)."""
    stripped = text.strip().rstrip("\"'”’)]")
    if not stripped or stripped.endswith(TRAILING_OFF):
        return False
    return stripped[-1] in marks


UNPUNCTUATED_WORDS = 8
"""This many words of a turn without any punctuation mean the ASR is not punctuating
(Whisper sometimes drops punctuation on noisy or reverberant audio)."""


def _punctuated(text: str) -> bool:
    return any(mark in text for mark in ".?!,;:…-")


def completed_before(
    words: Sequence[SpeakerWord],
    onset: float,
    *,
    since: float,
    until: float | None = None,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> bool | None:
    """Whether the words said before ``onset`` end at a completion point.

    ``words`` are the overlapped speaker's, sorted by start. The last word that
    starts after ``since`` (the start of the speaker's turn) and before
    ``onset + completion_lookahead_s`` decides: it completes a unit when its
    text ends in one of ``completion_marks`` (ASR punctuation) and does not
    trail off (``...``, a dash). One exception: when the speaker's speech goes
    on until ``until`` (the end of their turn), more than
    ``completion_max_trailing_s`` after that word, the speaker did not stop at
    that completion point: Whisper tends to close a cut-off sentence with a
    period and to leave the fragment out, or to give the fragment to the
    other speaker. ``None`` when no deciding word exists, or when the turn's
    words up to it are :data:`UNPUNCTUATED_WORDS` or more without any
    punctuation (the ASR is not punctuating): the completion cannot be judged.
    """
    starts = [w.start for w in words]
    i = bisect.bisect_left(starts, onset + config.completion_lookahead_s) - 1
    if i < 0 or words[i].start < since:
        return None
    first = bisect.bisect_left(starts, since)
    said = words[first : i + 1]
    if len(said) >= UNPUNCTUATED_WORDS and not any(_punctuated(w.text) for w in said):
        return None  # the ASR is not punctuating this speech: completion cannot be judged
    if until is not None and until - words[i].end > config.completion_max_trailing_s:
        return False  # more speech followed: cut off, not finishing
    return _ends_unit(words[i].text, config.completion_marks)


def _overlap_onset(b: Stretch, a: Stretch, a_speech: _Speech) -> float | None:
    """Where B's floor turn ``b`` starts to overlap A's floor turn ``a``; ``None`` if it
    does not start inside it.

    B's onset itself when it lies strictly inside A's speech. When it lies in a
    pause of A's turn (a cut-off tail joined back, :func:`_rejoin_cut_off_tails`),
    the voices overlap from where A goes on talking over B.
    """
    i = bisect.bisect_right(a_speech.starts, b.start) - 1
    if i >= 0 and a_speech.starts[i] < b.start < a_speech.ends[i]:
        return b.start
    if not a.start < b.start < a.end or i + 1 >= len(a_speech.starts):
        return None
    resumed = a_speech.starts[i + 1]
    return resumed if resumed < min(a.end, b.end) else None


def interruption_events(
    stretches: Sequence[Stretch],
    turns: Sequence[Turn],
    *,
    words: Sequence[SpeakerWord] = (),
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
) -> tuple[InterruptionEvent, ...]:
    """Classify every floor turn that starts while the other role is speaking.

    A floor turn of B whose onset lies strictly inside A's speech (the union of
    A's turns), or in a pause of A's floor turn after which A talks over B (a
    cut-off tail, :func:`_rejoin_cut_off_tails`; the event then starts where
    the voices overlap), where A is holding a floor turn (not backchannelling), is judged
    by A's ``held_s`` (how long A's turn goes on after B's onset) and, under the
    ``"completion"`` rule (the default), by where the cut falls in A's words
    (:func:`completed_before`, on the ``words`` whose speaker is A's role):

    * cut off before A completed a unit (the last word before the onset has no
      sentence-final punctuation): an ``interruption`` if A's turn ends within
      ``yield_window_s`` of B's onset and B is still speaking then, however
      short the overlap (competitive overlap is usually resolved within a
      syllable or two: Schegloff 2000); otherwise an ``overlap_attempt``;
    * at or just before a completion point: a ``terminal_overlap`` (a turn
      transition) if A stops within ``yield_window_s``, else an
      ``overlap_attempt`` (A went on and kept the floor).

    Under the ``"timing"`` rule, and under ``"completion"`` when A has no
    transcribed words in the turn before the onset, held_s alone decides: a
    ``terminal_overlap`` below ``terminal_overlap_s``, an ``interruption`` up to
    ``yield_window_s`` (B still speaking when A stops), else an ``overlap_attempt``.
    """
    speech = {role: _Speech(speech_intervals(turns, role)) for role in ROLES}
    by_role = {
        role: sorted((s for s in stretches if s.role == role), key=lambda s: s.start)
        for role in ROLES
    }
    by_role_starts = {role: [s.start for s in by_role[role]] for role in ROLES}
    words_of = {
        role: sorted((w for w in words if w.speaker == role), key=lambda w: (w.start, w.end))
        for role in ROLES
    }
    events = []
    for b in sorted(stretches, key=lambda s: (s.start, s.end, s.role)):
        if b.backchannel or b.role not in ROLES:
            continue
        a_role = _other(b.role)
        j = bisect.bisect_right(by_role_starts[a_role], b.start) - 1
        if j < 0:
            continue  # A has not spoken yet
        a = by_role[a_role][j]
        onset = _overlap_onset(b, a, speech[a_role])
        if a.backchannel or onset is None:
            continue
        held_s = a.end - b.start
        yielded = held_s <= config.yield_window_s
        complete = (
            completed_before(words_of[a_role], b.start, since=a.start, until=a.end, config=config)
            if config.interruption_rule == "completion"
            else None
        )
        kind: InterruptionKind
        if complete is True:
            kind = "terminal_overlap" if yielded else "overlap_attempt"
        elif complete is False:
            kind = "interruption" if yielded and b.end > a.end else "overlap_attempt"
        elif held_s < config.terminal_overlap_s:
            kind = "terminal_overlap"
        elif yielded and b.end > a.end:
            kind = "interruption"
        else:
            kind = "overlap_attempt"
        events.append(
            InterruptionEvent(
                start=onset,
                end=min(a.end, b.end),
                interrupter=b.role,
                interrupted=a_role,
                kind=kind,
            )
        )
    return tuple(events)


def summarize_interruptions(
    events: Sequence[InterruptionEvent], *, duration_s: float
) -> Interruptions:
    """Count ``events`` by direction and kind; rates are per 10 minutes of recording."""

    def count(interrupter: str, kind: str) -> int:
        return sum(1 for e in events if e.interrupter == interrupter and e.kind == kind)

    c_on_cl = count(COUNSELOR, "interruption")
    cl_on_c = count(CLIENT, "interruption")
    return Interruptions(
        counselor_interrupts_client=c_on_cl,
        client_interrupts_counselor=cl_on_c,
        counselor_interrupts_client_per_10min=_rate_per_10min(c_on_cl, duration_s),
        client_interrupts_counselor_per_10min=_rate_per_10min(cl_on_c, duration_s),
        overlap_attempts_by_counselor=count(COUNSELOR, "overlap_attempt"),
        overlap_attempts_by_client=count(CLIENT, "overlap_attempt"),
        terminal_overlaps=sum(1 for e in events if e.kind == "terminal_overlap"),
        events=tuple(e for e in events if e.kind != "terminal_overlap"),
    )


# ---------------------------------------------------------------------------
# Response latency
# ---------------------------------------------------------------------------


def response_latencies(stretches: Sequence[Stretch]) -> dict[str, list[float]]:
    """Return the gaps of clean floor switches, keyed ``"counselor_to_client"`` and
    ``"client_to_counselor"``.

    For each floor turn, the floor turn (of either role) that started before it
    and ends latest is the one it follows. If that turn is the other role's and
    ends strictly before this one starts, the gap is a latency in the direction
    other → this role. Overlapping switches and ties between roles are skipped.
    """
    floor = sorted((s for s in stretches if not s.backchannel), key=lambda s: s.start)
    gaps: dict[str, list[float]] = {f"{a}_to_{_other(a)}": [] for a in ROLES}
    latest_end = -math.inf
    latest_roles: set[str] = set()
    i = 0
    while i < len(floor):
        group_start = floor[i].start
        j = i
        while j < len(floor) and floor[j].start == group_start:
            s = floor[j]
            if latest_roles == {_other(s.role)} and s.start > latest_end:
                gaps[f"{_other(s.role)}_to_{s.role}"].append(s.start - latest_end)
            j += 1
        for s in floor[i:j]:
            if s.end > latest_end:
                latest_end, latest_roles = s.end, {s.role}
            elif s.end == latest_end:
                latest_roles.add(s.role)
        i = j
    return gaps


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------
# Time course
# ---------------------------------------------------------------------------


def time_course(
    turns: Sequence[Turn], *, duration_s: float, window_s: float = 300.0, step_s: float = 60.0
) -> TimeCourse:
    """Return the client's share of the two roles' speech in sliding windows.

    Windows ``[k * step_s, k * step_s + window_s)`` for k = 0, 1, ... until a
    window reaches ``duration_s``; that last one is cut at ``duration_s`` and may
    be short. A recording shorter than ``window_s`` gets one window covering it.
    ``client_share`` is ``None`` in a window without counselor or client speech.
    """
    if window_s <= 0 or step_s <= 0:
        raise ValueError("window_s and step_s must be positive")
    counselor = speech_intervals(turns, COUNSELOR)
    client = speech_intervals(turns, CLIENT)
    windows = []
    k = 0
    while duration_s > 0:
        start = k * step_s
        end = min(start + window_s, duration_s)
        c = overlap_length(counselor, start, end)
        cl = overlap_length(client, start, end)
        share = cl / (c + cl) if c + cl > 0 else None
        windows.append(TimeWindow(start=start, end=end, client_share=share))
        if start + window_s >= duration_s:
            break
        k += 1
    return TimeCourse(window_s=window_s, step_s=step_s, windows=tuple(windows))


# ---------------------------------------------------------------------------
# Counselor speech acts (lexical estimates)
# ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.?!][\"')\]]*$")


def split_sentences(utterance: Utterance) -> tuple[Sentence, ...]:
    """Split an utterance into sentences after words ending in ``.``, ``?`` or ``!``.

    A trailing run of words without such an ending is a sentence too.
    """
    sentences = []
    current: list[SpeakerWord] = []
    for word in utterance.words:
        current.append(word)
        if _SENTENCE_END.search(word.text.rstrip()):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return tuple(
        Sentence(start=s[0].start, end=s[-1].end, text=" ".join(w.text.strip() for w in s))
        for s in sentences
    )


def is_question(text: str) -> bool:
    """Whether ``text`` ends with a question mark (closing quotes and brackets ignored)."""
    return text.rstrip().rstrip("\"')]").endswith("?")


def has_advice_cue(text: str, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG) -> bool:
    """Whether ``text`` contains one of ``advice_cues`` ("you should", "i suggest", ...)."""
    tokens = tokenize(text)
    return any(_contains(tokens, p) for p in _phrases(config.advice_cues))


def is_reflection_candidate(text: str, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG) -> bool:
    """Whether a counselor sentence looks like a reflection.

    It must not be a question nor contain an advice cue, and must contain one
    of ``reflection_stems`` anywhere or start with one of ``reflection_openers``.
    """
    if is_question(text) or has_advice_cue(text, config=config):
        return False
    tokens = tokenize(text)
    return any(_contains(tokens, p) for p in _phrases(config.reflection_stems)) or any(
        _starts_with(tokens, p) for p in _phrases(config.reflection_openers)
    )


Coder = Callable[[Sequence[tuple[str, str]]], Sequence[UtteranceCode]]
"""Codes ``(role, text)`` talk turns in time order (see :mod:`pipeline.mi_codes`)."""


def coding_units(stretches: Sequence[Stretch]) -> list[Stretch]:
    """The talk turns the MI coder codes: each role's floor turns, merged until the other
    role takes the floor.

    Backchannels are left out, and a role's consecutive floor turns (split by a
    long pause, or by the other role's backchannel) become one unit, so that a
    unit is what :func:`floor_stretches` can find reliably in any recording:
    the stretch from one change of floor to the next. Short listener responses
    in a pause are often diarized as the speaker's own voice (a 0.6 s
    "Mm-hmm" carries little speaker information), so units split at them
    would depend on the recording. The norms and the score
    (``scripts/build_norms.py``) group AnnoMI's utterances the same way
    (docs/evidence.md, "Units").
    """
    units: list[Stretch] = []
    for s in sorted(stretches, key=lambda s: (s.start, s.end, s.role)):
        if s.role not in ROLES or s.backchannel:
            continue
        if units and units[-1].role == s.role:
            last = units[-1]
            units[-1] = replace(
                last,
                end=max(last.end, s.end),
                text=" ".join(t for t in (last.text, s.text) if t),
                n_words=last.n_words + s.n_words,
            )
        else:
            units.append(s)
    return units


def code_turns(stretches: Sequence[Stretch], *, coder: Coder) -> tuple[CodedTurn, ...]:
    """Code every counselor and client unit (:func:`coding_units`) in time order."""
    units = coding_units(stretches)
    codes = coder([(u.role, u.text) for u in units])
    if len(codes) != len(units):
        raise ValueError(f"the coder returned {len(codes)} codes for {len(units)} turns")
    return tuple(
        CodedTurn(u.start, u.end, u.role, u.text, u.n_words, code)
        for u, code in zip(units, codes, strict=True)
    )


def default_coder() -> Coder:
    """The packaged MI coder (``models/``), loaded once per process."""
    from models.loaders import load_mi_coder

    return functools.partial(code_utterances, coder=load_mi_coder())


# ---------------------------------------------------------------------------
# Everything together
# ---------------------------------------------------------------------------


def _checked_turns(turns: Sequence[Turn], duration_s: float) -> list[Turn]:
    """Validate turns and cut them to ``[0, duration_s]``, dropping what lies outside."""
    out = []
    for t in turns:
        if not (math.isfinite(t.start) and math.isfinite(t.end)):
            raise ValueError(f"turn {t} has a time that is not a finite number")
        if t.end < t.start:
            raise ValueError(f"turn {t} ends before it starts")
        start, end = max(t.start, 0.0), min(t.end, duration_s)
        if end >= start:
            out.append(Turn(start=start, end=end, speaker=t.speaker))
    return out


def _role_metrics(
    role: str,
    speech: dict[str, float],
    words: dict[str, int],
    stretches: Sequence[Stretch],
) -> RoleMetrics:
    other = _other(role)
    durations = [s.duration_s for s in stretches if s.role == role and not s.backchannel]
    speech_s = speech[role]
    return RoleMetrics(
        speech_s=speech_s,
        share=_share(speech_s, speech[other]),
        turns=len(durations),
        median_turn_s=_median(durations),
        mean_turn_s=statistics.fmean(durations) if durations else None,
        longest_turn_s=max(durations, default=0.0),
        words=words[role],
        word_share=_share(words[role], words[other]),
        words_per_minute=words[role] / (speech_s / 60.0) if speech_s > 0 else None,
        backchannels=sum(1 for s in stretches if s.role == role and s.backchannel),
    )


def compute_metrics(
    turns: Sequence[Turn],
    utterances: Sequence[Utterance],
    *,
    duration_s: float,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    coder: Coder | None = None,
) -> SessionMetrics:
    """Compute every measure of one session.

    Parameters
    ----------
    turns
        Overlap-aware speech turns whose ``speaker`` is a role: ``"counselor"``,
        ``"client"`` or another label (counted as speech, overlap and silence
        only). Any order; may touch, overlap or have zero length. Parts outside
        ``[0, duration_s]`` are ignored.
    utterances
        Transcript stretches with words whose ``speaker`` is a role.
    duration_s
        Length of the recording in seconds.
    config
        Thresholds; see :class:`~pipeline.metrics_config.MetricsConfig`.
    coder
        Codes the units of :func:`coding_units` with MI behaviour; the packaged MI coder
        by default.

    Raises
    ------
    ValueError
        If ``duration_s`` is negative or not finite, or a turn ends before it starts.
    """
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s!r}")
    turns = _checked_turns(turns, duration_s)
    speech = {role: speech_seconds(turns, role) for role in ROLES}
    words = {role: word_count(utterances, role) for role in ROLES}
    stretches = floor_stretches(turns, utterances, config=config)
    counselor = _role_metrics(COUNSELOR, speech, words, stretches)
    client = _role_metrics(CLIENT, speech, words, stretches)
    counselor_turns = [s for s in stretches if s.role == COUNSELOR and not s.backchannel]
    latencies = response_latencies(stretches)
    coded = code_turns(stretches, coder=coder if coder is not None else default_coder())
    return SessionMetrics(
        duration_s=duration_s,
        counselor=counselor,
        client=client,
        talk_ratio_client_to_counselor=(
            speech[CLIENT] / speech[COUNSELOR] if speech[COUNSELOR] > 0 else None
        ),
        overlap_s=overlap_seconds(turns),
        silence_s=silence_seconds(turns, duration_s=duration_s),
        other_speech_s=total(union((t.start, t.end) for t in turns if t.speaker not in ROLES)),
        longest_counselor_monologue_s=counselor.longest_turn_s,
        counselor_turns_over_60s=sum(
            1 for s in counselor_turns if s.duration_s > config.monologue_s
        ),
        monologue_threshold_s=config.monologue_s,
        interruptions=summarize_interruptions(
            interruption_events(
                stretches,
                turns,
                words=[w for u in utterances for w in u.words],
                config=config,
            ),
            duration_s=duration_s,
        ),
        backchannels=Backchannels(
            counselor=counselor.backchannels,
            client=client.backchannels,
            events=tuple(
                BackchannelEvent(s.start, s.end, s.role, s.text) for s in stretches if s.backchannel
            ),
        ),
        behaviour=summarize_behaviour(coded),
        coded_turns=coded,
        latency=Latency(
            counselor_to_client_s=_median(latencies["counselor_to_client"]),
            client_to_counselor_s=_median(latencies["client_to_counselor"]),
            counselor_to_client_count=len(latencies["counselor_to_client"]),
            client_to_counselor_count=len(latencies["client_to_counselor"]),
        ),
        time_course=time_course(
            turns, duration_s=duration_s, window_s=config.window_s, step_s=config.step_s
        ),
    )
