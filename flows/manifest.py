"""Which recordings make a cohort: a manifest CSV or a folder, checked before any audio runs.

A manifest has one row per session::

    session_id,trainee_id,audio_path[,cohort,session_date,counselor_hint,channels,speakers]

``audio_path`` (and an enrollment path in ``counselor_hint``) may be relative to
the manifest's folder. ``counselor_hint`` is ``first`` (the counselor speaks
first), ``left`` or ``right`` (a stereo recording with the counselor on that
channel), or a path to a recording of the counselor's voice alone.
``channels`` overrides the cohort's ``--channels`` for one stereo recording:
``auto`` (decide from the audio), ``mix`` (analyze the voices mixed down) or
``split`` (one party per channel).
``speakers`` overrides the cohort's ``--speakers`` for one recording: ``2``
(the two parties only) or ``2-3`` (the two parties and perhaps one more voice,
for a recording the diarization check flagged with another voice: an
introduction read by someone else, an interpreter, a relative in the room).

A folder is scanned recursively for audio and video files: ``session_id`` is
the file's stem and ``trainee_id`` the name of its parent folder (``unknown``
for files directly in the folder).

Every problem (missing columns, empty or duplicate ids, missing files, bad
hints, dates, channels or speakers) is collected and raised together as one
:class:`ManifestError`, so a user fixes the manifest once instead of once per
problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.channels import ChannelsOption
from pipeline.errors import AnalyzerError
from pipeline.session import SPEAKERS_OPTIONS, SpeakersOption, SpeechOptions, speaker_bounds

REQUIRED_COLUMNS = ("session_id", "trainee_id", "audio_path")
OPTIONAL_COLUMNS = ("cohort", "session_date", "counselor_hint", "channels", "speakers")
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".flac",
        ".webm",
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".avi",
        ".wma",
        ".amr",
        ".3gp",
    }
)
UNKNOWN_TRAINEE = "unknown"
_SAFE_ID = re.compile(r"^\w[\w .@+-]*$")
"""A session id names an output folder: word characters, then also spaces and . @ + -."""
CHANNEL_HINTS = ("left", "right")
CHANNEL_MODES: tuple[ChannelsOption, ...] = ("auto", "mix", "split")


class ManifestError(AnalyzerError):
    """The manifest or folder cannot be scored as it is; the message lists every problem."""

    def __init__(self, source: str | Path, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = f"{len(problems)} problem" + ("" if len(problems) == 1 else "s")
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {count}; nothing was processed:\n{lines}")


@dataclass(frozen=True)
class SessionSpec:
    """One session of a cohort, as the manifest (or folder) names it."""

    session_id: str
    trainee_id: str
    audio_path: Path
    cohort: str | None = None
    session_date: str | None = None
    counselor_hint: str | None = None
    """``first``, ``left``, ``right``, or the absolute path of an enrollment recording."""
    channels: ChannelsOption | None = None
    """This session's stereo handling; None keeps the cohort's."""
    speakers: SpeakersOption | None = None
    """``2`` or ``2-3`` (:func:`pipeline.session.speaker_bounds`); None keeps the cohort's."""

    def speech_options(self, base: SpeechOptions) -> SpeechOptions:
        """The model settings for this session: ``base`` plus its channels, speakers and hint."""
        if self.channels is not None:
            base = replace(base, channels=self.channels)
        if self.speakers is not None:
            bounds = speaker_bounds(self.speakers)
            base = replace(
                base,
                num_speakers=bounds["num_speakers"],
                min_speakers=bounds["min_speakers"],
                max_speakers=bounds["max_speakers"],
            )
        if self.counselor_hint in CHANNEL_HINTS:
            return replace(base, counselor_channel=self.counselor_hint)  # type: ignore[arg-type]
        if self.counselor_hint not in (None, "first"):
            return replace(base, enrollment=self.counselor_hint)
        return base

    @property
    def counselor_first(self) -> bool:
        """Whether the hint says the counselor speaks first."""
        return self.counselor_hint == "first"


def _check_id(value: str, column: str, where: str, problems: list[str]) -> None:
    if not value:
        problems.append(f"{where}: {column} is empty")
    elif column == "session_id" and (not _SAFE_ID.match(value) or value.endswith(" ")):
        problems.append(
            f"{where}: session_id {value!r} may hold only letters, digits, spaces and . _ - @ + "
            "and must start with a letter or digit (it names an output folder)"
        )


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def _url_problem(base: Path, value: str, column: str, where: str) -> str | None:
    """A value that reads as a URL or an FFmpeg protocol (``http:``, ``concat:``, ``subfile:``).

    Recordings are always opened as local files (:func:`pipeline.audio.open_local`);
    such a value names no local file, so it is refused instead of reported as missing.
    """
    if _URL_LIKE.match(value) and not _resolve(base, value).is_file():
        scheme = value.split(":", 1)[0]
        return (
            f"{where}: {column} {value!r} looks like a URL or an FFmpeg protocol ({scheme}:); "
            "only local files are read: give the path of a file on this machine"
        )
    return None


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _channels(
    value: str | None, hint: str | None, where: str, problems: list[str]
) -> ChannelsOption | None:
    """The ``channels`` column: one of :data:`CHANNEL_MODES`, and no mix with a named channel."""
    if value is None:
        return None
    mode = next((m for m in CHANNEL_MODES if m == value.lower()), None)
    if mode is None:
        problems.append(f"{where}: channels {value!r} is not one of {', '.join(CHANNEL_MODES)}")
    elif mode == "mix" and hint in CHANNEL_HINTS:
        problems.append(
            f"{where}: channels 'mix' contradicts counselor_hint {hint!r} "
            "(a named channel means one party per channel): drop one of them"
        )
    return mode


_DATE_LIKE = re.compile(r"[A-Za-z/]|^\d{4}-\d{2}-\d{2}$")
"""What a spreadsheet may have made of ``2-3`` (``3-Feb``, ``2/3/2025``, ``2025-02-03``)."""


def _speakers(value: str | None, where: str, problems: list[str]) -> SpeakersOption | None:
    """The ``speakers`` column: one of :data:`pipeline.session.SPEAKERS_OPTIONS`."""
    if value is None:
        return None
    choice = next((s for s in SPEAKERS_OPTIONS if s == re.sub(r"\s+", "", value)), None)
    if choice is None:
        problem = (
            f"{where}: speakers {value!r} is not one of {', '.join(SPEAKERS_OPTIONS)} "
            "(2: the two parties only; 2-3: the two parties and perhaps one more voice; "
            "empty: the cohort's --speakers)"
        )
        if _DATE_LIKE.search(value):
            problem += "; a spreadsheet may have turned 2-3 into a date: format the column as text"
        problems.append(problem)
    return choice


def read_manifest(path: str | Path) -> list[SessionSpec]:
    """Parse and validate a manifest CSV; raise :class:`ManifestError` listing every problem."""
    manifest = Path(path)
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [(name or "").strip() for name in reader.fieldnames or []]
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ManifestError(manifest, [f"cannot read the manifest: {error}"]) from error
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ManifestError(
            manifest,
            [
                f"missing required column(s): {', '.join(missing)} "
                f"(found: {', '.join(header) or 'none'})"
            ],
        )
    problems: list[str] = []
    unknown = [c for c in header if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    base = manifest.resolve().parent
    sessions: list[SessionSpec] = []
    first_row: dict[str, int] = {}
    for line, raw in rows:
        extra = raw.pop(None, None)
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()) and not extra:
            continue
        where = f"line {line}"
        if extra:
            problems.append(
                f"{where}: {len(extra)} more field(s) than the header has columns "
                "(quote values that contain commas)"
            )
        session_id, trainee_id = row.get("session_id", ""), row.get("trainee_id", "")
        _check_id(session_id, "session_id", where, problems)
        _check_id(trainee_id, "trainee_id", where, problems)
        if session_id in first_row:
            problems.append(
                f"{where}: duplicate session_id {session_id!r} "
                f"(first on line {first_row[session_id]})"
            )
        elif session_id:
            first_row[session_id] = line
        audio = row.get("audio_path", "")
        audio_path = _resolve(base, audio) if audio else base
        url_problem = _url_problem(base, audio, "audio_path", where) if audio else None
        if not audio:
            problems.append(f"{where}: audio_path is empty")
        elif url_problem is not None:
            problems.append(url_problem)
        elif not audio_path.is_file():
            what = "is not a regular file" if audio_path.exists() else "not found"
            problems.append(f"{where}: audio file {what}: {audio}")
        date = row.get("session_date") or None
        if date is not None:
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                problems.append(f"{where}: session_date {date!r} is not a date like 2025-03-31")
        hint = row.get("counselor_hint") or None
        if hint is not None and hint not in ("first", *CHANNEL_HINTS):
            enrollment = _resolve(base, hint)
            hint_url = _url_problem(base, hint, "counselor_hint", where)
            if hint_url is not None:
                problems.append(hint_url)
            elif not enrollment.is_file():
                problems.append(
                    f"{where}: counselor_hint {hint!r} is neither first, left, right "
                    "nor an existing enrollment recording"
                )
            hint = str(enrollment)
        channels = _channels(row.get("channels") or None, hint, where, problems)
        speakers = _speakers(row.get("speakers") or None, where, problems)
        if speakers == "2-3" and (channels == "split" or hint in CHANNEL_HINTS):
            problems.append(
                f"{where}: speakers '2-3' cannot go with one party per channel (channels split "
                "or a left/right counselor_hint): each channel's talk is its party's; use "
                "channels mix to set a third voice apart"
            )
        sessions.append(
            SessionSpec(
                session_id=session_id,
                trainee_id=trainee_id,
                audio_path=audio_path,
                cohort=row.get("cohort") or None,
                session_date=date,
                counselor_hint=hint,
                channels=channels,
                speakers=speakers,
            )
        )
    if not sessions and not problems:
        problems.append("the manifest lists no sessions")
    if problems:
        raise ManifestError(manifest, problems)
    return sessions


def scan_folder(folder: str | Path) -> list[SessionSpec]:
    """Every audio or video file under ``folder`` as a session; raise on clashing ids."""
    root = Path(folder).resolve()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    problems: list[str] = []
    seen: dict[str, Path] = {}
    sessions: list[SessionSpec] = []
    for path in files:
        relative = path.relative_to(root)
        session_id = path.stem
        trainee_id = path.parent.name if path.parent != root else UNKNOWN_TRAINEE
        _check_id(session_id, "session_id", str(relative), problems)
        _check_id(trainee_id, "trainee_id", str(relative), problems)
        if session_id in seen:
            problems.append(
                f"{relative}: session_id {session_id!r} is also "
                f"{seen[session_id].relative_to(root)}; "
                "rename one or list them in a manifest"
            )
        seen.setdefault(session_id, path)
        sessions.append(SessionSpec(session_id, trainee_id, path))
    if not files:
        problems.append(f"no audio or video files found ({', '.join(sorted(AUDIO_EXTENSIONS))})")
    if problems:
        raise ManifestError(root, problems)
    return sessions


def load_sessions(source: str | Path) -> list[SessionSpec]:
    """Sessions from a manifest CSV file or a folder of recordings, fully validated."""
    path = Path(source)
    if path.is_dir():
        return scan_folder(path)
    if path.is_file():
        return read_manifest(path)
    raise ManifestError(path, ["no such manifest file or folder"])
