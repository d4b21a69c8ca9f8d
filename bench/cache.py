"""A bench's model results kept on disk between runs, so a rerun only scores."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar, cast

T = TypeVar("T")


def pickled(path: Path, compute: Callable[[], T]) -> T:
    """``compute()``'s result, kept in ``path`` (a pickle): loaded from there when it exists.

    The caller names ``path`` after whatever the result depends on (the audio's
    content, the options, the code), so a stale file is never found.
    """
    if path.is_file():
        return cast(T, pickle.loads(path.read_bytes()))
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result
