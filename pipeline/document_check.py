"""Check that a ``session.json`` document holds together before anything trusts it.

The JSON Schema (:mod:`pipeline.schema`) checks shapes and types; it cannot
say that an utterance's ``word_range`` lies within the word list, that no time
is beyond the recording's end, or that no number is NaN. A document edited by
hand, cut short on disk or written by a faulty program can pass the schema and
still make a rescore lose every word while the verdict stays ``yes``. Whatever
reads a stored document to compute from it (``rescore``, the web app's role
correction) calls :func:`check_document` first and refuses, with one line
naming every problem, what does not hold together.

Nothing here imports a model; it runs in microseconds per word.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import AnalyzerError

TIME_TOLERANCE_S = 0.5
"""Times may run this far past the declared duration (decoder and model rounding)."""
MAX_PROBLEMS_SHOWN = 5
"""At most this many problems are spelled out in the message; the rest are counted."""

_TIMED_LISTS = ("segments", "exclusive_segments", "words", "utterances")


class InconsistentDocumentError(AnalyzerError):
    """A session document's parts contradict each other (ranges, times, numbers)."""

    def __init__(self, problems: Sequence[str], *, source: str = "session document") -> None:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"{source} does not hold together: {shown}")
        self.problems = tuple(problems)


class DocumentReadError(AnalyzerError):
    """A session document cannot be read: missing, not a file, not JSON."""


def _non_finite(value: Any, where: str) -> Iterator[str]:
    """Paths of every NaN or infinite number inside ``value``."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield f"{where or '(top level)'} is {value}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, f"{where}/{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _non_finite(item, f"{where}/{index}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _interval_problems(rows: Any, name: str, duration_s: float | None) -> Iterator[str]:
    if not isinstance(rows, list):
        return
    limit = None if duration_s is None else duration_s + TIME_TOLERANCE_S
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            yield f"{name}/{index} is not an object"
            continue
        start, end = _number(row.get("start")), _number(row.get("end"))
        if start is None or end is None:
            yield f"{name}/{index} has no numeric start and end"
            continue
        if not (math.isfinite(start) and math.isfinite(end)):
            continue  # reported by the NaN walk
        if start < 0:
            yield f"{name}/{index} starts before 0 s ({start:g} s)"
        if end < start:
            yield f"{name}/{index} ends ({end:g} s) before it starts ({start:g} s)"
        if limit is not None and end > limit:
            yield f"{name}/{index} ends at {end:g} s, after the recording's {duration_s:g} s"


def _word_range_problems(document: Mapping[str, Any]) -> Iterator[str]:
    words, utterances = document.get("words"), document.get("utterances")
    if not isinstance(words, list) or not isinstance(utterances, list):
        return
    count = len(words)
    previous_end = 0
    for index, utterance in enumerate(utterances):
        if not isinstance(utterance, Mapping):
            continue
        word_range = utterance.get("word_range")
        if word_range is None:
            continue
        if (
            not isinstance(word_range, list)
            or len(word_range) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in word_range)
        ):
            yield f"utterances/{index}/word_range is not a pair of integers"
            continue
        first, last = word_range
        if not 0 <= first <= last <= count:
            yield (f"utterances/{index}/word_range [{first}, {last}] is outside the {count} words")
            continue
        if first < previous_end:
            yield f"utterances/{index}/word_range [{first}, {last}] overlaps the one before"
        previous_end = last


def document_problems(document: Any) -> list[str]:
    """Every way ``document`` fails to hold together (empty when it does).

    Checked: the recording's duration is a finite positive number; no number
    anywhere is NaN or infinite; every segment, word and utterance starts at or
    after 0 s, ends no earlier than it starts and no later than the duration
    (plus :data:`TIME_TOLERANCE_S`); every ``word_range`` lies within the word
    list, in order and without overlap; the roles name speakers that occur.
    """
    if not isinstance(document, Mapping):
        return ["the document is not a JSON object"]
    problems = list(_non_finite(document, ""))
    audio = document.get("audio")
    duration_s: float | None = None
    if not isinstance(audio, Mapping):
        problems.append("audio is missing")
    else:
        duration = _number(audio.get("duration_s"))
        if duration is None:
            problems.append("audio/duration_s is not a number")
        elif math.isfinite(duration):
            if duration <= 0:
                problems.append(
                    f"audio/duration_s is {duration:g}; a recording lasts more than 0 s"
                )
            else:
                duration_s = duration
    for name in _TIMED_LISTS:
        problems.extend(_interval_problems(document.get(name), name, duration_s))
    problems.extend(_word_range_problems(document))
    speakers = document.get("speakers")
    roles = document.get("roles")
    if isinstance(speakers, list) and isinstance(roles, Mapping):
        for role in ("counselor", "client"):
            label = roles.get(role)
            if label is not None and label not in speakers:
                problems.append(f"roles/{role} names {label!r}, who is not among the speakers")
    return problems


def check_document(document: Any, *, source: str = "session document") -> None:
    """Raise :class:`InconsistentDocumentError` unless ``document`` holds together.

    Parameters
    ----------
    document
        A parsed ``session.json`` (already validated against the schema, or not).
    source
        How the message names the document, e.g. its path.
    """
    problems = document_problems(document)
    if problems:
        raise InconsistentDocumentError(problems, source=source)


MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
"""A session.json larger than this is refused unread (a 4-hour session is about 10 MB)."""


def read_session_document(
    directory: str | Path, *, file_name: str = "session.json"
) -> dict[str, Any]:
    """Read, validate and check ``DIRECTORY/session.json``, or say in one line why not.

    Raises
    ------
    DocumentReadError
        The folder or the file is missing, not what it should be, unreadable,
        not UTF-8 JSON, or too large.
    pipeline.schema.InvalidDocumentError
        The document does not match the schema (the message names the file).
    InconsistentDocumentError
        The document's parts contradict each other (:func:`check_document`).
    """
    from pipeline.schema import InvalidDocumentError, validate_document

    folder = Path(directory)
    path = folder / file_name
    if not folder.exists():
        raise DocumentReadError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DocumentReadError(f"{folder}: is not a folder; name the output folder of `analyze`")
    if not path.exists():
        raise DocumentReadError(
            f"{folder}: holds no {file_name}; name the output folder of `analyze`"
        )
    if path.is_dir():
        raise DocumentReadError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise DocumentReadError(f"{path}: is not a regular file")
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise DocumentReadError(
                f"{path}: is {path.stat().st_size / 2**20:.0f} MiB, too large to be a session "
                "document"
            )
        document = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise DocumentReadError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DocumentReadError(f"{path}: is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise DocumentReadError(
            f"{path}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise DocumentReadError(f"{path}: is nested too deeply to be a session document") from None
    if not isinstance(document, dict):
        raise DocumentReadError(f"{path}: holds JSON, but not an object")
    try:
        validate_document(document)
    except InvalidDocumentError as error:
        raise InvalidDocumentError(f"{path}: {error}") from None
    except RecursionError:
        raise DocumentReadError(f"{path}: is nested too deeply to be a session document") from None
    check_document(document, source=str(path))
    return document
