"""Receive a multipart upload by streaming it to disk, enforcing size limits as it arrives.

Starlette's own form parser spools every file before the handler runs; here
each chunk is written, hashed and counted as it comes, so an oversize upload
is refused at the first byte over the limit and its partial file deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from web.storage import display_name

MAX_FIELD_BYTES = 10_000
MAX_FIELDS = 20
MAX_HEADER_BYTES = 64 * 1024
"""Room for very long (hostile or not) file names in a part's headers."""
MULTIPART_OVERHEAD_BYTES = 1_000_000


class UploadError(Exception):
    """The upload is refused; ``message`` says why in words a user understands."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class ReceivedFile:
    """One file part, stored at ``path``."""

    field: str
    original_name: str
    path: Path
    size: int = 0
    sha256: str = ""


@dataclass
class ReceivedForm:
    """The text fields and the stored files of one upload."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, ReceivedFile] = field(default_factory=dict)

    def discard(self) -> None:
        """Delete every stored file."""
        for received in self.files.values():
            received.path.unlink(missing_ok=True)


def describe_size(size: int) -> str:
    """``1 GB``, ``500 MB``, ``12 kB`` (decimal units)."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


class _Receiver:
    """Callbacks of the multipart parser; runs in a worker thread, one chunk at a time."""

    def __init__(
        self,
        limits: Mapping[str, int],
        new_path: Callable[[], Path],
        before_file: Callable[[Mapping[str, str]], None],
    ) -> None:
        self.limits = limits
        self.new_path = new_path
        self.before_file = before_file
        self.form = ReceivedForm()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value = bytearray()
        self._file: ReceivedFile | None = None
        self._handle: IO[bytes] | None = None
        self._hash: Any = None
        self._file_named = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_name = self._header_value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._value = bytearray()
        if filename is None:
            if len(self.form.fields) >= MAX_FIELDS:
                raise UploadError(400, "too many form fields")
            return
        if self._name not in self.limits or self._name in self.form.files:
            raise UploadError(400, f"unexpected file field {self._name[:40]!r}")
        self.before_file(self.form.fields)
        self._file = ReceivedFile(self._name, display_name(filename), self.new_path())
        self._file_named = bool(filename)
        self.form.files[self._name] = self._file
        self._handle = self._file.path.open("xb")
        self._file.path.chmod(0o600)
        self._hash = hashlib.sha256()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is None:
            self._value += chunk
            if len(self._value) > MAX_FIELD_BYTES:
                raise UploadError(400, f"form field {self._name[:40]!r} is too long")
            return
        assert self._handle is not None
        self._file.size += len(chunk)
        limit = self.limits[self._file.field]
        if self._file.size > limit:
            raise UploadError(
                413, f"the file is larger than the upload limit of {describe_size(limit)}"
            )
        self._handle.write(chunk)
        self._hash.update(chunk)

    def _part_end(self) -> None:
        if self._file is None:
            self.form.fields[self._name] = self._value.decode("utf-8", "replace")
            return
        assert self._handle is not None
        self._handle.close()
        self._handle = None
        self._file.sha256 = self._hash.hexdigest()
        if self._file.size == 0 and not self._file_named:
            # A file input left empty: browsers send an empty part without a name.
            self._file.path.unlink(missing_ok=True)
            del self.form.files[self._file.field]
        self._file = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_form(
    request: Request,
    *,
    limits: Mapping[str, int],
    new_path: Callable[[], Path],
    before_file: Callable[[Mapping[str, str]], None] = lambda _fields: None,
) -> ReceivedForm:
    """Stream a ``multipart/form-data`` body to disk.

    Parameters
    ----------
    limits
        Allowed file fields and the largest size of each, in bytes.
    new_path
        Gives a fresh path for each file.
    before_file
        Called with the text fields seen so far before the first byte of each
        file is stored; raise :class:`UploadError` there to refuse (e.g. CSRF).

    Raises
    ------
    UploadError
        Not multipart, malformed, too large, or refused by ``before_file``.
        No file is left behind.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadError(415, "send the recording as multipart/form-data")
    declared = request.headers.get("content-length")
    ceiling = sum(limits.values()) + MULTIPART_OVERHEAD_BYTES
    if declared is not None and declared.isdigit() and int(declared) > ceiling:
        biggest = max(limits.values())
        raise UploadError(
            413, f"the file is larger than the upload limit of {describe_size(biggest)}"
        )
    receiver = _Receiver(limits, new_path, before_file)
    parser = MultipartParser(
        boundary,
        receiver.callbacks(),  # type: ignore[arg-type]
        max_header_size=MAX_HEADER_BYTES,
    )
    try:
        async for chunk in request.stream():
            if chunk:
                await anyio.to_thread.run_sync(parser.write, chunk)
        parser.finalize()
        if receiver._file is not None:
            raise UploadError(400, "the upload ended before the file was complete")
    except ClientDisconnect:
        receiver.close()
        receiver.form.discard()
        raise UploadError(400, "the upload was interrupted") from None
    except UploadError:
        receiver.close()
        receiver.form.discard()
        raise
    except Exception as error:
        receiver.close()
        receiver.form.discard()
        raise UploadError(400, "malformed multipart upload") from error
    return receiver.form
