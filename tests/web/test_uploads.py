"""The streaming multipart receiver and file-name cleaning, without the app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from web.storage import MAX_NAME_CHARS, display_name
from web.uploads import UploadError, receive_form

BOUNDARY = "xYzBoundary"
CHUNK = 64 * 1024


def _body(file_bytes: bytes, *, fields: dict[str, str] | None = None) -> bytes:
    parts = b""
    for name, value in (fields or {}).items():
        parts += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    parts += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="recording"; '
        'filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
    ).encode()
    return parts + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


class StreamedRequest:
    """An ASGI request whose body arrives in chunks; counts what was read."""

    def __init__(self, body: bytes, *, declare_length: bool = False) -> None:
        self.chunks = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]
        self.read = 0
        headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
        if declare_length:
            headers.append((b"content-length", str(len(body)).encode()))
        self.request = Request({"type": "http", "method": "POST", "headers": headers}, self.receive)

    async def receive(self) -> dict[str, Any]:
        chunk = self.chunks[self.read]
        self.read += 1
        return {"type": "http.request", "body": chunk, "more_body": self.read < len(self.chunks)}


def _receive(stream: StreamedRequest, tmp_path: Path, limit: int, **kw: Any) -> Any:
    counter = iter(range(100))
    return asyncio.run(
        receive_form(
            stream.request,
            limits={"recording": limit},
            new_path=lambda: tmp_path / f"part-{next(counter)}",
            **kw,
        )
    )


def test_a_file_is_streamed_to_disk_with_its_sha256(tmp_path: Path) -> None:
    import hashlib

    payload = bytes(range(256)) * 4000
    form = _receive(StreamedRequest(_body(payload, fields={"trainee": "Ann"})), tmp_path, 10**7)
    received = form.files["recording"]
    assert received.path.read_bytes() == payload
    assert received.size == len(payload)
    assert received.sha256 == hashlib.sha256(payload).hexdigest()
    assert form.fields == {"trainee": "Ann"}
    assert received.path.stat().st_mode & 0o077 == 0


def test_an_oversize_file_is_refused_at_the_limit_without_reading_the_rest(
    tmp_path: Path,
) -> None:
    stream = StreamedRequest(_body(b"\0" * (50 * CHUNK)))
    with pytest.raises(UploadError) as refused:
        _receive(stream, tmp_path, 5 * CHUNK)
    assert refused.value.status_code == 413
    assert stream.read <= 7  # stopped right after the limit, not after 50 chunks
    assert list(tmp_path.iterdir()) == []


def test_a_declared_oversize_body_is_refused_before_reading(tmp_path: Path) -> None:
    stream = StreamedRequest(_body(b"\0" * (50 * CHUNK)), declare_length=True)
    with pytest.raises(UploadError) as refused:
        _receive(stream, tmp_path, 5 * CHUNK)
    assert refused.value.status_code == 413 and stream.read == 0


def test_before_file_can_refuse_before_any_byte_is_stored(tmp_path: Path) -> None:
    def refuse(fields: Any) -> None:
        assert fields == {"csrf_token": "nope"}
        raise UploadError(403, "bad token")

    stream = StreamedRequest(_body(b"abc" * 1000, fields={"csrf_token": "nope"}))
    with pytest.raises(UploadError, match="bad token"):
        _receive(stream, tmp_path, 10**6, before_file=refuse)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_body_leaves_no_file(tmp_path: Path) -> None:
    body = _body(b"x" * (3 * CHUNK))[: 2 * CHUNK]
    with pytest.raises(UploadError):
        _receive(StreamedRequest(body), tmp_path, 10**7)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("session.wav", "session.wav"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\a.mp3", "a.mp3"),
        ("a\x00b\x1fc.wav", "abc.wav"),
        (b"\xff.wav", "\ufffd.wav"),
        ("", "recording"),
        ("...", "recording"),
        (None, "recording"),
        (".hidden.wav", "hidden.wav"),
    ],
)
def test_display_names_are_cleaned(raw: str | bytes | None, expected: str) -> None:
    assert display_name(raw) == expected


def test_long_names_keep_their_extension() -> None:
    name = display_name("n" * 1000 + ".m4a")
    assert len(name) == MAX_NAME_CHARS and name.endswith("….m4a")
