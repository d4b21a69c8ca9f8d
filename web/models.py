"""Database tables: users, their logins and API tokens, and their recordings.

A recording's public id (random, 128 bits) is what URLs show; its integer
primary key never leaves the server.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

HINTS = ("auto", "first", "left", "right", "enrollment")
"""How the uploader said to tell the counselor from the client."""
CHANNEL_MODES = ("auto", "mix", "split")
"""How the uploader said to treat a stereo recording (``SpeechOptions.channels``)."""
SPEAKERS = ("2", "2-3")
"""Who the uploader said speaks: the two parties, or them and perhaps one more voice
(``pipeline.session.SPEAKERS_OPTIONS``)."""


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stored as naive UTC on every backend, read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC")
        naive: dt.datetime = value.astimezone(dt.UTC).replace(tzinfo=None)
        return naive

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class User(Base):
    """A supervisor (or an admin, who sees every recording)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    recordings: Mapped[list[Recording]] = relationship(back_populates="owner")


class LoginSession(Base):
    """A browser login; the cookie holds a random token, the table only its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A bearer token for scripts; shown once, stored as a hash."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One failed login, counted per username and per client address for rate limiting."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Recording(Base):
    """One uploaded counseling session and the summary of its analysis."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("owner_id", "sha256", name="uq_recordings_owner_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    trainee: Mapped[str] = mapped_column(String(200), default="", index=True)
    session_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    original_name: Mapped[str] = mapped_column(String(255))
    audio_file: Mapped[str] = mapped_column(String(64))
    audio_format: Mapped[str] = mapped_column(String(64))
    audio_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hint: Mapped[str] = mapped_column(String(16), default="auto")
    channel_mode: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    """``auto``: decide from the audio; ``mix`` / ``split``: the uploader's choice."""
    speakers: Mapped[str] = mapped_column(String(8), default="2", server_default="2")
    """``2``: counselor and client; ``2-3``: perhaps one more voice, to be set apart."""
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    """``queued`` until the analysis ends, then ``done`` or ``failed``; the finer stage of a
    running analysis is in its ``status.json``."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    client_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    counselor_interruptions_per_10min: Mapped[float | None] = mapped_column(Float, nullable=True)
    longest_counselor_monologue_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    reflection_to_question_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    role_method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    role_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    measures: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON of the metrics and evidence without any transcript text; survives retention."""
    audio_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    owner: Mapped[User] = relationship(back_populates="recordings")
