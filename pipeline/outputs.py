"""Write a session's output files, each atomically (never a half-written file)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pipeline.export import to_rttm, to_srt, to_vtt
from pipeline.session import SpeechResult, session_document

SESSION_FILE = "session.json"
SRT_FILE = "transcript.srt"
VTT_FILE = "transcript.vtt"
RTTM_FILE = "diarization.rttm"


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        handle.write(text)
    os.replace(handle.name, path)
    return path


def write_json(path: Path, document: dict[str, Any]) -> Path:
    """Pretty-printed UTF-8 JSON, written atomically."""
    return write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_outputs(result: SpeechResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``session.json``, SRT, VTT and RTTM for one analyzed recording."""
    out = Path(out_dir)
    uri = Path(result.audio.path).stem
    return {
        "session": write_json(out / SESSION_FILE, session_document(result)),
        "srt": write_atomic(out / SRT_FILE, to_srt(result.utterances)),
        "vtt": write_atomic(out / VTT_FILE, to_vtt(result.utterances)),
        "rttm": write_atomic(out / RTTM_FILE, to_rttm(result.diarization.turns, uri=uri)),
    }
