"""Write a session's output files from its ``session.json`` document, each atomically.

Every file derives from the document alone, so a rescored document (roles
corrected) rewrites all of them consistently without running a model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.document import speech_from_document
from pipeline.export import to_rttm, to_srt, to_vtt
from pipeline.report import render_html, render_markdown
from pipeline.schema import validate_document

SESSION_FILE = "session.json"
SRT_FILE = "transcript.srt"
VTT_FILE = "transcript.vtt"
RTTM_FILE = "diarization.rttm"
HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A failed write (a full disk, an interruption) leaves neither a partial
    ``path`` nor the temporary file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, removed on failure
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(text)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    """Pretty-printed UTF-8 JSON, written atomically."""
    return write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def read_document(directory: str | Path) -> dict[str, Any]:
    """The validated ``session.json`` of an output directory."""
    document: dict[str, Any] = json.loads((Path(directory) / SESSION_FILE).read_text("utf-8"))
    validate_document(document)
    return document


def write_outputs(document: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Validate the document, then write it and every file derived from it.

    ``session.json`` is written last, so a directory holding it is complete.
    """
    validate_document(document)
    out = Path(out_dir)
    diarization, utterances = speech_from_document(document)
    roles = document["roles"]
    role_of = {roles["counselor"]: "Counselor", roles["client"]: "Client"}

    def label(speaker: str) -> str:
        return role_of.get(speaker, speaker)

    uri = Path(document["audio"]["file_name"]).stem
    paths = {
        "srt": write_atomic(out / SRT_FILE, to_srt(utterances, label=label)),
        "vtt": write_atomic(out / VTT_FILE, to_vtt(utterances, label=label)),
        "rttm": write_atomic(out / RTTM_FILE, to_rttm(diarization.turns, uri=uri)),
        "html": write_atomic(out / HTML_FILE, render_html(dict(document))),
        "markdown": write_atomic(out / MARKDOWN_FILE, render_markdown(dict(document))),
    }
    paths["session"] = write_json(out / SESSION_FILE, document)
    return paths
