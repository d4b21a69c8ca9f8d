"""Fixtures of the web tests: an app per test on SQLite and, when
``TEST_POSTGRES_URL`` is set, on PostgreSQL too; users; logged-in clients.

Analyses run synchronously through :mod:`tests.web.fake_analysis` (no model),
so an upload is ``done`` when its response arrives.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from tests.web.fake_analysis import fake_runner
from web import passwords
from web.accounts import create_user
from web.app import create_app
from web.processing import Processor
from web.settings import Settings

FIXTURES = Path(__file__).parents[1] / "fixtures"
PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
    ),
]


class SyncExecutor(Executor):
    """Runs each job at once in the submitting thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
        return future


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with small parameters: the tests log in hundreds of times."""
    monkeypatch.setattr(
        passwords, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(passwords, "_DUMMY_HASH", None)


def reset_postgres(url: str) -> None:
    """An empty public schema in the test database."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: SQLite in the test's directory, or the emptied PostgreSQL one."""
    if request.param == "postgres":
        assert POSTGRES_URL is not None
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=SecretStr("test-secret-key"),
        upload_limit_bytes=5_000_000,
        enrollment_limit_bytes=1_000_000,
        processing="direct",
    )


def make_app(settings: Settings, **processor_options: Any) -> FastAPI:
    """The app with analyses run at once by the fake runner."""
    processor = Processor(
        runner=processor_options.pop("runner", fake_runner),
        executor_factory=processor_options.pop("executor_factory", SyncExecutor),
        **processor_options,
    )
    return create_app(settings, processor=processor)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return make_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def add_user(app: FastAPI, username: str, *, admin: bool = False) -> None:
    with app.state.db.session() as db:
        create_user(db, username, PASSWORD, is_admin=admin)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def api_token_in(html: str) -> str:
    """The new API token shown (once) on the tokens page."""
    match = re.search(r"(sa_[A-Za-z0-9_-]{40,})", html)
    assert match, "no API token on the page"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the login's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/upload").text)


class User:
    """A logged-in browser of one user."""

    def __init__(self, app: FastAPI, name: str, *, admin: bool = False) -> None:
        add_user(app, name, admin=admin)
        self.name = name
        self.client = TestClient(app, base_url="http://testserver")
        self.csrf = log_in(self.client, name)

    def upload(
        self,
        path: Path,
        *,
        name: str | bytes | None = None,
        fields: dict[str, str] | None = None,
        extra_files: dict[str, Any] | None = None,
    ) -> Any:
        data = {"csrf_token": self.csrf, "trainee": "Alex", "session_date": "2025-03-01"}
        data |= fields or {}
        files: dict[str, Any] = {"recording": (name or path.name, path.read_bytes())}
        files |= extra_files or {}
        return self.client.post(
            "/sessions", data=data, files=files, headers={"accept": "application/json"}
        )

    def upload_done(self, path: Path = FIXTURES / "dialogue_client_led.wav", **kw: Any) -> str:
        response = self.upload(path, **kw)
        assert response.status_code == 201, response.text
        public_id: str = response.json()["id"]
        assert self.client.get(f"/api/sessions/{public_id}").json()["status"] == "done"
        return public_id


@pytest.fixture
def make_user(app: FastAPI, client: TestClient) -> Iterator[Callable[..., User]]:
    """Logged-in users of the app (the ``client`` fixture runs its lifespan)."""
    made: list[User] = []

    def make(name: str, *, admin: bool = False) -> User:
        user = User(app, name, admin=admin)
        made.append(user)
        return user

    yield make
    for user in made:
        user.client.close()


def files_under(directory: Path) -> list[Path]:
    """Every file below ``directory`` (the database files excluded)."""
    return sorted(p for p in directory.rglob("*") if p.is_file())
