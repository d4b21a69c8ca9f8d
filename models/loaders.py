"""Load each model once per process.

Loading a Whisper model or a torch checkpoint takes seconds and hundreds of MB;
these loaders are memoised on their arguments so every stage, flow task and
web request in one process shares the same instance.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from models.registry import ResolvedModel, resolve_embedding, resolve_segmentation

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from pipeline.mi_codes import MiCoder


def cuda_available() -> bool:
    """Whether a CUDA device can be used."""
    import torch

    return bool(torch.cuda.is_available())


@functools.lru_cache(maxsize=4)
def load_whisper(
    model: ResolvedModel, *, device: str, compute_type: str, cpu_threads: int
) -> WhisperModel:
    """A faster-whisper model; ``device`` is ``cpu`` or ``cuda``."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        model.path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        local_files_only=model.source != "hub",
    )


@functools.lru_cache(maxsize=2)
def load_segmentation(device: str = "cpu") -> Any:
    """pyannote's segmentation-3.0 ``Model``, from the verified packaged checkpoint."""
    import torch
    from pyannote.audio import Model

    checkpoint = resolve_segmentation()
    model = Model.from_pretrained(checkpoint.path)
    if model is None:  # pyannote returns None instead of raising on some failures
        from models.registry import ModelError

        raise ModelError(f"pyannote could not load the segmentation checkpoint {checkpoint.path}")
    model.eval()
    return model.to(torch.device(device))


@functools.lru_cache(maxsize=2)
def load_campplus(device: str = "cpu") -> Any:
    """The CAM++ speaker-embedding network with its verified packaged weights."""
    from models.campplus import load_campplus_network

    return load_campplus_network(resolve_embedding(), device=device)


@functools.lru_cache(maxsize=1)
def load_mi_coder() -> MiCoder:
    """The per-utterance MI behaviour coder (NumPy weights, checksum verified)."""
    from models.registry import resolve_mi_coder
    from pipeline.mi_codes import read_coder

    return read_coder(resolve_mi_coder().path)
