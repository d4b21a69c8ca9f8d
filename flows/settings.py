"""Where the flows keep their state, and Prefect's environment defaults.

Prefect reads its settings when it is first imported, so :func:`configure_prefect`
runs from ``flows/__init__.py``, before any ``flows`` module imports Prefect.
Every default yields to a value the user set explicitly:

* ``PREFECT_HOME`` (Prefect's local database, logs and profiles) goes under the
  project's data directory, ``$SESSION_ANALYZER_DATA_DIR`` or ``./data``;
* analytics and telemetry are off (counseling audio is health data);
* with ``PREFECT_API_URL`` set, runs report to that server; without it Prefect
  runs in its local ephemeral mode against the database under ``PREFECT_HOME``.

Task results (the cache) live in ``<data dir>/prefect/results``: every machine
that should share the cache must see the same data directory (docs/scaling.md).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "SESSION_ANALYZER_DATA_DIR"
DEFAULT_DATA_DIR = "data"

PREFECT_DEFAULTS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # A fresh database needs its migrations first; 2 busy cores take longer than the default 20 s.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def data_dir() -> Path:
    """The project's data directory (absolute): ``$SESSION_ANALYZER_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser().resolve()


def prefect_dir() -> Path:
    """Prefect's state under the data directory (the default ``PREFECT_HOME``)."""
    return data_dir() / "prefect"


def results_dir() -> Path:
    """Persisted task results: the content-addressed cache every rerun consults."""
    return prefect_dir() / "results"


EPHEMERAL_DEFAULTS: dict[str, str] = {
    # The task-run recorder turns task events into task-run rows for the UI. In the
    # ephemeral server nobody browses them, and its batched SQLite writes stall the
    # API for about 2 s at a time (measured: most flow runs waited that long to be
    # created). Task caching and retries do not depend on it.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
}
"""Defaults for Prefect's local ephemeral server only (no ``PREFECT_API_URL``)."""


def configure_prefect() -> None:
    """Set Prefect's environment defaults unless the user set them (call before importing it)."""
    if not os.environ.get("PREFECT_API_URL"):
        if not os.environ.get("PREFECT_HOME"):
            home = prefect_dir()
            home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level
            os.environ["PREFECT_HOME"] = str(home)
        for name, value in EPHEMERAL_DEFAULTS.items():
            os.environ.setdefault(name, value)
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
