"""Who is asking: a login cookie or a bearer token, and CSRF checks for cookie requests.

Every route but ``/login`` and ``/healthz`` depends on :func:`current_principal`.
Requests that change something and come with the login cookie must also carry
the CSRF token of that login (form field ``csrf_token`` or header
``X-CSRF-Token``); bearer-token requests need none, as browsers never attach
bearer tokens by themselves.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from web.accounts import resolve_api_token, resolve_login
from web.models import User

SESSION_COOKIE = "sa_session"
LOGIN_COOKIE = "sa_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticatedError(Exception):
    """No valid login cookie or bearer token; pages redirect to /login, the API answers 401."""


def csrf_token(secret: bytes, purpose: str, value: str) -> str:
    """The CSRF token bound to one login (or one login form), derived with HMAC-SHA256."""
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def tokens_match(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Principal:
    """The authenticated user and how they authenticated."""

    user: User
    via: Literal["cookie", "token"]
    csrf: str | None = None
    """The CSRF token of a cookie login (shown in forms)."""

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request: committed on success, rolled back on error."""
    with request.app.state.db.session() as session:
        yield session


Db = Annotated[Session, Depends(get_db, scope="function")]
"""Committed before the response is sent, so a redirect never outruns its own write."""


def current_principal(request: Request) -> Principal:
    """The user behind this request, or :class:`NotAuthenticatedError`.

    Uses its own short database session, committed at once: a long upload
    never holds a pooled connection (or SQLite's write lock) while it streams.
    """
    with request.app.state.db.session() as db:
        return _principal(request, db)


def _principal(request: Request, db: Session) -> Principal:
    settings = request.app.state.settings
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        user = resolve_api_token(db, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise NotAuthenticatedError
        return Principal(user, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        login = resolve_login(db, cookie, idle_s=settings.session_idle_s)
        if login is not None:
            csrf = csrf_token(request.app.state.secret, "session", cookie)
            return Principal(login.user, "cookie", csrf)
    raise NotAuthenticatedError


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def check_csrf(principal: Principal, submitted: str | None) -> None:
    """Refuse (403) a cookie-authenticated change without the login's CSRF token."""
    if principal.via == "token":
        return
    assert principal.csrf is not None
    if not tokens_match(submitted, principal.csrf):
        raise HTTPException(403, "The form has expired or did not come from this site; reload it.")


async def csrf_protected(request: Request, principal: CurrentPrincipal) -> Principal:
    """Dependency of urlencoded form posts: the principal, after the CSRF check."""
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and principal.via == "cookie":
        form = await request.form()
        value = form.get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    check_csrf(principal, submitted)
    return principal


ProtectedPrincipal = Annotated[Principal, Depends(csrf_protected)]
