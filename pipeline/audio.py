"""Decode any common audio or video file to 16 kHz float32, or say clearly why not.

Decoding goes through PyAV (FFmpeg libraries bundled in its wheel), so no
system FFmpeg is needed: wav, mp3, m4a/aac, ogg/opus, flac, webm and video
containers all work. The models get a mono mix; the separate channels are
kept for stereo recordings where each party has a channel.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import numpy.typing as npt

from pipeline.errors import (
    AudioError,
    CorruptAudioError,
    EmptyFileError,
    NotAudioError,
    SilentAudioError,
    TooLongError,
    TooShortError,
)
from pipeline.types import SAMPLE_RATE_HZ, Audio, AudioInfo

DEFAULT_MAX_DURATION_S = 4 * 3600.0
DEFAULT_MIN_DURATION_S = 1.0
DEFAULT_SILENCE_DBFS = -60.0
TRUNCATION_TOLERANCE = 0.9
"""A file whose decodable audio is shorter than this fraction of its declared duration is truncated."""
MIN_SAMPLE_RATE_HZ = 4000
"""Below this a recording cannot hold intelligible speech (telephone audio is 8 kHz)."""
ANTI_PHASE_CORRELATION = -0.5
"""A channel correlated below this with the first carries the same sound in opposite polarity."""
_CORRELATION_BLOCK = 1 << 20
"""Samples per block when correlating channels (keeps the float64 sums off a whole-file copy)."""
_WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
"""``data`` chunk sizes that streaming writers put in a WAV header when the length is unknown."""


def format_duration(seconds: float) -> str:
    """A duration as people read it, exact to the second: ``4 h 01 min 00 s``, ``2 min 05 s``."""
    if not math.isfinite(seconds):
        return f"{seconds} s"
    total = round(seconds)
    if total < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


def check_input_file(path: str | Path) -> Path:
    """Refuse anything but an existing, readable, non-empty regular file, saying what it is.

    Raises
    ------
    AudioError
        Naming the path and what it is instead: missing, a directory, a named
        pipe, a device, a socket, unreadable; :class:`EmptyFileError` for 0 bytes.
    """
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise AudioError(f"{file}: no such file") from None
    except NotADirectoryError:
        raise AudioError(f"{file}: no such file (a parent is not a folder)") from None
    except PermissionError:
        raise AudioError(f"{file}: cannot be read (permission denied)") from None
    except OSError as error:
        raise AudioError(f"{file}: cannot be read ({error.strerror or error})") from None
    mode = info.st_mode
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    for test, what in kinds:
        if test(mode):
            raise NotAudioError(f"{file}: is {what}, not a recording file")
    if not stat.S_ISREG(mode):
        raise NotAudioError(f"{file}: is not a regular file")
    if not os.access(file, os.R_OK):
        raise AudioError(f"{file}: cannot be read (permission denied)")
    if info.st_size == 0:
        raise EmptyFileError(f"{file.name}: file is empty (0 bytes)")
    return file


def _wav_data_sizes(handle: BinaryIO) -> tuple[int, int, int] | None:
    """``(declared, present, bytes_per_s)`` of a RIFF/WAVE file's ``data`` chunk, else ``None``.

    FFmpeg clamps a WAV's duration to the bytes present, so a header that
    declares ten minutes over two seconds of data would pass unnoticed; this
    reads the header itself. Unknown-length headers (0 or 0xFFFFFFFF, written
    by streaming recorders) and RF64 files yield ``None``.
    """
    handle.seek(0, os.SEEK_END)
    file_size = handle.tell()
    handle.seek(0)
    header = handle.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    position = 12
    bytes_per_s = 0
    for _ in range(64):  # a real WAV has a handful of chunks before ``data``
        handle.seek(position)
        chunk = handle.read(20)
        if len(chunk) < 8:
            return None
        chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
        if chunk_id == b"fmt " and len(chunk) >= 20:
            bytes_per_s = struct.unpack("<I", chunk[16:20])[0]
        if chunk_id == b"data":
            if size in _WAV_UNKNOWN_SIZES or bytes_per_s <= 0:
                return None
            return size, max(file_size - position - 8, 0), bytes_per_s
        position += 8 + size + (size & 1)
    return None


@contextmanager
def open_local(file: Path) -> Iterator[av.container.InputContainer]:
    """Open a local file with PyAV, always as a file: never as an FFmpeg URL or protocol.

    FFmpeg reads a path with a ``:`` as ``protocol:rest`` (``take2:final.wav``
    fails; ``concat:``, ``subfile:`` or ``http:`` would open something else), so
    the file is opened here and PyAV reads the open file object.
    """
    with file.open("rb") as handle, av.open(handle, mode="r") as container:
        yield container


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _declared_duration_s(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _channels_first(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
    """A packed float frame as ``(channels, samples)``."""
    channels = len(frame.layout.channels)
    packed = frame.to_ndarray().astype(np.float32, copy=False)
    return packed.reshape(-1, channels).T


class _SampleBuffer:
    """``(channels, samples)`` float32 filled frame by frame, grown geometrically.

    Decoded frames are copied in as they come, so the decoder's small frame
    buffers are freed at once and the recording is held once: a list of
    frames concatenated at the end would hold it twice, plus the frames'
    allocator overhead (about 300 MB for a 10-minute file).
    """

    def __init__(self, channels: int, capacity: int) -> None:
        self.data = np.empty((channels, max(capacity, 1)), dtype=np.float32)
        self.filled = 0

    def append(self, chunk: npt.NDArray[np.float32]) -> None:
        end = self.filled + chunk.shape[1]
        if end > self.data.shape[1]:
            grown = np.empty((self.data.shape[0], max(end, 2 * self.data.shape[1])), np.float32)
            grown[:, : self.filled] = self.data[:, : self.filled]
            self.data = grown
        self.data[:, self.filled : end] = chunk
        self.filled = end

    def samples(self) -> npt.NDArray[np.float32]:
        """The samples decoded; a copy only when over 1 % (and 1 s) of the buffer is unused."""
        spare = self.data.shape[1] - self.filled
        if spare > max(SAMPLE_RATE_HZ, self.data.shape[1] // 100):
            return self.data[:, : self.filled].copy()
        return self.data[:, : self.filled]


def _decode(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    *,
    max_duration_s: float,
    name: str,
    expected_s: float | None = None,
) -> npt.NDArray[np.float32]:
    """All of the stream's audio as ``(channels, samples)`` at 16 kHz.

    ``expected_s`` (the declared duration) sizes the buffer up front, so a
    well-formed file is decoded with no reallocation.
    """
    channels = stream.codec_context.channels or 1
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else stream.layout.name
    # Packed (interleaved) output: PyAV's to_ndarray() crashes the process on planar
    # frames of 8 or more channels (one plane each), so one plane is reshaped here.
    resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE_HZ)
    max_samples = int(max_duration_s * SAMPLE_RATE_HZ)
    expected = min(expected_s or 60.0, max_duration_s) + 1.0
    buffer: _SampleBuffer | None = None
    decoded = 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = _channels_first(out)
                if not np.isfinite(chunk).all():
                    raise CorruptAudioError(_non_finite_message(name, chunk, decoded))
                if buffer is None:
                    buffer = _SampleBuffer(chunk.shape[0], int(expected * SAMPLE_RATE_HZ))
                buffer.append(chunk)
                decoded += chunk.shape[1]
            if decoded > max_samples:
                raise TooLongError(
                    f"{name}: recording is longer than the limit of "
                    f"{format_duration(max_duration_s)}; split it or raise --max-duration-s"
                )
        for out in resampler.resample(None):
            chunk = _channels_first(out)
            if not np.isfinite(chunk).all():
                raise CorruptAudioError(_non_finite_message(name, chunk, decoded))
            if buffer is None:
                buffer = _SampleBuffer(chunk.shape[0], chunk.shape[1])
            buffer.append(chunk)
    except av.error.FFmpegError as error:
        if buffer is None:
            raise CorruptAudioError(
                f"{name}: audio data cannot be decoded ({error.strerror})"
            ) from error
        raise CorruptAudioError(
            f"{name}: audio data is corrupt after {decoded / SAMPLE_RATE_HZ:.1f} s ({error.strerror})"
        ) from error
    if buffer is None:
        raise CorruptAudioError(f"{name}: the audio stream holds no decodable samples")
    return buffer.samples()


def _non_finite_message(name: str, chunk: npt.NDArray[np.float32], offset: int) -> str:
    first = int(np.argmax(~np.isfinite(chunk).all(axis=0)))
    at_s = (offset + first) / SAMPLE_RATE_HZ
    return (
        f"{name}: audio data holds invalid samples (NaN or infinity) from {at_s:.2f} s on; "
        "the file was written by a faulty program: export it again"
    )


_SILENCE_FRAME = 1024
_SILENCE_HOP = 512
_SILENCE_BLOCK_FRAMES = 16_384
"""Frames measured at once (about 9 minutes): the squares take twice the samples they frame."""


def _frame_rms(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """RMS of the 1024-sample frames every 512 samples (no centring), as librosa computes it.

    The same arithmetic as ``librosa.feature.rms(y=..., center=False)`` (frames
    as a strided view, float32 squares, mean over the frame axis; the tests
    compare the two), without its first call's ~1.5 s of lazy imports
    (numba), which every analysis would otherwise wait for while decoding.
    """
    frames = np.lib.stride_tricks.sliding_window_view(block, _SILENCE_FRAME)[::_SILENCE_HOP].T
    rms: npt.NDArray[np.float32] = np.sqrt(np.mean(np.square(frames, dtype=np.float32), axis=-2))
    return rms


def is_silent(
    samples: npt.NDArray[np.float32], *, silence_dbfs: float = DEFAULT_SILENCE_DBFS
) -> bool:
    """True when no 64 ms frame reaches ``silence_dbfs`` RMS (dB relative to full scale).

    The frames (1024 samples every 512) are measured a block at a time, with
    the same values as one pass over the whole recording.
    """
    loudest = 0.0
    step = _SILENCE_BLOCK_FRAMES * _SILENCE_HOP
    for start in range(0, max(samples.shape[0] - _SILENCE_FRAME, 0) + 1, step):
        block = samples[start : start + step - _SILENCE_HOP + _SILENCE_FRAME]
        if block.shape[0] < _SILENCE_FRAME:
            break
        loudest = max(loudest, float(np.max(_frame_rms(block))))
    return bool(20 * np.log10(max(loudest, 1e-10)) < silence_dbfs)


def channel_correlation(first: npt.NDArray[np.float32], second: npt.NDArray[np.float32]) -> float:
    """Pearson correlation of two equally long channels (0 when either is constant).

    Summed in float64 over blocks, so a long recording is neither copied whole
    nor summed with float32's rounding.
    """
    n = len(first)
    sums = np.zeros(5)  # x, y, xx, yy, xy
    for start in range(0, n, _CORRELATION_BLOCK):
        x = first[start : start + _CORRELATION_BLOCK].astype(np.float64)
        y = second[start : start + _CORRELATION_BLOCK].astype(np.float64)
        sums += (x.sum(), y.sum(), x @ x, y @ y, x @ y)
    if n == 0:
        return 0.0
    sx, sy, sxx, syy, sxy = sums
    variance_x, variance_y = sxx - sx * sx / n, syy - sy * sy / n
    if variance_x <= 0 or variance_y <= 0:
        return 0.0
    return float((sxy - sx * sy / n) / math.sqrt(variance_x * variance_y))


def downmix(channel_samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The mono mix the models hear: the mean of the ``(channels, samples)`` rows.

    A channel that carries the loudest channel's sound in opposite polarity
    (correlation below :data:`ANTI_PHASE_CORRELATION`: a miswired balanced
    line, some "stereo widening" and phone-patch exports) is flipped before
    averaging; otherwise the two cancel and a recording full of speech mixes
    down to near silence. A mono file's mix is its one channel, shared rather
    than copied.
    """
    if channel_samples.shape[0] == 1:
        only: npt.NDArray[np.float32] = channel_samples[0]
        return only
    energy = [float(np.dot(channel, channel)) for channel in channel_samples]
    reference = channel_samples[int(np.argmax(energy))]
    mixed = np.zeros(channel_samples.shape[1], dtype=np.float32)
    for channel in channel_samples:
        if channel_correlation(reference, channel) < ANTI_PHASE_CORRELATION:
            mixed -= channel
        else:
            mixed += channel
    mixed /= channel_samples.shape[0]
    return mixed


def _truncated(name: str, decodable_s: float, declared_s: float) -> CorruptAudioError:
    return CorruptAudioError(
        f"{name}: file is truncated: only {format_duration(decodable_s)} of the declared "
        f"{format_duration(declared_s)} can be decoded"
    )


def _too_long(name: str, duration_s: float, max_duration_s: float) -> TooLongError:
    return TooLongError(
        f"{name}: recording lasts {format_duration(duration_s)}, over the limit of "
        f"{format_duration(max_duration_s)}; split it or raise --max-duration-s"
    )


def _audio_stream(
    container: av.container.InputContainer, file: Path, *, max_duration_s: float, index: int = 0
) -> tuple[av.AudioStream, float | None]:
    """Audio stream ``index`` (the first by default) and its declared duration, after the
    header checks.

    Raises :class:`NotAudioError` without an audio stream, :class:`TooLongError`
    when the declared duration is over the limit, :class:`CorruptAudioError`
    when a WAV header declares more data than the file holds.
    """
    name = file.name
    if not container.streams.audio:
        raise NotAudioError(f"{name}: file has no audio stream")
    stream = container.streams.audio[index]
    rate = stream.codec_context.sample_rate or 0
    if rate <= 0:
        raise NotAudioError(f"{name}: the audio stream has no sample rate")
    declared_s = _declared_duration_s(container, stream)
    with file.open("rb") as handle:
        sizes = _wav_data_sizes(handle)
    if sizes is not None:
        declared_bytes, present_bytes, bytes_per_s = sizes
        if present_bytes < TRUNCATION_TOLERANCE * declared_bytes:
            raise _truncated(name, present_bytes / bytes_per_s, declared_bytes / bytes_per_s)
    if declared_s is not None and declared_s > max_duration_s:
        raise _too_long(name, declared_s, max_duration_s)
    if rate < MIN_SAMPLE_RATE_HZ:
        raise NotAudioError(
            f"{name}: the sample rate of {rate} Hz is too low to hold speech "
            f"(at least {MIN_SAMPLE_RATE_HZ} Hz is needed)"
        )
    return stream, declared_s


def probe_audio(
    path: str | Path, *, max_duration_s: float = DEFAULT_MAX_DURATION_S
) -> float | None:
    """Check a recording without decoding it (milliseconds): what a front end checks first.

    The file must be a readable regular file that FFmpeg recognises, with an
    audio stream whose declared duration (``None`` when unknown, returned) is
    within the limit and whose WAV header does not declare more than it holds.

    Raises
    ------
    AudioError
        The same subclasses and messages as :func:`load_audio`.
    """
    file = check_input_file(path)
    try:
        with open_local(file) as container:
            _stream, declared_s = _audio_stream(container, file, max_duration_s=max_duration_s)
    except av.error.FFmpegError as error:
        raise NotAudioError(
            f"{file.name}: not a recognised audio or video file ({error.strerror})"
        ) from error
    except OSError as error:
        raise AudioError(f"{file.name}: cannot be read ({error.strerror or error})") from error
    return declared_s


def _decode_stream(
    file: Path, *, sha256: str, index: int, min_duration_s: float, max_duration_s: float
) -> tuple[AudioInfo, npt.NDArray[np.float32], int]:
    """Decode audio stream ``index`` of ``file``: its info, channels and the file's stream count.

    Raises the :class:`AudioError` subclass of a stream that cannot be analyzed
    (not audio, truncated, too short or too long).
    """
    name = file.name
    try:
        with open_local(file) as container:
            stream, declared_s = _audio_stream(
                container, file, max_duration_s=max_duration_s, index=index
            )
            streams = len(container.streams.audio)
            channel_samples = _decode(
                container, stream, max_duration_s=max_duration_s, name=name, expected_s=declared_s
            )
            info = AudioInfo(
                path=str(file),
                sha256=sha256,
                duration_s=channel_samples.shape[1] / SAMPLE_RATE_HZ,
                original_sample_rate_hz=int(stream.codec_context.sample_rate or 0),
                channels=int(channel_samples.shape[0]),
                container=container.format.name,
                codec=stream.codec_context.name,
            )
    except av.error.FFmpegError as error:
        raise NotAudioError(
            f"{name}: not a recognised audio or video file ({error.strerror})"
        ) from error
    except OSError as error:
        raise AudioError(f"{name}: cannot be read ({error.strerror or error})") from error
    if declared_s is not None and info.duration_s < TRUNCATION_TOLERANCE * declared_s - 0.5:
        raise _truncated(name, info.duration_s, declared_s)
    if info.duration_s < min_duration_s:
        raise TooShortError(
            f"{name}: recording lasts {info.duration_s:.2f} s; at least {min_duration_s:g} s is needed"
        )
    return info, channel_samples, streams


def load_audio(
    path: str | Path,
    *,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    silence_dbfs: float = DEFAULT_SILENCE_DBFS,
) -> Audio:
    """Decode a recording to 16 kHz float32 and check that it can be analyzed.

    The first audio stream is used. A file with several (a multi-track
    screen or call recording) whose first stream is silent gets the first
    stream that is not, rather than being rejected as silent.

    Parameters
    ----------
    path
        Any audio or video file FFmpeg reads.
    min_duration_s, max_duration_s
        Recordings outside this range are rejected.
    silence_dbfs
        A recording whose loudest frame stays below this level is rejected as silent.

    Raises
    ------
    AudioError
        A subclass naming the problem: :class:`EmptyFileError`, :class:`NotAudioError`,
        :class:`CorruptAudioError`, :class:`TooShortError`, :class:`TooLongError`,
        :class:`SilentAudioError`.
    """
    file = check_input_file(path)
    name = file.name
    sha256 = file_sha256(file)
    limits = {"min_duration_s": min_duration_s, "max_duration_s": max_duration_s}
    info, channel_samples, streams = _decode_stream(file, sha256=sha256, index=0, **limits)
    samples = downmix(channel_samples)
    index = 0
    while is_silent(samples, silence_dbfs=silence_dbfs):
        index += 1
        if index >= streams:
            where = f" in any of its {streams} audio streams" if streams > 1 else ""
            raise SilentAudioError(
                f"{name}: recording is silent (no sound above {silence_dbfs:g} dBFS{where})"
            )
        try:
            info, channel_samples, _ = _decode_stream(file, sha256=sha256, index=index, **limits)
        except AudioError:
            continue  # a further stream that cannot be analyzed: the first one's verdict stands
        samples = downmix(channel_samples)
    return Audio(info=info, samples=samples, channel_samples=channel_samples)
