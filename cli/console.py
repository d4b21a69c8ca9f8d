"""What the console shows: the user's results and errors, not third-party chatter.

pyannote.audio warns on import that torchcodec "is not installed correctly"
(about 20 lines) although this project never lets pyannote decode audio (it
gets waveforms in memory); other libraries warn about features we do not use.
A new user reads such lines as a broken install, so they are hidden unless
``--verbose`` is given. Warnings of this project's own code still show.
"""

from __future__ import annotations

import os
import warnings

IGNORED_WARNINGS: tuple[tuple[str, str], ...] = (
    # (message regex, module regex)
    (r"(?s).*torchcodec is not installed correctly", ""),
    (r"(?s).*torchaudio\._backend", ""),
    (r"(?s).*std\(\): degrees of freedom is <= 0", ""),
    (r"(?s).*TensorFloat-32", ""),
    (r"(?s).*In the future, the default backend for audio I/O", ""),
)
"""Warnings about features we do not use, hidden from the console."""

THIRD_PARTY_MODULES = r"(pyannote|torch|torchaudio|torchcodec|speechbrain|lightning|pytorch_lightning|lightning_fabric|sklearn|numba|onnxruntime|ctranslate2|faster_whisper|prefect|pydantic|asteroid_filterbanks)(\..*)?"
"""Modules whose ``UserWarning``/``DeprecationWarning``/``FutureWarning`` are not for our users."""


def quiet_third_party_warnings(*, environment: bool = True) -> None:
    """Hide third-party warnings in this process (and, via ``PYTHONWARNINGS``, its children).

    Parameters
    ----------
    environment
        Also set ``PYTHONWARNINGS`` so spawned worker processes start quiet
        (kept when the user set it).
    """
    for message, module in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=module)
    for category in (UserWarning, DeprecationWarning, FutureWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category, module=THIRD_PARTY_MODULES)
    if environment:
        os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:pyannote.audio.core.io")
