"""Everything the command line can check before any orchestration or model starts.

A bad option, a model name that does not resolve, an input that is not a
readable recording or an output folder that cannot be written is reported in
a fraction of a second, as one line naming the option or the file, instead of
after Prefect's server started (seconds) or after the analysis ran (minutes).
Nothing here imports Prefect, torch or a model.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import importlib.util
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import OptionError

MAX_SPEAKERS = 20
"""Upper bound of ``--num-speakers``/``--max-speakers``: a counseling session, even a group one."""
MAX_THREADS = 1024
MAX_DURATION_LIMIT_S = 24 * 3600.0
"""``--max-duration-s`` may not exceed a day: longer recordings would exhaust memory."""


def folder_argument(text: str) -> Path:
    """argparse ``type=`` for a folder: an empty string is not the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, not an empty string")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return Path(text)


def file_argument(text: str) -> Path:
    """argparse ``type=`` for an input file path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a file, not an empty string")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return Path(text)


def check_speakers(
    *, num_speakers: int | None, min_speakers: int | None, max_speakers: int | None
) -> None:
    """Speaker counts between 1 and :data:`MAX_SPEAKERS`, and ``min <= max``."""
    for option, value in (
        ("--num-speakers", num_speakers),
        ("--min-speakers", min_speakers),
        ("--max-speakers", max_speakers),
    ):
        if value is not None and not 1 <= value <= MAX_SPEAKERS:
            raise OptionError(f"{option} must be between 1 and {MAX_SPEAKERS}, not {value}")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise OptionError(
            f"--min-speakers ({min_speakers}) is more than --max-speakers ({max_speakers})"
        )


def check_threads(threads: int) -> None:
    """``--threads``: 0 (all cores) up to :data:`MAX_THREADS`."""
    if not 0 <= threads <= MAX_THREADS:
        raise OptionError(
            f"--threads must be between 0 (all cores) and {MAX_THREADS}, not {threads}"
        )


def check_max_duration(max_duration_s: float) -> None:
    """``--max-duration-s``: a finite number of seconds, above 1 s and at most a day."""
    if not math.isfinite(max_duration_s) or not 1.0 <= max_duration_s <= MAX_DURATION_LIMIT_S:
        raise OptionError(
            f"--max-duration-s must be between 1 and {MAX_DURATION_LIMIT_S:.0f} seconds, "
            f"not {max_duration_s:g}"
        )


def check_channels(channels: str, counselor_channel: str | None) -> None:
    """``--channels mix`` with ``--counselor-channel`` asks for two contradictory things."""
    if channels == "mix" and counselor_channel is not None:
        raise OptionError(
            f"--channels mix contradicts --counselor-channel {counselor_channel} (a named "
            "channel means one party per channel): drop one of them"
        )


def check_language(language: str | None) -> None:
    """``--language``: one of Whisper's language codes (e.g. ``en``)."""
    if language is None:
        return
    if language not in whisper_languages():
        raise OptionError(
            f"--language {language!r} is not a language code Whisper knows (e.g. en, de, es, fr)"
        )


@functools.cache
def whisper_languages() -> frozenset[str]:
    """Whisper's language codes, read from faster-whisper's source without importing it.

    Importing ``faster_whisper`` loads CTranslate2 and takes most of a second;
    the codes are a literal tuple in ``faster_whisper/tokenizer.py``.
    """
    spec = importlib.util.find_spec("faster_whisper")
    if spec is not None and spec.submodule_search_locations:
        source = Path(next(iter(spec.submodule_search_locations))) / "tokenizer.py"
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            for node in ast.parse(source.read_text("utf-8")).body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "_LANGUAGE_CODES"
                ):
                    return frozenset(ast.literal_eval(node.value))
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path()


def check_output_dir(out: Path, *, option: str = "--out") -> bool:
    """Check that ``out`` is, or can become, a writable folder; return whether it exists.

    Creates nothing that stays: writability is tested by creating and removing a
    temporary file in ``out`` or in its nearest existing parent, so a read-only
    file system, a full disk's refusal of new entries, a path through a regular
    file or a missing permission is found before the analysis runs.
    """
    existing = _nearest_existing(out.absolute())
    if existing == out.absolute():
        if not existing.is_dir():
            what = "a file" if existing.is_file() else "not a folder"
            raise OptionError(f"{option} {out}: is {what}; name a folder (new or existing)")
    elif not existing.is_dir():
        raise OptionError(
            f"{option} {out}: cannot be created, because {existing} is a file, not a folder"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OptionError(f"{option} {out}: cannot be written ({reason} in {existing})") from None
    return existing == out.absolute()


@contextmanager
def removed_unless_finished(out: Path, *, existed: bool) -> Iterator[None]:
    """Remove ``out`` again if this command created it and did not finish.

    A failed or interrupted run leaves no partial output folder behind; a
    folder that existed before is left as it was found (the outputs themselves
    are written atomically, ``session.json`` last).
    """
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        raise
