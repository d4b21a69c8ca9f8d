"""``OUT_DIR/status.json``: where a session stands, for anyone polling the folder.

The contract (the web app polls it)::

    {"stage": "queued|decoding|transcribing|diarizing|scoring|done|failed",
     "updated_at": "2026-01-01T12:00:00+00:00", "error": null, "session_sha256": "..."}

It is rewritten atomically (a temporary file and a rename) at every stage.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any, Literal

STATUS_FILE = "status.json"
Stage = Literal["queued", "decoding", "transcribing", "diarizing", "scoring", "done", "failed"]
STAGES: tuple[Stage, ...] = (
    "queued",
    "decoding",
    "transcribing",
    "diarizing",
    "scoring",
    "done",
    "failed",
)

MODEL_STAGES = ("decode", "transcribe", "diarize", "enroll", "fill-transcript", "attribute")
"""Session-flow tasks whose cached results mean no model ran (shared by audio and settings)."""


def one_line(error: BaseException | str) -> str:
    """An error as one line: its message, or its type when the message is empty."""
    text = str(error).strip()
    if isinstance(error, BaseException) and not text:
        text = type(error).__name__
    return " ".join(text.split())


def read_status(out_dir: str | Path) -> dict[str, Any] | None:
    """The last ``status.json`` written to ``out_dir``, or ``None`` when absent or unreadable."""
    try:
        status = json.loads((Path(out_dir) / STATUS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def write_status(
    out_dir: str | Path,
    stage: Stage,
    *,
    error: str | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Atomically (re)write ``status.json``; a known sha256 is kept when none is given."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if sha256 is None:
        sha256 = (read_status(out) or {}).get("session_sha256")
    status = {
        "stage": stage,
        "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "error": error,
        "session_sha256": sha256,
    }
    temporary = out / f".{STATUS_FILE}.{os.getpid()}.{threading.get_ident()}"
    # Owner-only: it names the recording's sha256 (and the web app keeps health data).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(status))
    temporary.replace(out / STATUS_FILE)
    return status
