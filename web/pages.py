"""HTML rendering: Jinja2 templates with inline CSS and nonce-tagged inline scripts,
and the security headers every response gets."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.report import template_loader as report_templates
from web.auth import Principal

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = HERE / "static"

CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """ASGI middleware: a per-request CSP nonce and no-store, no-sniff, no-frame headers.

    Health data must not linger in shared caches, so nothing is cacheable.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"content-security-policy" not in present:
                    csp = CSP.format(nonce=nonce)
                    headers.append((b"content-security-policy", csp.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            if started:
                raise
            # Answered here, inside this middleware, so the 500 gets every header too;
            # logged without the message (it could quote a transcript) or any path.
            from web.processing import where

            log.error(
                "%s %s failed with %s at %s",
                scope.get("method", ""),
                scope.get("path", ""),
                type(error).__name__,
                where(error),
            )
            await _internal_error(scope, send_with_headers)


async def _internal_error(scope: Scope, send: Send) -> None:
    """A 500 without details: JSON for API clients, a short page for browsers."""
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept", b"").decode("latin-1")
    api = (
        str(scope.get("path", "")).startswith("/api/")
        or b"authorization" in headers
        or ("application/json" in accept and "text/html" not in accept)
    )
    if api:
        body, kind = b'{"error": "internal error"}', b"application/json"
    else:
        body = (
            b"<!doctype html><title>Internal error</title><h1>Something went wrong</h1>"
            b"<p>The error was logged. Please try again later.</p>"
        )
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@cache
def asset(name: str) -> str:
    """The text of a file in ``web/static`` (inlined into pages)."""
    return (STATIC / name).read_text("utf-8")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def make_templates() -> Jinja2Templates:
    """The app's templates (autoescaped) with its formatting filters."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    # The session report's sections and macros (report/...) are shared with report.html.
    env.loader = ChoiceLoader([FileSystemLoader(HERE / "templates"), report_templates()])
    env.filters.update(clock=_clock, percent=_percent, number=_number, when=_when)
    env.globals["asset"] = asset
    return templates


def render(
    request: Request,
    name: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a template with the user, their CSRF token and the CSP nonce."""
    templates: Jinja2Templates = request.app.state.templates
    context |= {
        "user": principal.user if principal else None,
        "csrf": principal.csrf if principal else None,
        "nonce": request.state.csp_nonce,
        "settings": request.app.state.settings,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)
