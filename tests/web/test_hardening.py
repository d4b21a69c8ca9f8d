"""Regression tests of the web app's hardening (issue 11): one test per defect found."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.conftest import User, api_token_in, log_in
from web.accounts import find_user, set_disabled, set_password
from web.models import ApiToken, LoginSession
from web.pages import SECURITY_HEADERS
from web.processing import process_pool, write_status
from web.storage import display_name


def _headers_are_secure(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name
    assert "default-src 'none'" in headers.get("content-security-policy", "")


@pytest.mark.parametrize(
    "path",
    [
        "/sessions?page=99999999999999999999",
        "/sessions?page=-99999999999999999999",
        "/sessions?page=9223372036854775807",
    ],
)
def test_huge_page_numbers_are_not_server_errors(make_user: Callable[..., User], path: str) -> None:
    alice = make_user("alice")
    response = alice.client.get(path)
    assert response.status_code == 200
    _headers_are_secure(response)


@pytest.mark.parametrize("token_id", ["99999999999999999999", "9223372036854775808", "0", "-1"])
def test_huge_token_ids_are_not_server_errors(
    make_user: Callable[..., User], token_id: str
) -> None:
    alice = make_user("alice")
    response = alice.client.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert response.status_code in (303, 404, 422)
    _headers_are_secure(response)


def test_an_internal_error_carries_the_security_headers_and_no_details(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret transcript text /home/clinic/path")

    app.include_router(router)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        page = client.get("/boom", headers={"accept": "text/html"})
        api = client.get("/boom", headers={"accept": "application/json"})
    assert page.status_code == api.status_code == 500
    for response in (page, api):
        _headers_are_secure(response)
        assert "secret" not in response.text and "/home/clinic" not in response.text
    assert api.json() == {"error": "internal error"}


def test_an_api_token_cannot_mint_tokens(app: FastAPI, make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    page = alice.client.post("/tokens", data={"csrf_token": alice.csrf, "name": "script"})
    token = api_token_in(page.text)
    script = TestClient(app, headers={"authorization": f"Bearer {token}"})
    response = script.post("/tokens", data={"name": "another"})
    assert response.status_code == 403
    assert "cannot create tokens" in response.json()["error"]
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_a_password_change_revokes_api_tokens_and_logins(
    app: FastAPI, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    page = alice.client.post("/tokens", data={"csrf_token": alice.csrf, "name": "script"})
    script = TestClient(app, headers={"authorization": f"Bearer {api_token_in(page.text)}"})
    assert script.get("/api/sessions").status_code == 200
    with app.state.db.session() as db:
        user = find_user(db, "alice")
        assert user is not None
        set_password(db, user, "a brand new passphrase")
    assert script.get("/api/sessions").status_code == 401
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 303


def test_re_enabling_a_user_does_not_revive_old_cookies_or_tokens(
    app: FastAPI, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    page = alice.client.post("/tokens", data={"csrf_token": alice.csrf, "name": "script"})
    script = TestClient(app, headers={"authorization": f"Bearer {api_token_in(page.text)}"})
    for disabled in (True, False):
        with app.state.db.session() as db:
            user = find_user(db, "alice")
            assert user is not None
            set_disabled(db, user, disabled=disabled)
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 303
    assert script.get("/api/sessions").status_code == 401
    with app.state.db.session() as db:
        assert db.scalar(select(func.count()).select_from(LoginSession)) == 0
    log_in(alice.client, "alice")  # a fresh login works again
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("session\u202egnp.wav", "sessiongnp.wav"),
        ("a\u200bb\u200c\u200d\u2060c.wav", "abc.wav"),
        ("\u2066left\u2069\u2067right\u2069.mp3", "leftright.mp3"),
        ("\ufeffbom.wav", "bom.wav"),
        ("line\u2028sep\u2029.wav", "linesep.wav"),
        ("private\ue000use.wav", "privateuse.wav"),
        ("\u202e\u200b", "recording"),
        ("ünïcødé 会话.wav", "ünïcødé 会话.wav"),
    ],
)
def test_invisible_and_bidi_characters_are_stripped_from_file_names(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


def test_a_bidi_file_name_is_shown_without_its_controls(
    make_user: Callable[..., User], fixtures: Path
) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done(name="evil\u202evaw.exe.wav")
    listing = alice.client.get("/sessions").text
    assert "\u202e" not in listing
    assert "evilvaw.exe.wav" in alice.client.get(f"/api/sessions/{public_id}").text


def test_status_json_is_owner_only(tmp_path: Path) -> None:
    write_status(tmp_path / "out", "queued")
    assert stat.S_IMODE((tmp_path / "out" / "status.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700


def _umask_of_worker() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_worker_processes_create_owner_only_files(tmp_path: Path) -> None:
    """Cached results (transcripts) are written by worker processes: umask 077 there."""
    pool = process_pool(1, tmp_path)
    try:
        assert pool.submit(_umask_of_worker).result(timeout=120) == 0o077
    finally:
        pool.shutdown()


def test_internal_errors_are_logged_without_paths(caplog: pytest.LogCaptureFixture) -> None:
    from web.processing import where

    try:
        raise ValueError("transcript words")
    except ValueError as error:
        text = where(error)
    assert re.fullmatch(
        r"test_hardening\.py:\d+ in test_internal_errors_are_logged_without_paths", text
    )


def test_roles_are_not_corrected_from_a_damaged_document(
    app: FastAPI, settings: object, make_user: Callable[..., User]
) -> None:
    import json

    alice = make_user("alice")
    public_id = alice.upload_done()
    session_json = app.state.storage.out_dir(public_id) / "session.json"
    document = json.loads(session_json.read_text("utf-8"))
    document["utterances"][0]["word_range"] = [10**6, 10**6 + 5]
    damaged = json.dumps(document)
    session_json.write_text(damaged, "utf-8")
    response = alice.client.post(
        f"/sessions/{public_id}/swap", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?error=inconsistent")
    assert session_json.read_text("utf-8") == damaged
