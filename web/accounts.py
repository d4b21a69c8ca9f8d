"""Users, browser logins, API tokens and login rate limiting, on the database.

Login cookies and API tokens are random 256-bit strings; the database keeps
only their SHA-256, so a copy of the database opens no account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from web.models import ApiToken, LoginFailure, LoginSession, User, utcnow
from web.passwords import check_policy, hash_password, needs_rehash, verify_password

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_PREFIX = "sa_"
LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)
"""A login's last-seen time is written at most this often."""
ADDRESS_FACTOR = 4
"""A client address may fail this many times more often than one username."""


class AccountError(ValueError):
    """A user cannot be created or changed as asked."""


class RateLimitedError(Exception):
    """Too many failed logins; try again after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def token_hash(token: str) -> str:
    """SHA-256 of a login or API token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(db: Session, username: str) -> User | None:
    """The user called ``username``, if any."""
    return db.scalar(select(User).where(User.username == username))


def create_user(db: Session, username: str, password: str, *, is_admin: bool = False) -> User:
    """Add a user; raises :class:`AccountError` for a bad name, a taken name or a weak password."""
    if not USERNAME.match(username):
        raise AccountError("username: 1-64 letters, digits or . _ @ -")
    if find_user(db, username) is not None:
        raise AccountError(f"user {username!r} exists already")
    try:
        check_policy(password)
    except ValueError as error:
        raise AccountError(str(error)) from error
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    """Change a password, end every login of the user and revoke their API tokens."""
    try:
        check_policy(password)
    except ValueError as error:
        raise AccountError(str(error)) from error
    user.password_hash = hash_password(password)
    end_all_access(db, user)


def end_all_access(db: Session, user: User) -> None:
    """End every login and revoke every API token of ``user``.

    Called when the password changes (whoever knew the old one may hold a token)
    and when the user is disabled, so re-enabling them revives no old cookie or token.
    """
    db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def set_disabled(db: Session, user: User, *, disabled: bool) -> None:
    """Block or unblock a user; blocking ends their logins and revokes their tokens."""
    user.disabled = disabled
    if disabled:
        end_all_access(db, user)


# ----------------------------------------------------------------------- rate limit


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.lower()[:150]}", f"addr:{address[:150]}"


def check_rate_limit(
    db: Session, username: str, address: str, *, max_failures: int, window_s: int
) -> None:
    """Raise :class:`RateLimitedError` when the username or address failed too often lately."""
    now = utcnow()
    since = now - dt.timedelta(seconds=window_s)
    db.execute(delete(LoginFailure).where(LoginFailure.at < since))
    user_key, address_key = _keys(username, address)
    for key, limit in ((user_key, max_failures), (address_key, max_failures * ADDRESS_FACTOR)):
        count, oldest = db.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at >= since
            )
        ).one()
        if count >= limit:
            oldest_at = oldest.replace(tzinfo=dt.UTC) if oldest.tzinfo is None else oldest
            wait = (oldest_at + dt.timedelta(seconds=window_s) - now).total_seconds()
            raise RateLimitedError(max(int(wait) + 1, 1))


def record_failure(db: Session, username: str, address: str) -> None:
    """Count one failed login against the username and the address."""
    for key in _keys(username, address):
        db.add(LoginFailure(key=key))


def authenticate(
    db: Session,
    username: str,
    password: str,
    *,
    address: str,
    max_failures: int,
    window_s: int,
) -> User | None:
    """The user if the password is right; ``None`` otherwise. Raises :class:`RateLimitedError`.

    The limit is checked before the password, so a blocked attacker learns nothing.
    """
    check_rate_limit(db, username, address, max_failures=max_failures, window_s=window_s)
    user = find_user(db, username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        record_failure(db, username, address)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.execute(delete(LoginFailure).where(LoginFailure.key == _keys(username, address)[0]))
    return user


# --------------------------------------------------------------------------- logins


def start_login(db: Session, user: User, *, max_age_s: int) -> str:
    """Create a login and return its cookie token (a fresh one each time)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        LoginSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(seconds=max_age_s),
        )
    )
    db.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    return token


def resolve_login(db: Session, token: str, *, idle_s: int) -> LoginSession | None:
    """The live login of a cookie token, or ``None`` if unknown, expired or idle too long."""
    login = db.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash(token)))
    if login is None:
        return None
    now = utcnow()
    if now >= login.expires_at or now - login.last_seen_at > dt.timedelta(seconds=idle_s):
        db.delete(login)
        return None
    if login.user.disabled:
        return None
    if now - login.last_seen_at > LAST_SEEN_RESOLUTION:
        login.last_seen_at = now
    return login


def end_login(db: Session, token: str) -> None:
    """Log out: forget the login of this cookie token."""
    db.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))


# ----------------------------------------------------------------------- API tokens


def create_api_token(db: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for ``user``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=user.id,
        name=name.strip()[:100] or "token",
        token_hash=token_hash(token),
        prefix=token[:10],
    )
    db.add(record)
    db.flush()
    return record, token


def resolve_api_token(db: Session, token: str) -> User | None:
    """The user of a bearer token, or ``None``."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if record is None or record.user.disabled:
        return None
    now = utcnow()
    if record.last_used_at is None or now - record.last_used_at > LAST_SEEN_RESOLUTION:
        record.last_used_at = now
    return record.user


def revoke_api_token(db: Session, user: User, token_id: int) -> bool:
    """Delete one of the user's tokens; ``False`` if it is not theirs."""
    result = db.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
