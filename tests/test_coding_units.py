"""The unit the MI coder codes: the same in a recording and in the AnnoMI text behind the norms.

A counselor's talk from one change of floor to the next, backchannels left
out (docs/evidence.md, "Units"). On recordings the units come from floor
stretches (:func:`pipeline.measures.coding_units`); on AnnoMI's text from its
utterances (``scripts/build_norms.py``, :func:`floor_units`). If the two
disagreed, the score would judge a recording against norms of another unit:
that is what made a voiced expert-rated good session come out ``no``.
"""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.measures import Stretch, coding_units, floor_stretches
from pipeline.types import SpeakerWord, Turn, Utterance
from tests.conftest import script_module

C, CL = "counselor", "client"


@pytest.fixture(scope="module")
def norms_script() -> ModuleType:
    return script_module("build_norms")


def stretch(
    start: float, end: float, role: str, text: str, *, backchannel: bool = False
) -> Stretch:
    return Stretch(start, end, role, text, len(text.split()), backchannel)


def test_units_merge_a_role_until_the_other_takes_the_floor() -> None:
    stretches = [
        stretch(0.0, 4.0, C, "so tell me more"),
        stretch(4.5, 5.0, CL, "mm-hmm", backchannel=True),
        stretch(5.5, 9.0, C, "about your week"),
        stretch(10.5, 12.0, C, "and the weekend"),  # after a long pause: still the counselor's
        stretch(12.5, 20.0, CL, "it was hard"),
        stretch(14.0, 14.4, C, "yeah", backchannel=True),
        stretch(21.0, 23.0, C, "hard how"),
    ]
    units = coding_units(stretches)
    assert [(u.role, u.start, u.end, u.text, u.n_words) for u in units] == [
        (C, 0.0, 12.0, "so tell me more about your week and the weekend", 10),
        (CL, 12.5, 20.0, "it was hard", 3),
        (C, 21.0, 23.0, "hard how", 2),
    ]


def test_units_skip_other_labels_and_keep_empty_turns() -> None:
    stretches = [
        stretch(0.0, 1.0, "SPEAKER_02", "hello there"),
        stretch(1.0, 3.0, C, ""),
        stretch(3.5, 6.0, C, "okay then"),
    ]
    assert [(u.role, u.text, u.n_words) for u in coding_units(stretches)] == [(C, "okay then", 2)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([C, CL]), st.integers(0, 6), st.booleans()),
        max_size=30,
    )
)
def test_units_alternate_roles_and_keep_every_floor_word(
    plan: list[tuple[str, int, bool]],
) -> None:
    stretches = [
        stretch(2.0 * i, 2.0 * i + 1.5, role, " ".join(["w"] * n), backchannel=bc)
        for i, (role, n, bc) in enumerate(plan)
    ]
    units = coding_units(stretches)
    assert all(a.role != b.role for a, b in itertools.pairwise(units))
    assert sum(u.n_words for u in units) == sum(s.n_words for s in stretches if not s.backchannel)
    assert all(u.start <= u.end for u in units)


def _row(annomi: ModuleType, uid: int, who: str, text: str, **labels: str) -> Any:
    return annomi.AnnoMIUtterance(
        transcript_id=7,
        mi_quality="high",
        utterance_id=uid,
        interlocutor=who,
        timestamp=f"00:00:{2 * uid:02d}",
        text=text,
        labels=annomi.AnnoMILabels(**labels),
    )


SCRIPT: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("therapist", "What brings you in today?", {"question": "open"}),
    ("client", "My drinking, I suppose, has been getting out of hand lately.", {"client_talk": "change"}),
    ("therapist", "Mm-hmm.", {}),
    ("client", "And my wife is worried about it.", {"client_talk": "neutral"}),
    ("therapist", "Your wife has noticed too.", {"reflection": "simple"}),
    ("client", "Yeah.", {"client_talk": "neutral"}),
    ("therapist", "You could try cutting down on weekdays.", {"therapist_input": "advice"}),
    ("client", "I don't think that would work for me at all.", {"client_talk": "sustain"}),
)  # fmt: skip


def test_annomi_units_drop_sandwiched_short_replies_and_merge_the_rest(
    annomi: ModuleType, norms_script: ModuleType
) -> None:
    rows = [_row(annomi, i, who, text, **labels) for i, (who, text, labels) in enumerate(SCRIPT)]
    units = norms_script.floor_units(rows)
    assert [[r.utterance_id for r in u] for u in units] == [[0], [1, 3], [4, 6], [7]]
    codes = norms_script.expert_codes(rows)
    assert sorted(codes) == [(7, 0), (7, 1), (7, 4), (7, 7)]
    assert codes[7, 4].reflection == "simple"
    assert codes[7, 4].therapist_input == "advice"
    assert codes[7, 1].client_talk == "change"  # change and neutral once each: the first
    inputs = norms_script.transcript_inputs(rows, codes)
    assert inputs.behaviour.counselor_turns == 2
    assert inputs.behaviour.counselor_words == 5 + 5 + 7  # "Mm-hmm." is no unit
    # talk shares count every word, backchannels included: client 11 + 7 + 1 + 10
    assert inputs.client_share == 29 / (29 + 5 + 1 + 5 + 7)


def test_a_recording_of_a_transcript_gives_the_transcripts_units(
    annomi: ModuleType, norms_script: ModuleType
) -> None:
    """The same dialogue as text and as timed speech: the same units, the same texts."""
    rows = [_row(annomi, i, who, text, **labels) for i, (who, text, labels) in enumerate(SCRIPT)]
    turns, utterances, t = [], [], 0.0
    for r in rows:
        tokens = r.text.split()
        role = C if r.interlocutor == "therapist" else CL
        words = tuple(
            SpeakerWord(t + 0.3 * i, t + 0.3 * (i + 1), " " + w, 0.9, role)
            for i, w in enumerate(tokens)
        )
        utterances.append(Utterance(words[0].start, words[-1].end, role, words))
        turns.append(Turn(t, t + 0.3 * len(tokens), role))
        t += 0.3 * len(tokens) + 0.6
    units = coding_units(floor_stretches(turns, utterances))
    expected = norms_script.floor_units(rows)
    assert [u.role for u in units] == [u[0].role for u in expected]
    assert [u.text for u in units] == [norms_script.unit_text(u) for u in expected]
