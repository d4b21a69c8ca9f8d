"""Content sniffing of uploads with PyAV: is it audio (or video with audio), and what kind.

Only the bytes decide; the name and the Content-Type a browser sends are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("wav", "audio/wav"),
    "mp3": ("mp3", "audio/mpeg"),
    "ogg": ("ogg", "audio/ogg"),
    "flac": ("flac", "audio/flac"),
    "aac": ("aac", "audio/aac"),
    "matroska,webm": ("webm", "audio/webm"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "audio/mp4"),
    "aiff": ("aiff", "audio/aiff"),
}
"""FFmpeg demuxer name → (file extension, MIME type the browser's player gets)."""
FALLBACK = ("audio", "application/octet-stream")


class NotMediaError(ValueError):
    """The upload is not audio, or video with an audio track; the message says which."""


@dataclass(frozen=True)
class MediaInfo:
    """What sniffing found out."""

    container: str
    channels: int
    duration_s: float | None
    has_video: bool

    @property
    def extension(self) -> str:
        """Extension of the stored file, chosen from the content, never from the user."""
        return FORMATS.get(self.container, FALLBACK)[0]


def sniff(path: Path) -> MediaInfo:
    """Open the file with FFmpeg and decode its first audio frame.

    Raises
    ------
    NotMediaError
        Empty, not a media file, no audio stream, or undecodable audio.
    """
    if path.stat().st_size == 0:
        raise NotMediaError("the file is empty")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise NotMediaError(
            "this is not an audio or video file that can be read (accepted: wav, mp3, m4a, "
            "ogg/opus, flac, webm, mp4 and other common formats)"
        ) from error
    with container:
        if not container.streams.audio:
            raise NotMediaError("the file has no audio track")
        stream = container.streams.audio[0]
        try:
            frame = next(iter(container.decode(stream)), None)
        except (av.error.FFmpegError, ValueError) as error:
            raise NotMediaError("the audio track cannot be decoded (corrupt file?)") from error
        if frame is None:
            raise NotMediaError("the audio track holds no sound")
        duration = None
        if container.duration is not None:
            duration = float(container.duration) / av.time_base
        return MediaInfo(
            container=container.format.name,
            channels=int(stream.codec_context.channels or 1),
            duration_s=duration,
            has_video=bool(container.streams.video),
        )
