"""Settings of the web app, from ``SESSION_ANALYZER_*`` environment variables.

Everything has a default that works out of the box: SQLite and uploads under
``./data``, a secret key generated once and kept beside them (mode 0600).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"
DATABASE_FILE = "analyzer.db"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_size(value: int | str) -> int:
    """Bytes from ``1000000``, ``"500M"`` or ``"1G"`` (decimal units)."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"not a size: {value!r} (use bytes or e.g. 500M, 1G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class Settings(BaseSettings):
    """Web app settings; each field is ``SESSION_ANALYZER_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SESSION_ANALYZER_", extra="ignore")

    data_dir: Path = Path("data")
    """Uploads, results, the SQLite database and the secret key live here."""
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SESSION_ANALYZER_DATABASE_URL", "DATABASE_URL"),
    )
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/analyzer.db``. ``postgresql://`` works too."""
    upload_limit_bytes: int = 1_000_000_000
    """Largest accepted recording (default 1 GB; ``500M``, ``2G`` are accepted)."""
    enrollment_limit_bytes: int = 50_000_000
    """Largest accepted enrollment sample (10-30 s of the counselor's voice)."""
    retention: Literal["keep", "measures"] = "keep"
    """``measures``: once analyzed, delete the audio and the transcript and keep only the measures."""
    secret_key: SecretStr | None = None
    """Signs CSRF tokens; generated into ``<data_dir>/secret_key`` when unset."""
    session_max_age_s: int = 12 * 3600
    """A login lasts at most this long."""
    session_idle_s: int = 2 * 3600
    """A login ends after this long without a request."""
    login_max_failures: int = 5
    """Failed logins per username (and 4x this per client address) within the window."""
    login_window_s: int = 15 * 60
    cookie_secure: bool = False
    """Send cookies only over HTTPS; set it when serving behind TLS."""
    model: str = "base"
    """Whisper model of the analyses (``base``, ``tiny.en`` or a local directory)."""
    language: str | None = None
    device: str = "auto"
    cpu_threads: int = 0
    workers: int = 1
    """Analyses that run at the same time, each in its own process."""
    max_queue: int = 100
    """Uploads waiting for analysis beyond which new uploads are refused (503)."""
    processing: Literal["auto", "flow", "direct"] = "auto"
    """``flow``: ``flows.analyze_session``; ``direct``: the pipeline; ``auto``: flow if present."""
    prefect_deployment: str | None = None
    """``analyze-session/<name>``: submit analyses to this deployment of a Prefect server
    (``PREFECT_API_URL``) and its work pool instead of local worker processes."""

    @field_validator("upload_limit_bytes", "enrollment_limit_bytes", mode="before")
    @classmethod
    def _size(cls, value: int | str) -> int:
        return parse_size(value)

    @field_validator("database_url", mode="before")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if not value:
            return None
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+psycopg://" + value.removeprefix(plain)
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"

    def resolved_secret_key(self) -> bytes:
        """The configured secret, else the one stored in the data directory (made once)."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return _stored_secret(self.data_dir / SECRET_KEY_FILE)


def _stored_secret(path: Path) -> bytes:
    """Read the secret at ``path``, creating it (mode 0600) atomically on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes().strip()
