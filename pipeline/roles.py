"""Which diarized speaker is the counselor and which the client.

Diarization only says ``SPEAKER_00`` and ``SPEAKER_01``. Roles come from a
hint when the user has one (an explicit speaker, "the counselor speaks
first", a stereo channel, an enrollment recording of the counselor's voice)
or, by default, from conversational and linguistic cues: counselors ask more
questions, reflect ("it sounds like..."), say "you" more than "I", and tend
to open and close the session.

Talk time is deliberately *not* a cue: it is the measure under study, and
using it would make a counselor-led session look client-led.

Only the two speakers with the most speech get roles; any others are
reported as ``other`` with a warning. The confidence is the probability the
cue model gives to its choice (0.5 = a coin toss); below
``LOW_CONFIDENCE`` the output says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.intervals import total, union
from pipeline.measures import is_question, is_reflection_candidate, split_sentences, tokenize
from pipeline.types import Turn, Utterance

COUNSELOR = "counselor"
CLIENT = "client"
OTHER = "other"
LOW_CONFIDENCE = 0.6
MIN_ENROLLMENT_SIMILARITY = 0.3

Method = Literal["auto", "explicit", "first-speaker", "channel", "enrollment"]

SECOND_PERSON = frozenset(
    {"you", "your", "yours", "yourself", "you're", "you've", "you'll", "you'd"}
)
FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'll", "i'd"})

# Weights of the auto cues (log-odds per unit of cue difference), set on the
# synthesized dialogues and checked on the real sample call: see docs/metrics.md.
CUE_WEIGHTS: Mapping[str, float] = {
    "question_rate": 4.0,
    "reflection_rate": 4.0,
    "pronoun_balance": 1.5,
    "opens": 0.5,
    "closes": 0.5,
}


@dataclass(frozen=True)
class RoleHint:
    """What the user told us about roles; ``method="auto"`` when nothing."""

    method: Method = "auto"
    counselor: str | None = None
    similarities: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleAssignment:
    """Speaker labels of the counselor and the client, with how sure we are."""

    counselor: str | None
    client: str | None
    method: Method
    confidence: float
    others: tuple[str, ...] = ()
    cues: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def role_of(self, speaker: str) -> str:
        if speaker == self.counselor:
            return COUNSELOR
        if speaker == self.client:
            return CLIENT
        return OTHER

    def to_dict(self) -> dict[str, Any]:
        return {
            "counselor": self.counselor,
            "client": self.client,
            "method": self.method,
            "confidence": round(self.confidence, 3),
            "others": list(self.others),
            "cues": dict(self.cues),
            "warnings": list(self.warnings),
        }


def speakers_by_speech(turns: Sequence[Turn]) -> list[str]:
    """Speakers ordered by speech time, most first (ties by label)."""
    speech = {
        s: total(union((t.start, t.end) for t in turns if t.speaker == s))
        for s in {t.speaker for t in turns}
    }
    return sorted(speech, key=lambda s: (-speech[s], s))


def speaker_cues(utterances: Sequence[Utterance], speaker: str) -> dict[str, float]:
    """Per-speaker linguistic rates in [0, 1] (pronoun balance in [-1, 1])."""
    sentences = [s.text for u in utterances if u.speaker == speaker for s in split_sentences(u)]
    tokens = [t for u in utterances if u.speaker == speaker for t in tokenize(u.text)]
    n = max(len(sentences), 1)
    you = sum(t in SECOND_PERSON for t in tokens)
    me = sum(t in FIRST_PERSON for t in tokens)
    return {
        "question_rate": sum(map(is_question, sentences)) / n,
        "reflection_rate": sum(map(is_reflection_candidate, sentences)) / n,
        "pronoun_balance": (you - me) / (you + me) if you + me else 0.0,
    }


def _first_and_last(turns: Sequence[Turn], pair: Sequence[str]) -> tuple[str | None, str | None]:
    ordered = sorted((t for t in turns if t.speaker in pair), key=lambda t: (t.start, t.end))
    if not ordered:
        return None, None
    last = max(ordered, key=lambda t: t.end)
    return ordered[0].speaker, last.speaker


def _auto(
    turns: Sequence[Turn], utterances: Sequence[Utterance], a: str, b: str
) -> tuple[str, float, dict[str, Any]]:
    """Cue model: log-odds that ``a`` is the counselor; returns (counselor, confidence, cues)."""
    cues_a, cues_b = speaker_cues(utterances, a), speaker_cues(utterances, b)
    first, last = _first_and_last(turns, (a, b))
    differences = {name: cues_a[name] - cues_b[name] for name in cues_a}
    differences["opens"] = 1.0 if first == a else -1.0
    differences["closes"] = 1.0 if last == a else -1.0
    log_odds = sum(CUE_WEIGHTS[name] * value for name, value in differences.items())
    p_a = 1.0 / (1.0 + math.exp(-log_odds))
    counselor = a if p_a >= 0.5 else b
    report = {
        "per_speaker": {
            a: {k: round(v, 3) for k, v in cues_a.items()},
            b: {k: round(v, 3) for k, v in cues_b.items()},
        },
        "first_speaker": first,
        "last_speaker": last,
        "log_odds": round(log_odds if counselor == a else -log_odds, 3),
    }
    return counselor, max(p_a, 1.0 - p_a), report


def _enrollment(
    similarities: Mapping[str, float], a: str, b: str
) -> tuple[str | None, float, list[str]]:
    known = {s: similarities[s] for s in (a, b) if s in similarities}
    if not known:
        return None, 0.0, ["enrollment: neither speaker has enough clean speech to compare"]
    counselor = max(known, key=lambda s: known[s])
    best = known[counselor]
    runner_up = max((v for s, v in known.items() if s != counselor), default=-1.0)
    # The margin between the two speakers drives confidence; 0.2 of cosine is a clear gap.
    confidence = 0.5 + 0.5 * math.tanh((best - runner_up) / 0.1)
    warnings = []
    if best < MIN_ENROLLMENT_SIMILARITY:
        confidence = min(confidence, 0.5)
        warnings.append(
            f"enrollment: the counselor's voice matches no speaker well (best similarity {best:.2f})"
        )
    return counselor, confidence, warnings


def assign_roles(
    turns: Sequence[Turn], utterances: Sequence[Utterance], *, hint: RoleHint = RoleHint()
) -> RoleAssignment:
    """Map diarized speakers to counselor and client.

    Parameters
    ----------
    turns
        Overlap-aware diarization turns (speaker labels).
    utterances
        Speaker-labelled transcript utterances (for the auto cues).
    hint
        ``explicit`` / ``channel`` with ``counselor`` set; ``first-speaker``;
        ``enrollment`` with per-speaker ``similarities``; or ``auto``.
    """
    ranked = speakers_by_speech(turns)
    warnings: list[str] = []
    if len(ranked) > 2:
        warnings.append(
            f"diarization found {len(ranked)} speakers; kept the two who spoke most and "
            f"reported {', '.join(ranked[2:])} as 'other'"
        )
    if hint.counselor is not None and hint.counselor not in ranked:
        raise ValueError(
            f"speaker {hint.counselor!r} is not in this recording; choose one of {', '.join(sorted(ranked))}"
        )
    if len(ranked) < 2:
        warnings.append(
            "diarization found only one speaker: the session cannot be scored as a dialogue"
        )
        only = ranked[0] if ranked else None
        counselor = hint.counselor if hint.method in ("explicit", "channel") else None
        client = only if counselor is None else None
        return RoleAssignment(counselor, client, hint.method, 0.0, (), {}, tuple(warnings))

    pair = ranked[:2]
    cues: dict[str, Any] = {}
    if hint.method in ("explicit", "channel") and hint.counselor in ranked:
        counselor = hint.counselor
        if counselor not in pair:  # the user named a minor speaker: keep them and the top other
            pair = [counselor, next(s for s in ranked if s != counselor)]
        confidence = 1.0
    elif hint.method == "first-speaker":
        counselor, _ = _first_and_last(turns, pair)
        assert counselor is not None
        confidence = 1.0
    elif hint.method == "enrollment":
        chosen, confidence, enrollment_warnings = _enrollment(hint.similarities, *pair)
        warnings += enrollment_warnings
        cues = {"similarities": dict(hint.similarities)}
        if chosen is None:
            chosen, confidence, cues["auto"] = _auto(turns, utterances, *pair)
        counselor = chosen
    else:
        counselor, confidence, cues = _auto(turns, utterances, *pair)
    client = next(s for s in pair if s != counselor)
    if confidence < LOW_CONFIDENCE:
        warnings.append(
            f"roles are uncertain (confidence {confidence:.0%}): check them and correct with "
            "--counselor SPEAKER_xx if needed"
        )
    others = tuple(s for s in ranked if s not in (counselor, client))
    return RoleAssignment(counselor, client, hint.method, confidence, others, cues, tuple(warnings))


def label_turns(turns: Sequence[Turn], roles: RoleAssignment) -> tuple[Turn, ...]:
    """Turns with their speaker replaced by its role."""
    return tuple(Turn(t.start, t.end, roles.role_of(t.speaker)) for t in turns)


def label_utterances(
    utterances: Sequence[Utterance], roles: RoleAssignment
) -> tuple[Utterance, ...]:
    """Utterances (and their words) with speakers replaced by roles."""
    from dataclasses import replace

    return tuple(
        replace(
            u,
            speaker=roles.role_of(u.speaker),
            words=tuple(replace(w, speaker=roles.role_of(w.speaker)) for w in u.words),
        )
        for u in utterances
    )
