"""Settings from the environment, the generated secret key, and the CLI commands."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from web.cli import add_web_commands, main
from web.db import Database
from web.models import ApiToken, User
from web.settings import Settings, parse_size


def test_defaults_work_out_of_the_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SESSION_ANALYZER_DATABASE_URL", "DATABASE_URL", "SESSION_ANALYZER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.upload_limit_bytes == 1_000_000_000
    assert settings.retention == "keep"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'analyzer.db'}"


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SESSION_ANALYZER_UPLOAD_LIMIT_BYTES", "500M")
    monkeypatch.setenv("SESSION_ANALYZER_RETENTION", "measures")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/x")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.upload_limit_bytes == 500_000_000
    assert settings.retention == "measures"
    assert settings.resolved_database_url == "postgresql+psycopg://u:p@db/x"
    monkeypatch.setenv("SESSION_ANALYZER_DATABASE_URL", "sqlite:////tmp/other.db")
    assert Settings().resolved_database_url == "sqlite:////tmp/other.db"


@pytest.mark.parametrize(
    ("text", "size"), [("1G", 10**9), ("2.5MB", 2_500_000), ("1000", 1000), ("64k", 64_000)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_the_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).resolved_secret_key() == key
    assert (
        Settings(data_dir=tmp_path, secret_key=SecretStr("given")).resolved_secret_key() == b"given"
    )


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_users_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSION_ANALYZER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SESSION_ANALYZER_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    _stdin(monkeypatch, "a long enough password\n")
    assert main(["users", "add", "root", "--admin"]) == 0
    _stdin(monkeypatch, "another long password\n")
    assert main(["users", "add", "alice"]) == 0
    _stdin(monkeypatch, "short\n")
    assert main(["users", "add", "bob"]) == 2
    _stdin(monkeypatch, "x" * 12 + "\n")
    assert main(["users", "add", "alice"]) == 2
    assert main(["users", "token", "root", "--name", "export"]) == 0
    assert main(["users", "disable", "alice"]) == 0
    assert main(["users", "list"]) == 0
    assert main(["users", "passwd", "nobody"]) == 2
    out = capsys.readouterr()
    assert "created admin root" in out.out and "created supervisor alice" in out.out
    assert "at least 10 characters" in out.err and "exists already" in out.err
    assert "alice                    disabled" in out.out
    token = next(line for line in out.out.splitlines() if line.startswith("sa_"))
    database = Database(f"sqlite:///{tmp_path / 'analyzer.db'}")
    with database.session() as db:
        assert db.scalar(select(User.is_admin).where(User.username == "root")) is True
        assert db.scalar(select(ApiToken.name)) == "export"
        assert token not in str(db.scalars(select(ApiToken.token_hash)).all())
    assert (tmp_path / "analyzer.db").stat().st_mode & 0o077 == 0


def test_serve_options() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_web_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "9000"])
    assert (args.host, args.port) == ("127.0.0.1", 9000)
