"""Security of the web app: authentication on every route, isolation between
supervisors, CSRF, upload hygiene, unguessable ids, logins and tokens."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.web.conftest import (
    FIXTURES,
    PASSWORD,
    User,
    api_token_in,
    csrf_of,
    files_under,
    log_in,
)
from web.models import LoginSession, Recording
from web.models import User as UserRow
from web.settings import Settings
from web.storage import PUBLIC_ID

PUBLIC_ROUTES = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}
WAV = FIXTURES / "dialogue_client_led.wav"


def leaf_routes(candidates: list[Any]) -> list[Any]:
    """Every route, looking inside included routers (none has a prefix)."""
    found = []
    for route in candidates:
        nested = getattr(route, "original_router", None)
        found += leaf_routes(nested.routes) if nested is not None else [route]
    return found


def routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves."""
    found = []
    for route in leaf_routes(app.routes):
        if isinstance(route, APIRoute):
            found += [(method, route.path) for method in sorted(route.methods or ())]
    return found


def concrete(path: str, public_id: str) -> str:
    return (
        path.replace("{public_id}", public_id)
        .replace("{name}", "session.json")
        .replace("{token_id}", "1")
    )


def test_the_app_serves_no_docs_or_static_files(app: FastAPI) -> None:
    paths = {path for _method, path in routes(app)}
    assert not {"/docs", "/redoc", "/openapi.json"} & paths
    assert all(isinstance(route, APIRoute) for route in leaf_routes(app.routes))


def test_every_route_but_login_and_health_requires_authentication(
    app: FastAPI, client: TestClient, make_user: Callable[..., User]
) -> None:
    public_id = make_user("alice").upload_done()
    checked = 0
    for method, path in routes(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        url = concrete(path, public_id)
        response = client.request(method, url, follow_redirects=False)
        if method == "GET" and not path.startswith("/api/"):
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next="), url
            api = client.get(url, headers={"accept": "application/json"}, follow_redirects=False)
            assert api.status_code == 401, url
        else:
            assert response.status_code == 401, (method, url)
        bad_token = client.request(
            method, url, headers={"authorization": "Bearer sa_not-a-token"}, follow_redirects=False
        )
        assert bad_token.status_code == 401, (method, url)
        checked += 1
    assert checked >= 20
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/login").status_code == 200


def test_a_supervisor_cannot_reach_another_supervisors_session_by_any_route(
    app: FastAPI, settings: Settings, make_user: Callable[..., User]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    public_id = alice.upload_done(fields={"trainee": "Trainee of Alice"})
    before = files_under(settings.data_dir / "sessions")
    session_routes = [(m, p) for m, p in routes(app) if "{public_id}" in p]
    assert len(session_routes) >= 10
    for method, path in session_routes:
        url = concrete(path, public_id)
        for name in (
            ("session.json", "measures.csv", "transcript.srt", "diarization.rttm", "report.html")
            if "{name}" in path
            else ("",)
        ):
            target = url.replace("session.json", name) if name else url
            response = bob.client.request(
                method,
                target,
                data={"csrf_token": bob.csrf, "counselor": "SPEAKER_01"},
                headers={"x-csrf-token": bob.csrf, "range": "bytes=0-99"},
                follow_redirects=False,
            )
            assert response.status_code == 404, (method, target, response.status_code)
            assert "Alice" not in response.text
    # Nothing changed, nothing leaked through the lists.
    assert files_under(settings.data_dir / "sessions") == before
    assert alice.client.get(f"/api/sessions/{public_id}").json()["status"] == "done"
    for url in (
        "/sessions",
        "/api/sessions",
        "/sessions.csv",
        "/trainees",
        "/sessions?trainee=Trainee+of+Alice",
        "/sessions?owner=alice",
    ):
        response = bob.client.get(url)
        assert response.status_code == 200
        assert public_id not in response.text and "Trainee of Alice" not in response.text, url


def test_an_admin_sees_every_session(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    admin = make_user("root", admin=True)
    assert public_id in admin.client.get("/sessions").text
    assert admin.client.get(f"/sessions/{public_id}/audio").status_code == 200
    listing = admin.client.get("/api/sessions").json()
    assert [s["owner"] for s in listing["sessions"]] == ["alice"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/sessions/{id}/swap", {}),
        ("/sessions/{id}/roles", {"counselor": "SPEAKER_01"}),
        ("/sessions/{id}/delete", {}),
        ("/sessions/{id}/retry", {}),
        ("/tokens", {"name": "x"}),
        ("/tokens/1/revoke", {}),
        ("/logout", {}),
    ],
)
def test_form_posts_without_the_csrf_token_are_refused(
    make_user: Callable[..., User], path: str, data: dict[str, str]
) -> None:
    alice, mallory = make_user("alice"), make_user("mallory")
    public_id = alice.upload_done()
    url = path.replace("{id}", public_id)
    for token in (None, "", "0" * 64, mallory.csrf):
        body = dict(data) | ({"csrf_token": token} if token is not None else {})
        response = alice.client.post(url, data=body, follow_redirects=False)
        assert response.status_code == 403, (url, token)
    # Still logged in, session untouched, no token made.
    state = alice.client.get(f"/api/sessions/{public_id}").json()
    assert state["status"] == "done"
    assert "sa_" not in alice.client.get("/tokens").text.split("Starts with")[-1]


def test_every_state_changing_route_is_csrf_protected(
    app: FastAPI, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    for method, path in routes(app):
        if method == "GET" or (method, path) in PUBLIC_ROUTES:
            continue
        response = alice.client.request(method, concrete(path, public_id), follow_redirects=False)
        # Multipart forms (an upload, analyze-again) check the token in the body; with no
        # body there is none to read, and the request is refused as not multipart.
        multipart = path in ("/sessions", "/api/sessions") or path.endswith("/analyze-again")
        allowed = {403, 415} if multipart else {403}
        assert response.status_code in allowed, (method, path)


def test_upload_without_csrf_token_is_refused_before_storing(
    settings: Settings, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    response = alice.client.post(
        "/sessions",
        files={"recording": ("a.wav", WAV.read_bytes())},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 403
    assert files_under(settings.data_dir / "tmp") == []
    assert files_under(settings.data_dir / "sessions") == []


def test_login_form_needs_its_csrf_token(client: TestClient, app: FastAPI) -> None:
    from tests.web.conftest import add_user

    add_user(app, "alice")
    client.get("/login")
    response = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "x"}
    )
    assert response.status_code == 403
    assert "sa_session" not in client.cookies


def test_oversize_upload_is_refused_and_leaves_no_file(
    settings: Settings, make_user: Callable[..., User], tmp_path: Path
) -> None:
    alice = make_user("alice")
    big = tmp_path / "big.wav"
    big.write_bytes(WAV.read_bytes() * 3)  # 6.4 MB > the 5 MB test limit
    response = alice.upload(big)
    assert response.status_code == 413
    assert "upload limit of 5 MB" in response.json()["error"]
    assert files_under(settings.data_dir / "tmp") == []
    assert files_under(settings.data_dir / "sessions") == []
    assert alice.client.get("/api/sessions").json()["total"] == 0


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("not_audio.wav", "not an audio or video file"),
        ("video_no_audio.mp4", "no audio track"),
        ("empty.wav", "empty"),
        ("corrupt.wav", "not an audio or video file"),
    ],
)
def test_non_audio_upload_is_refused_with_a_clear_message_and_no_file(
    settings: Settings, make_user: Callable[..., User], fixture: str, message: str
) -> None:
    alice = make_user("alice")
    response = alice.upload(FIXTURES / fixture)
    assert response.status_code in (400, 415)
    assert message in response.json()["error"]
    assert files_under(settings.data_dir / "tmp") == []
    assert files_under(settings.data_dir / "sessions") == []


def _raw_upload(user: User, filename: bytes, content: bytes) -> Any:
    boundary = b"----testboundary7MA4YWxkTrZu0gW"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="csrf_token"\r\n\r\n' + user.csrf.encode() + b"\r\n"
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="recording"; filename="' + filename + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    return user.client.post(
        "/sessions",
        content=body,
        headers={
            "content-type": "multipart/form-data; boundary=" + boundary.decode(),
            "accept": "application/json",
        },
    )


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        (b"../../../../etc/passwd.wav", "passwd.wav"),
        (b"..\\..\\windows\\system.ini", "system.ini"),
        (b"/absolute/path/session.wav", "session.wav"),
        (b"nul\x00byte.wav", "nulbyte.wav"),
        (b"\xff\xfe\xfdlatin1-\xe9.wav", "\ufffd\ufffd\ufffdlatin1-\ufffd.wav"),
        (b"x" * 5000 + b".wav", None),
        (b"..", "recording"),
        (b"<img src=x onerror=alert(1)>.wav", "<img src=x onerror=alert(1)>.wav"),
    ],
)
def test_hostile_file_names_are_stored_safely(
    settings: Settings, make_user: Callable[..., User], filename: bytes, shown: str | None
) -> None:
    alice = make_user("alice")
    response = _raw_upload(alice, filename, WAV.read_bytes())
    assert response.status_code == 201, response.text
    public_id = response.json()["id"]
    sessions = settings.data_dir / "sessions"
    audio = [p for p in files_under(sessions) if p.parent.name == "upload"]
    assert audio == [sessions / public_id / "upload" / "recording.wav"]
    assert not (settings.data_dir.parent / "etc").exists()
    listing = alice.client.get(f"/api/sessions/{public_id}").json()
    name = listing["file_name"]
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert len(name) <= 201
    if shown is not None:
        assert name == shown
    page = alice.client.get(f"/sessions/{public_id}").text
    assert "<img src=x" not in page
    csv = alice.client.get(f"/sessions/{public_id}/download/measures.csv")
    assert csv.headers["content-disposition"] == (
        f'attachment; filename="measures-{public_id[:8]}.csv"'
    )


def test_session_ids_are_random_and_unguessable(
    make_user: Callable[..., User], tmp_path: Path
) -> None:
    alice = make_user("alice")
    ids = set()
    for n in range(3):
        variant = tmp_path / f"v{n}.wav"
        variant.write_bytes(WAV.read_bytes() + bytes(n + 1) * 2)  # new bytes, new sha256
        ids.add(alice.upload_done(variant))
    assert len(ids) == 3
    assert all(PUBLIC_ID.match(i) for i in ids)
    for guess in ("1", "2", "0000000000000000000000", "../secret_key", "%2e%2e%2fsecret_key"):
        response = alice.client.get(f"/sessions/{guess}")
        assert response.status_code == 404, guess
        assert alice.client.get(f"/sessions/{guess}/audio").status_code == 404


def test_login_is_rate_limited_per_username(
    app: FastAPI, client: TestClient, make_user: Callable[..., User]
) -> None:
    make_user("alice")
    fresh = TestClient(app, base_url="http://testserver")
    for _ in range(app.state.settings.login_max_failures):
        page = fresh.get("/login")
        response = fresh.post(
            "/login",
            data={
                "username": "alice",
                "password": "wrong password",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert response.status_code == 401
    page = fresh.get("/login")
    response = fresh.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "sa_session" not in fresh.cookies


def test_logins_expire_and_logout_ends_them(app: FastAPI, make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    cookie = alice.client.cookies["sa_session"]
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 200
    with app.state.db.session() as db:
        db.execute(
            update(LoginSession).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 303
    alice.csrf = log_in(alice.client, "alice")
    with app.state.db.session() as db:
        db.execute(
            update(LoginSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
            )
        )
    assert alice.client.get("/sessions", follow_redirects=False).status_code == 303
    alice.csrf = log_in(alice.client, "alice")
    new_cookie = alice.client.cookies["sa_session"]
    assert new_cookie != cookie
    alice.client.post("/logout", data={"csrf_token": alice.csrf})
    replay = TestClient(app, base_url="http://testserver", cookies={"sa_session": new_cookie})
    assert replay.get("/sessions", follow_redirects=False).status_code == 303


def test_api_tokens_authenticate_scripts_and_can_be_revoked(
    app: FastAPI, make_user: Callable[..., User]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    public_id = alice.upload_done()
    page = alice.client.post("/tokens", data={"csrf_token": alice.csrf, "name": "export"})
    token = api_token_in(page.text)
    script = TestClient(
        app, base_url="http://testserver", headers={"authorization": f"Bearer {token}"}
    )
    assert script.get("/api/sessions").json()["total"] == 1
    assert script.get(f"/sessions/{public_id}/download/session.json").status_code == 200
    bob_id = bob.upload_done()
    assert script.get(f"/api/sessions/{bob_id}").status_code == 404
    revoke = re.search(r'action="/tokens/(\d+)/revoke"', page.text)
    assert revoke is not None
    token_id = revoke.group(1)
    alice.client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": alice.csrf})
    assert script.get("/api/sessions").status_code == 401


def test_passwords_are_stored_as_argon2id(app: FastAPI, make_user: Callable[..., User]) -> None:
    make_user("alice")
    with app.state.db.session() as db:
        stored = db.scalar(select(UserRow.password_hash).where(UserRow.username == "alice"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'nonce-" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_login_redirects_only_to_local_pages(app: FastAPI, client: TestClient) -> None:
    from tests.web.conftest import add_user

    add_user(app, "alice")
    for target, expected in (
        ("//evil.example/x", "/sessions"),
        ("https://evil.example", "/sessions"),
        ("/trainees", "/trainees"),
    ):
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


def test_audio_files_are_private_on_disk(
    settings: Settings, make_user: Callable[..., User]
) -> None:
    public_id = make_user("alice").upload_done()
    audio = settings.data_dir / "sessions" / public_id / "upload" / "recording.wav"
    assert audio.stat().st_mode & 0o077 == 0
    assert (settings.data_dir / "sessions" / public_id).stat().st_mode & 0o077 == 0


def test_recordings_table_keeps_no_path_from_the_user(
    app: FastAPI, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    response = _raw_upload(alice, b"../../x.wav", WAV.read_bytes())
    with app.state.db.session() as db:
        row = db.scalar(select(Recording).where(Recording.public_id == response.json()["id"]))
        assert row.audio_file == "recording.wav"
        assert row.original_name == "x.wav"
