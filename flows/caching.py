"""Cache keys by content, and which failures are worth a retry.

A task's cache key is a sha256 over

* the task's name and source, and the source of the ``pipeline`` modules it
  calls (so changing the code that produced a result invalidates it);
* the versions of the libraries whose numbers it depends on (faster-whisper,
  pyannote.audio, torch...);
* its inputs, minus the ones named in ``ignore``: file paths never enter a key
  (the audio's sha256 does), so a renamed copy of a recording hits the cache,
  and neither do pure performance knobs such as a thread count.

Prefect's bare ``INPUTS`` policy would give two different tasks with the same
inputs the same key, and would key on the path instead of the content.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.tasks import Task

from flows.settings import results_dir
from models.registry import ModelError
from pipeline.errors import AnalyzerError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    MemoryError,
    RuntimeError,
    TimeoutError,
)
"""Failures a second try may not meet: I/O hiccups, out of memory, CUDA runtime errors."""

PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    AnalyzerError,
    ModelError,
    ValueError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
"""Failures that repeat on every try: bad audio, a missing model, a bad option or path."""


def stable_hash(value: Any) -> str:
    """sha256 of a JSON-like value, independent of dict order (tuples hash like lists)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def module_source_hash(module: str) -> str:
    """sha256 of a module's source code (computed once per process)."""
    return hashlib.sha256(inspect.getsource(importlib.import_module(module)).encode()).hexdigest()


@functools.cache
def package_version(name: str) -> str | None:
    """An installed distribution's version, or ``None`` when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _task_source_hash(fn: Any) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = fn.__code__.co_code.hex()
    return hashlib.sha256(source.encode()).hexdigest()


@dataclass
class ContentKey(CachePolicy):
    """Key a task run by its code, the code it calls, library versions and chosen inputs.

    Parameters
    ----------
    ignore
        Input names left out of the key: file paths and performance knobs.
    modules
        ``pipeline`` modules whose source the result depends on.
    packages
        Distributions whose version the result depends on.
    files
        Data files whose content the result depends on (the reference norms).
    """

    ignore: tuple[str, ...] = ("audio_path",)
    modules: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()

    def key_for(self, task: Task[Any, Any], inputs: Mapping[str, Any]) -> str:
        """The cache key of ``task`` called with ``inputs`` (also usable outside a run).

        Keys of tasks about one recording start with ``<audio sha256>/``, so
        each recording's cached results (transcripts among them) sit in one
        folder that :func:`forget` removes.
        """
        digest = stable_hash(
            {
                "task": task.name,
                "task_source": _task_source_hash(task.fn),
                "modules": {m: module_source_hash(m) for m in self.modules},
                "packages": {p: package_version(p) for p in self.packages},
                "files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in self.files},
                "inputs": {k: v for k, v in inputs.items() if k not in self.ignore},
            }
        )
        sha256 = inputs.get("sha256")
        return f"{sha256}/{digest}" if _is_sha256(sha256) else digest

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """Prefect's hook: the key of the running task."""
        return self.key_for(task_ctx.task, inputs)


def _is_sha256(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def forget(sha256: str) -> bool:
    """Delete every cached task result of one recording (its transcript included).

    Called when a session is deleted, or when retention keeps only measures;
    returns whether anything was there.
    """
    if not _is_sha256(sha256):
        raise ValueError(f"not an audio sha256: {sha256!r}")
    folder = results_dir() / sha256
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True


def is_transient(error: BaseException | None) -> bool:
    """Whether ``error`` may go away on a retry (never for bad audio or a bad option)."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, PERMANENT_ERRORS)


def retry_transient(_task: Task[Any, Any], _task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn`` for every task: retry only transient failures."""
    try:
        error = state.result(raise_on_failure=False)
    except Exception as failure:  # the result itself could not be read
        error = failure
    return is_transient(error if isinstance(error, BaseException) else None)
