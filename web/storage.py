"""Where uploads and results live on disk, under random ids only.

::

    <data_dir>/sessions/<public_id>/upload/recording.<ext>   the audio (mode 0600)
    <data_dir>/sessions/<public_id>/upload/enrollment.<ext>  optional counselor sample
    <data_dir>/sessions/<public_id>/out/                     session.json, report.html, ...
    <data_dir>/tmp/                                          partial uploads

No name a user sends ever becomes part of a path: the original file name is
kept, cleaned, in the database for display only.
"""

from __future__ import annotations

import re
import secrets
import shutil
import unicodedata
from pathlib import Path

PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_NAME_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def new_public_id() -> str:
    """A random, URL-safe id of 128 bits (22 characters)."""
    return secrets.token_urlsafe(16)


def display_name(raw: str | bytes | None) -> str:
    """A user's file name made safe to show: no directories, control characters or excess.

    Undecodable bytes become U+FFFD; the result is at most ``MAX_NAME_CHARS``
    characters, keeping the extension, and never empty.
    """
    if raw is None:
        return "recording"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _CONTROL.sub("", text)
    # Bidi overrides and isolates, zero-width and other invisible format characters
    # (Unicode category Cf), line/paragraph separators, surrogates and private use:
    # they can make "exe.wav" display as "vaw.exe" or hide characters.
    text = "".join(c for c in text if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)
    text = text.strip().lstrip(".")
    if not text:
        return "recording"
    if len(text) > MAX_NAME_CHARS:
        _stem, dot, ext = text.rpartition(".")
        suffix = f".{ext}" if dot and len(ext) <= 16 else ""
        text = text[: MAX_NAME_CHARS - len(suffix) - 1] + "…" + suffix
    return text


class Storage:
    """The data directory's layout."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve()
        self.sessions = self.root / "sessions"
        self.tmp = self.root / "tmp"
        for directory in (self.root, self.sessions, self.tmp):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def session_dir(self, public_id: str) -> Path:
        """The directory of one recording; refuses anything but a well-formed id."""
        if not PUBLIC_ID.match(public_id):
            raise ValueError("malformed session id")
        return self.sessions / public_id

    def upload_dir(self, public_id: str) -> Path:
        """Where the recording and its enrollment sample are kept."""
        return self.session_dir(public_id) / "upload"

    def out_dir(self, public_id: str) -> Path:
        """Where the analysis writes its outputs and status.json."""
        return self.session_dir(public_id) / "out"

    def temporary_file(self) -> Path:
        """A fresh path for a partial upload."""
        return self.tmp / f"upload-{secrets.token_hex(16)}.part"

    def make_session_dir(self, public_id: str) -> Path:
        """Create the directories of a new recording (owner-only permissions)."""
        for directory in (self.session_dir(public_id), self.upload_dir(public_id)):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.out_dir(public_id).mkdir(mode=0o700, exist_ok=True)
        return self.session_dir(public_id)

    def remove_session(self, public_id: str) -> None:
        """Delete the recording's audio and every derived file."""
        shutil.rmtree(self.session_dir(public_id), ignore_errors=True)

    def session_folders(self) -> list[Path]:
        """Every folder under ``sessions/`` named like a public id."""
        return [p for p in self.sessions.iterdir() if p.is_dir() and PUBLIC_ID.match(p.name)]

    def clean_tmp(self) -> None:
        """Remove partial uploads left behind by a crash."""
        for path in self.tmp.glob("upload-*.part"):
            path.unlink(missing_ok=True)
