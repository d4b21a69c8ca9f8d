"""Environment defaults that keep counseling audio and its metadata on this machine.

Applied when :mod:`models` is imported, before any model library is: the hub
clients and pyannote read these variables when they are first imported.
Users may override each one explicitly in their environment; hub lookups are
only re-enabled when ``SESSION_ANALYZER_ALLOW_HUB=1``.
"""

from __future__ import annotations

import os

ALLOW_HUB_ENV = "SESSION_ANALYZER_ALLOW_HUB"

PRIVACY_DEFAULTS: dict[str, str] = {
    # pyannote.audio 4.x sends usage telemetry (durations, speaker counts) unless told not to.
    "PYANNOTE_METRICS_ENABLED": "0",
    # Hugging Face hub: no lookups, no telemetry.
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # Generic opt-out honoured by several libraries.
    "DO_NOT_TRACK": "1",
    # Prefect: no analytics events.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def hub_allowed() -> bool:
    """Whether the user opted in to model-hub downloads."""
    return os.environ.get(ALLOW_HUB_ENV, "") == "1"


def apply_privacy_defaults() -> None:
    """Set each privacy variable unless the user set it explicitly."""
    for name, value in PRIVACY_DEFAULTS.items():
        if name.startswith(("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")) and hub_allowed():
            continue
        os.environ.setdefault(name, value)
