"""Rewrite an output folder's files without ever losing the previous ``session.json``.

``rescore`` used to rewrite ``session.json`` in place: a document it misread
came back with every word gone. Now every new file is rendered into a
temporary folder beside the old ones first (a rendering error or a full disk
leaves the folder as it was), the current ``session.json`` is kept as
``session.json.bak``, and the new files are moved into place with
``os.replace``, ``session.json`` last.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.outputs import SESSION_FILE, write_outputs

BACKUP_SUFFIX = ".bak"


def _copy_atomic(source: Path, target: Path) -> None:
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    temporary = Path(name)
    try:
        shutil.copyfile(source, temporary)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)


def replace_outputs(document: Mapping[str, Any], directory: str | Path) -> dict[str, Path]:
    """Write ``document`` and its derived files into ``directory``, keeping a backup.

    Returns the final paths by kind, like :func:`pipeline.outputs.write_outputs`.
    """
    folder = Path(directory)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".rescore-"))
    try:
        staged = write_outputs(document, staging)
        current = folder / SESSION_FILE
        if current.is_file():
            _copy_atomic(current, folder / (SESSION_FILE + BACKUP_SUFFIX))
        final: dict[str, Path] = {}
        for kind, path in sorted(staged.items(), key=lambda item: item[1].name == SESSION_FILE):
            target = folder / path.name
            path.replace(target)
            final[kind] = target
        return {kind: final[kind] for kind in staged}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
