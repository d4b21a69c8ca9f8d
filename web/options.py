"""How the uploader asked for a recording to be analyzed, checked the same way for an upload
and for "Analyze again".

Three choices, each with a safe default: who the counselor is (``hint``), how
to treat a stereo recording (``channels``) and who speaks (``speakers``).
Refusals are :class:`~web.uploads.UploadError` with a sentence that says what
to choose instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from web.media import MediaInfo, NotMediaError, sniff
from web.models import CHANNEL_MODES, HINTS, SPEAKERS
from web.uploads import ReceivedFile, UploadError


@dataclass(frozen=True)
class AnalysisChoices:
    """The uploader's three choices, each one of its allowed values."""

    hint: str = "auto"
    channels: str = "auto"
    speakers: str = "2"


def read_choices(
    fields: Mapping[str, str], *, defaults: AnalysisChoices = AnalysisChoices()
) -> AnalysisChoices:
    """The choices of a submitted form; an empty or missing field keeps its value in
    ``defaults`` (an upload: the first of each; analyzing again: the session's own).

    Raises
    ------
    UploadError
        An unknown value, a channel hint together with mixing the channels, or a third
        voice asked for where each party has a channel.
    """
    hint = fields.get("hint") or defaults.hint
    if hint not in HINTS:
        raise UploadError(400, "unknown counselor hint")
    channels = fields.get("channels") or defaults.channels
    if channels not in CHANNEL_MODES:
        raise UploadError(400, "unknown stereo channel setting")
    speakers = fields.get("speakers") or defaults.speakers
    if speakers not in SPEAKERS:
        raise UploadError(
            400,
            "unknown speakers setting: choose 2 (counselor and client) or 2-3 (and perhaps "
            "one more voice)",
        )
    if channels == "mix" and hint in ("left", "right"):
        raise UploadError(
            400,
            f"the {hint}-channel hint means one person per channel; it cannot go with "
            "mixing the channels — choose one",
        )
    if speakers == "2-3" and (channels == "split" or hint in ("left", "right")):
        raise UploadError(
            400,
            "with one person per channel each channel's talk is its party's, so a third voice "
            "cannot be set apart there: choose 'Mix the channels' to tell the voices apart by "
            "sound, or counselor and client only",
        )
    return AnalysisChoices(hint=hint, channels=channels, speakers=speakers)


def check_channels(choices: AnalysisChoices, *, audio_channels: int) -> None:
    """Refuse choices that need a stereo recording when the recording is not one."""
    if choices.hint in ("left", "right") and audio_channels < 2:
        raise UploadError(
            400,
            f"the {choices.hint}-channel hint needs a stereo recording; this one has "
            f"{audio_channels} channel — choose another hint",
        )
    if choices.channels == "split" and audio_channels != 2:
        raise UploadError(
            400,
            f"one person per channel needs a two-channel recording; this one has "
            f"{audio_channels} — choose another stereo setting",
        )


def sniff_or_refuse(received: ReceivedFile, *, what: str = "") -> MediaInfo:
    """The file's audio stream, or a 415 :class:`UploadError` naming it (``what`` first)."""
    try:
        return sniff(received.path)
    except NotMediaError as error:
        raise UploadError(415, f"{what}{received.original_name}: {error}") from None
