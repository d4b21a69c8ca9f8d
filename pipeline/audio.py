"""Decode any common audio or video file to 16 kHz float32, or say clearly why not.

Decoding goes through PyAV (FFmpeg libraries bundled in its wheel), so no
system FFmpeg is needed: wav, mp3, m4a/aac, ogg/opus, flac, webm and video
containers all work. The models get a mono mix; the separate channels are
kept for stereo recordings where each party has a channel.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import librosa
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


def _decode(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    *,
    max_duration_s: float,
    name: str,
) -> npt.NDArray[np.float32]:
    """All of the stream's audio as ``(channels, samples)`` at 16 kHz."""
    channels = stream.codec_context.channels or 1
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else stream.layout.name
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE_HZ)
    chunks: list[npt.NDArray[np.float32]] = []
    decoded = 0
    max_samples = int(max_duration_s * SAMPLE_RATE_HZ)
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().astype(np.float32, copy=False)
                chunks.append(chunk)
                decoded += chunk.shape[1]
            if decoded > max_samples:
                raise TooLongError(
                    f"{name}: recording is longer than the limit of {max_duration_s / 3600:g} h; "
                    "split it or raise --max-duration-s"
                )
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().astype(np.float32, copy=False))
    except av.error.FFmpegError as error:
        if not chunks:
            raise CorruptAudioError(
                f"{name}: audio data cannot be decoded ({error.strerror})"
            ) from error
        raise CorruptAudioError(
            f"{name}: audio data is corrupt after {decoded / SAMPLE_RATE_HZ:.1f} s ({error.strerror})"
        ) from error
    if not chunks:
        raise CorruptAudioError(f"{name}: the audio stream holds no decodable samples")
    return np.concatenate(chunks, axis=1)


def is_silent(
    samples: npt.NDArray[np.float32], *, silence_dbfs: float = DEFAULT_SILENCE_DBFS
) -> bool:
    """True when no 64 ms frame reaches ``silence_dbfs`` RMS (dB relative to full scale)."""
    rms = librosa.feature.rms(y=samples, frame_length=1024, hop_length=512, center=False)
    loudest = float(np.max(rms)) if rms.size else 0.0
    return bool(20 * np.log10(max(loudest, 1e-10)) < silence_dbfs)


def load_audio(
    path: str | Path,
    *,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    silence_dbfs: float = DEFAULT_SILENCE_DBFS,
) -> Audio:
    """Decode a recording to 16 kHz float32 and check that it can be analyzed.

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
    file = Path(path)
    name = file.name
    if not file.is_file():
        raise AudioError(f"{file}: no such file")
    if file.stat().st_size == 0:
        raise EmptyFileError(f"{name}: file is empty (0 bytes)")
    sha256 = file_sha256(file)
    try:
        container = av.open(str(file), mode="r")
    except av.error.FFmpegError as error:
        raise NotAudioError(
            f"{name}: not a recognised audio or video file ({error.strerror})"
        ) from error
    with container:
        if not container.streams.audio:
            raise NotAudioError(f"{name}: file has no audio stream")
        stream = container.streams.audio[0]
        declared_s = _declared_duration_s(container, stream)
        if declared_s is not None and declared_s > max_duration_s:
            raise TooLongError(
                f"{name}: recording lasts {declared_s / 3600:.1f} h, over the limit of "
                f"{max_duration_s / 3600:g} h; split it or raise --max-duration-s"
            )
        channel_samples = _decode(container, stream, max_duration_s=max_duration_s, name=name)
        info = AudioInfo(
            path=str(file),
            sha256=sha256,
            duration_s=channel_samples.shape[1] / SAMPLE_RATE_HZ,
            original_sample_rate_hz=int(stream.codec_context.sample_rate or 0),
            channels=int(channel_samples.shape[0]),
            container=container.format.name,
            codec=stream.codec_context.name,
        )
    if declared_s is not None and info.duration_s < TRUNCATION_TOLERANCE * declared_s - 0.5:
        raise CorruptAudioError(
            f"{name}: file is truncated: only {info.duration_s:.1f} s of the declared "
            f"{declared_s:.1f} s can be decoded"
        )
    if info.duration_s < min_duration_s:
        raise TooShortError(
            f"{name}: recording lasts {info.duration_s:.2f} s; at least {min_duration_s:g} s is needed"
        )
    samples = channel_samples.mean(axis=0).astype(np.float32)
    if is_silent(samples, silence_dbfs=silence_dbfs):
        raise SilentAudioError(
            f"{name}: recording is silent (no sound above {silence_dbfs:g} dBFS)"
        )
    return Audio(info=info, samples=samples, channel_samples=channel_samples)
