"""Password hashing with Argon2id (argon2-cffi's current recommended parameters)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

hasher = PasswordHasher()
"""Module-level so tests can swap in cheaper parameters."""

_DUMMY_HASH: str | None = None


class WeakPasswordError(ValueError):
    """The password is too short or too long."""


def check_policy(password: str) -> None:
    """Raise :class:`WeakPasswordError` for a password outside the allowed lengths."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (salted, self-describing)."""
    return hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same time when there is no user."""
    global _DUMMY_HASH  # noqa: PLW0603
    if stored_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash("not a real password")
        stored_hash, password = _DUMMY_HASH, password + "\0"
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(stored_hash, password)
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return hasher.check_needs_rehash(stored_hash)
