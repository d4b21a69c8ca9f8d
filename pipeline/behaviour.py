"""Session-level MI behaviour from coded talk turns.

Each floor turn of the counselor and the client carries an
:class:`~pipeline.mi_codes.UtteranceCode` (estimated by the MI coder).
:func:`summarize_behaviour` counts them into the rates that separate good from
poor motivational interviewing in expert-rated sessions (``docs/evidence.md``):
reflections per question, therapist input per counselor turn, the share of
change talk among the client's change and sustain talk, and the mean length of
a counselor turn in words.

The same function summarizes the analyzer's own turns at run time and the
expert-rated reference transcripts when the norms are built
(``scripts/build_norms.py``), so the two are comparable by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.mi_codes import UtteranceCode

COUNSELOR = "counselor"
CLIENT = "client"


@dataclass(frozen=True)
class CodedTurn:
    """One floor turn with its words counted and its estimated MI codes."""

    start: float
    end: float
    role: str
    text: str
    n_words: int
    code: UtteranceCode

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 3) + 0.0,
            "end": round(self.end, 3) + 0.0,
            "role": self.role,
            "question": self.code.question,
            "reflection": self.code.reflection,
            "therapist_input": self.code.therapist_input,
            "client_talk": self.code.client_talk,
        }


@dataclass(frozen=True)
class BehaviourSummary:
    """Counts of the estimated MI codes of one session, and the rates built from them."""

    counselor_turns: int
    client_turns: int
    counselor_words: int
    questions: Counter[str]
    """Counselor turns with a question, by form (``open`` / ``closed``)."""
    reflections: Counter[str]
    """Counselor turns with a reflection, by depth (``simple`` / ``complex``)."""
    therapist_input: Counter[str]
    """Counselor turns with therapist input, by kind (``information``, ``advice``, ...)."""
    client_talk: Counter[str]
    """Client turns by talk type (``change`` / ``neutral`` / ``sustain``)."""
    expected: Mapping[str, float]
    """Expected counts: the coder's probabilities summed over turns (``question``,
    ``reflection``, ``therapist_input``, ``change``, ``sustain``); a code without a
    probability counts 1 when present, 0 when absent. Session rates from expected
    counts do not jump at the per-turn decision thresholds, so the score uses them
    ("probabilistic classify and count", Bella et al. 2010)."""

    @property
    def question_total(self) -> int:
        return sum(self.questions.values())

    @property
    def reflection_total(self) -> int:
        return sum(self.reflections.values())

    @property
    def therapist_input_total(self) -> int:
        return sum(self.therapist_input.values())

    @property
    def reflection_to_question_ratio(self) -> float | None:
        """Reflections per question (MITI's R:Q); ``None`` without questions."""
        q = self.question_total
        return self.reflection_total / q if q else None

    @property
    def therapist_input_per_turn(self) -> float | None:
        """Share of counselor turns that give information, advice, options or negotiate."""
        n = self.counselor_turns
        return self.therapist_input_total / n if n else None

    @property
    def change_talk_share(self) -> float | None:
        """Change talk among the client's change and sustain talk; ``None`` without either."""
        change, sustain = self.client_talk["change"], self.client_talk["sustain"]
        return change / (change + sustain) if change + sustain else None

    @property
    def mean_counselor_turn_words(self) -> float | None:
        n = self.counselor_turns
        return self.counselor_words / n if n else None

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4) + 0.0

        return {
            "estimate": True,
            "counselor_turns": self.counselor_turns,
            "client_turns": self.client_turns,
            "questions": {
                "open": self.questions["open"],
                "closed": self.questions["closed"],
                "total": self.question_total,
            },
            "reflections": {
                "simple": self.reflections["simple"],
                "complex": self.reflections["complex"],
                "total": self.reflection_total,
            },
            "therapist_input": {
                "information": self.therapist_input["information"],
                "advice": self.therapist_input["advice"],
                "options": self.therapist_input["options"],
                "negotiation": self.therapist_input["negotiation"],
                "total": self.therapist_input_total,
            },
            "client_talk": {
                "change": self.client_talk["change"],
                "neutral": self.client_talk["neutral"],
                "sustain": self.client_talk["sustain"],
            },
            "expected": {k: round(v, 3) + 0.0 for k, v in sorted(self.expected.items())},
            "reflection_to_question_ratio": rounded(self.reflection_to_question_ratio),
            "therapist_input_per_turn": rounded(self.therapist_input_per_turn),
            "change_talk_share": rounded(self.change_talk_share),
            "mean_counselor_turn_words": rounded(self.mean_counselor_turn_words),
        }


def _expected(values: Sequence[tuple[float | None, bool]]) -> float:
    return sum(float(present) if p is None else p for p, present in values)


def summarize_behaviour(turns: Sequence[CodedTurn]) -> BehaviourSummary:
    """Count the codes of a session's counselor and client turns (other roles are ignored)."""
    counselor = [t for t in turns if t.role == COUNSELOR]
    client = [t for t in turns if t.role == CLIENT]
    codes = [t.code for t in counselor]
    talk = [t.code for t in client]
    return BehaviourSummary(
        counselor_turns=len(counselor),
        client_turns=len(client),
        counselor_words=sum(t.n_words for t in counselor),
        questions=Counter(t.code.question for t in counselor if t.code.question),
        reflections=Counter(t.code.reflection for t in counselor if t.code.reflection),
        therapist_input=Counter(
            t.code.therapist_input for t in counselor if t.code.therapist_input
        ),
        client_talk=Counter(t.code.client_talk for t in client if t.code.client_talk),
        expected={
            "question": _expected([(c.p_question, c.question is not None) for c in codes]),
            "reflection": _expected([(c.p_reflection, c.reflection is not None) for c in codes]),
            "therapist_input": _expected(
                [(c.p_therapist_input, c.therapist_input is not None) for c in codes]
            ),
            "change": _expected([(c.p_change, c.client_talk == "change") for c in talk]),
            "sustain": _expected([(c.p_sustain, c.client_talk == "sustain") for c in talk]),
        },
    )
