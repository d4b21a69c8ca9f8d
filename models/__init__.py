"""Model registry: offline weights resolved to verified local files, loaded once per process."""

from models.privacy import apply_privacy_defaults

apply_privacy_defaults()

from models.registry import (  # noqa: E402
    DEFAULT_WHISPER_MODEL,
    ModelChecksumError,
    ModelError,
    ModelNotInstalledError,
    UnknownModelError,
    resolve_embedding,
    resolve_segmentation,
    resolve_whisper,
)

__all__ = [
    "DEFAULT_WHISPER_MODEL",
    "ModelChecksumError",
    "ModelError",
    "ModelNotInstalledError",
    "UnknownModelError",
    "resolve_embedding",
    "resolve_segmentation",
    "resolve_whisper",
]
