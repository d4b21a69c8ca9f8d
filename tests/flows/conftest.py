"""Flow-test fixtures: one Prefect test harness per session, a fresh data dir per test, fakes.

``PREFECT_HOME`` is pointed at a temporary folder before ``flows`` (and so
Prefect) is imported, so no test writes Prefect state into the repository.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from tests.flows import fakes


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API (SQLite) for every flow test of the session.

    Flow-run heartbeats are off: nothing watches them here, and stopping their
    thread adds up to a second to every flow run.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project data directory: an empty result cache for each test."""
    directory = tmp_path / "data"
    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(directory))
    return directory


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, str]]]:
    """Fake model stages in :mod:`flows.analyze_session`; yields the call counter."""
    import flows.analyze_session as target

    for name, fake in fakes.FAKES.items():
        monkeypatch.setattr(target, name, fake)
    fakes.calls.clear()
    fakes.fail_once.clear()
    yield fakes.calls
    fakes.calls.clear()
    fakes.fail_once.clear()


@pytest.fixture
def flow_env(prefect_harness: None, data_dir: Path, fake_models: object) -> Path:
    """Harness + fresh data dir + fakes: what most flow tests need. Returns the data dir."""
    return data_dir
