"""Read AnnoMI's expert-annotated counselling transcripts (development time only).

AnnoMI (Wu et al., "Anno-MI: A Dataset of Expert-Annotated Counselling
Dialogues", ICASSP 2022; GitHub ``uccollab/AnnoMI``) holds 133 transcripts of
motivational-interviewing demonstration videos, one CSV row per utterance and
annotator. The CSV is not redistributed with this project: every script takes
its path as an argument, and nothing reads it at run time.

Transcripts :data:`RESERVED_TRANSCRIPT_IDS` are reserved for evaluation. They
must never be used to fit, tune, select thresholds or choose features; use
:func:`development_rows` for all of that and :func:`reserved_rows` only for a
one-off held-out evaluation of a final model.

Several annotators: seven transcripts were labelled by all ten annotators
(one row per annotator and utterance). :func:`load_annomi` keeps one row per
utterance and takes each label by majority vote over the annotators (the same
rule AnnoMI's own ``AnnoMI-simple.csv`` follows for its main-behaviour column);
a subtype is voted among the annotators who marked the behaviour as present;
ties go to the value given by the annotator with the lowest id.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RESERVED_TRANSCRIPT_IDS: frozenset[int] = frozenset({4, 9, 37, 54, 87, 106, 115, 118})
"""Transcripts kept for evaluation only (issue 8): never fit, tune or select on them."""

_NA = "n/a"
_REQUIRED_COLUMNS = (
    "mi_quality",
    "transcript_id",
    "utterance_id",
    "interlocutor",
    "timestamp",
    "utterance_text",
)
_LABEL_COLUMNS = (
    "question_exists",
    "question_subtype",
    "reflection_exists",
    "reflection_subtype",
    "therapist_input_exists",
    "therapist_input_subtype",
    "client_talk_type",
)


class AnnoMIFormatError(ValueError):
    """The CSV is not in AnnoMI's format (a column is missing or a value unknown)."""


@dataclass(frozen=True)
class AnnoMILabels:
    """The expert labels of one utterance (``None`` where a label does not apply).

    Counselor utterances carry ``question`` (``"open"``/``"closed"``),
    ``reflection`` (``"simple"``/``"complex"``) and ``therapist_input``
    (``"information"``/``"advice"``/``"options"``/``"negotiation"``), each
    ``None`` when the behaviour is absent; several may be present at once.
    Client utterances carry ``client_talk`` (``"change"``/``"neutral"``/``"sustain"``).
    """

    question: str | None = None
    reflection: str | None = None
    therapist_input: str | None = None
    client_talk: str | None = None


@dataclass(frozen=True)
class AnnoMIUtterance:
    """One utterance of an AnnoMI transcript, with its (majority) expert labels."""

    transcript_id: int
    mi_quality: str  # "high" | "low"
    utterance_id: int
    interlocutor: str  # "therapist" | "client" (AnnoMI's words)
    timestamp: str  # "HH:MM:SS" as in the CSV
    text: str
    labels: AnnoMILabels

    @property
    def role(self) -> str:
        """The analyzer's word for the speaker: ``"counselor"`` or ``"client"``."""
        return "counselor" if self.interlocutor == "therapist" else "client"

    @property
    def reserved(self) -> bool:
        """Whether this utterance belongs to a transcript reserved for evaluation."""
        return self.transcript_id in RESERVED_TRANSCRIPT_IDS


def _vote(values: Sequence[tuple[int, str]]) -> str:
    """Majority over ``(annotator_id, value)``; ties go to the lowest annotator id's value."""
    counts = Counter(value for _, value in values)
    best = max(counts.values())
    tied = {value for value, count in counts.items() if count == best}
    return min((annotator, value) for annotator, value in values if value in tied)[1]


def _subtype(rows: Sequence[Mapping[str, str]], exists: str, subtype: str) -> str | None:
    votes = [(int(row["annotator_id"] or 0), row[exists]) for row in rows]
    if _vote(votes) != "True":
        return None
    present = [
        (int(row["annotator_id"] or 0), row[subtype])
        for row in rows
        if row[exists] == "True" and row[subtype] != _NA
    ]
    if not present:
        raise AnnoMIFormatError(f"{exists} is True but {subtype} is n/a for every annotator")
    return _vote(present)


def _labels(rows: Sequence[Mapping[str, str]]) -> AnnoMILabels:
    if rows[0]["interlocutor"] == "client":
        talk = _vote([(int(row["annotator_id"] or 0), row["client_talk_type"]) for row in rows])
        return AnnoMILabels(client_talk=None if talk == _NA else talk)
    return AnnoMILabels(
        question=_subtype(rows, "question_exists", "question_subtype"),
        reflection=_subtype(rows, "reflection_exists", "reflection_subtype"),
        therapist_input=_subtype(rows, "therapist_input_exists", "therapist_input_subtype"),
    )


def _grouped_rows(path: str | Path) -> dict[tuple[int, int], list[dict[str, str]]]:
    """CSV rows grouped by ``(transcript_id, utterance_id)``, one row per annotator."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        missing = [c for c in (*_REQUIRED_COLUMNS, *_LABEL_COLUMNS) if c not in columns]
        if missing:
            raise AnnoMIFormatError(
                f"{path} lacks AnnoMI column(s) {', '.join(missing)}; pass AnnoMI-full.csv"
            )
        grouped: dict[tuple[int, int], list[dict[str, str]]] = defaultdict(list)
        for row in reader:
            grouped[int(row["transcript_id"]), int(row["utterance_id"])].append(row)
    return grouped


def load_annomi(path: str | Path) -> list[AnnoMIUtterance]:
    """Read ``AnnoMI-full.csv`` (or a table in its format) into one row per utterance.

    Parameters
    ----------
    path
        The CSV file. ``AnnoMI-full.csv`` is expected; ``AnnoMI-simple.csv`` has
        no per-behaviour labels and is rejected.

    Returns
    -------
    list of AnnoMIUtterance
        Sorted by transcript id, then utterance id; reserved transcripts included
        (filter with :func:`development_rows` / :func:`reserved_rows`).

    Raises
    ------
    AnnoMIFormatError
        A required column is missing, or an utterance's rows disagree on its text.
    """
    grouped = _grouped_rows(path)
    utterances = []
    for (transcript_id, utterance_id), rows in sorted(grouped.items()):
        first = rows[0]
        if any(row["utterance_text"] != first["utterance_text"] for row in rows):
            raise AnnoMIFormatError(
                f"transcript {transcript_id} utterance {utterance_id}: annotator rows differ in text"
            )
        if first["interlocutor"] not in ("therapist", "client"):
            raise AnnoMIFormatError(
                f"transcript {transcript_id} utterance {utterance_id}: "
                f"unknown interlocutor {first['interlocutor']!r}"
            )
        utterances.append(
            AnnoMIUtterance(
                transcript_id=transcript_id,
                mi_quality=first["mi_quality"],
                utterance_id=utterance_id,
                interlocutor=first["interlocutor"],
                timestamp=first["timestamp"],
                text=first["utterance_text"],
                labels=_labels(rows),
            )
        )
    return utterances


def development_rows(rows: Iterable[AnnoMIUtterance]) -> list[AnnoMIUtterance]:
    """The rows that may be used to fit, tune and select: reserved transcripts removed."""
    return [row for row in rows if row.transcript_id not in RESERVED_TRANSCRIPT_IDS]


def reserved_rows(rows: Iterable[AnnoMIUtterance]) -> list[AnnoMIUtterance]:
    """The rows of the reserved transcripts, for a one-off held-out evaluation only."""
    return [row for row in rows if row.transcript_id in RESERVED_TRANSCRIPT_IDS]


def by_transcript(rows: Iterable[AnnoMIUtterance]) -> dict[int, list[AnnoMIUtterance]]:
    """Group rows by transcript id (ascending), each transcript in utterance order."""
    grouped: dict[int, list[AnnoMIUtterance]] = defaultdict(list)
    for row in rows:
        grouped[row.transcript_id].append(row)
    return {
        tid: sorted(group, key=lambda r: r.utterance_id) for tid, group in sorted(grouped.items())
    }


def annotator_agreement_pairs(
    path: str | Path,
) -> list[tuple[int, str, AnnoMILabels, AnnoMILabels]]:
    """For a human reference: each annotator's labels against the others' majority.

    Uses the development transcripts that several annotators labelled. Returns
    ``(transcript_id, role, one annotator's labels, majority of the other
    annotators' labels)`` for every annotator of every such utterance.
    """
    pairs = []
    for (transcript_id, _), rows in sorted(_grouped_rows(path).items()):
        if len(rows) < 3 or transcript_id in RESERVED_TRANSCRIPT_IDS:
            continue
        role = "counselor" if rows[0]["interlocutor"] == "therapist" else "client"
        for i, row in enumerate(rows):
            others = rows[:i] + rows[i + 1 :]
            pairs.append((transcript_id, role, _labels([row]), _labels(others)))
    return pairs
