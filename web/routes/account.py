"""Login, logout, health, and the user's API tokens."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from web.accounts import (
    RateLimitedError,
    authenticate,
    create_api_token,
    end_login,
    revoke_api_token,
    start_login,
)
from web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CurrentPrincipal,
    Db,
    ProtectedPrincipal,
    csrf_token,
    tokens_match,
)
from web.models import ApiToken
from web.pages import render

router = APIRouter()

LOGIN_FORM_MAX_AGE_S = 3600
MAX_ID = 2**63 - 1
"""Database ids are signed 64-bit integers."""


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a login to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/sessions"
    return target


def _login_page(
    request: Request, *, error: str | None = None, status_code: int = 200, next_url: str = ""
) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=csrf_token(request.app.state.secret, "login", nonce),
        error=error,
        next_url=_safe_next(next_url),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
    )
    return response


@router.get("/healthz", include_in_schema=False)
def health() -> dict[str, str]:
    """Liveness probe (no authentication, no data)."""
    return {"status": "ok"}


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    """The login page."""
    return _login_page(request, next_url=next)


@router.post("/login")
def login(
    request: Request,
    *,
    db: Db,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token_field: Annotated[str, Form(alias="csrf_token")] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the password (rate-limited) and start a login with a fresh cookie."""
    settings = request.app.state.settings
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = csrf_token(request.app.state.secret, "login", nonce)
    if not nonce or not tokens_match(csrf_token_field, expected):
        return _login_page(
            request,
            error="The login form expired. Please try again.",
            status_code=403,
            next_url=next,
        )
    address = request.client.host if request.client else "unknown"
    try:
        user = authenticate(
            db,
            username.strip(),
            password,
            address=address,
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        )
    except RateLimitedError as limited:
        minutes = max(1, round(limited.retry_after_s / 60))
        response = _login_page(
            request,
            error=f"Too many failed attempts. Try again in {minutes} minute(s).",
            status_code=429,
            next_url=next,
        )
        response.headers["retry-after"] = str(limited.retry_after_s)
        return response
    if user is None:
        return _login_page(
            request, error="Wrong username or password.", status_code=401, next_url=next
        )
    token = start_login(db, user, max_age_s=settings.session_max_age_s)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: Db, _principal: ProtectedPrincipal) -> Response:
    """End this login."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_login(db, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/tokens")
def tokens_page(request: Request, db: Db, principal: CurrentPrincipal) -> Response:
    """The user's API tokens."""
    tokens = db.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == principal.user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render(request, "tokens.html", principal, tokens=tokens, new_token=None)


@router.post("/tokens")
def create_token(
    request: Request,
    db: Db,
    principal: ProtectedPrincipal,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Make a token; it is shown once, on the page (or in the JSON) this returns.

    Only a password login may: a leaked API token must not be able to mint
    others that outlive its revocation.
    """
    if principal.via == "token":
        raise HTTPException(403, "An API token cannot create tokens; log in with your password.")
    _record, token = create_api_token(db, principal.user, name)
    tokens = db.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == principal.user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render(request, "tokens.html", principal, tokens=tokens, new_token=token)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(db: Db, principal: ProtectedPrincipal, token_id: int) -> Response:
    """Revoke one of the user's tokens (an id no token can have is one that is not theirs)."""
    if 0 < token_id <= MAX_ID:
        revoke_api_token(db, principal.user, token_id)
    return RedirectResponse("/tokens", status_code=303)
