"""One exception type per failure kind, each with a message a user can act on.

Everything the analyzer raises on purpose derives from :class:`AnalyzerError`,
so a command-line or web front end can turn it into one clear line.
"""

from __future__ import annotations


class AnalyzerError(Exception):
    """Base class of every expected failure."""


class AudioError(AnalyzerError):
    """The recording cannot be analyzed as it is."""


class EmptyFileError(AudioError):
    """The file has no bytes."""


class NotAudioError(AudioError):
    """The file is not a media file, or has no audio stream."""


class CorruptAudioError(AudioError):
    """The file's audio data cannot be decoded, or is truncated."""


class TooShortError(AudioError):
    """The recording is shorter than the minimum we can analyze."""


class TooLongError(AudioError):
    """The recording is longer than the configured limit."""


class SilentAudioError(AudioError):
    """The recording contains no audible signal."""


class DiarizationError(AnalyzerError):
    """Speaker diarization could not produce a usable result."""


class OptionError(AnalyzerError):
    """An option is outside what the analysis accepts, or the output folder cannot be used."""


class OrchestrationError(AnalyzerError):
    """The workflow engine (Prefect) cannot run here as configured."""
