"""Load each model once per process.

Loading a Whisper model or a torch checkpoint takes seconds and hundreds of MB;
these loaders are memoised on their arguments so every stage, flow task and
web request in one process shares the same instance.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.registry import ResolvedModel, resolve_embedding, resolve_segmentation

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from pipeline.mi_codes import MiCoder


CUBLAS_LIBRARY = Path("nvidia") / "cublas" / "lib" / "libcublas.so.12"
"""Where the ``nvidia-cublas-cu12`` wheel (installed with torch) puts cuBLAS."""


def cuda_available() -> bool:
    """Whether both CTranslate2 (Whisper) and torch (diarization) see a CUDA device."""
    import ctranslate2

    if ctranslate2.get_cuda_device_count() < 1:
        return False
    import torch

    return bool(torch.cuda.is_available())


def find_cublas() -> Path | None:
    """``libcublas.so.12`` inside the installed ``nvidia-cublas-cu12`` wheel, if any.

    ``nvidia`` is a namespace package that several wheels share; each of its
    locations is searched in import order.
    """
    spec = importlib.util.find_spec("nvidia")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).parent / CUBLAS_LIBRARY
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def preload_cublas() -> Path | None:
    """Load cuBLAS by path, once, before CTranslate2 asks for it by name.

    PyPI's CTranslate2 ``dlopen``s ``libcublas.so.12`` by name, which the
    dynamic loader finds only on ``LD_LIBRARY_PATH`` or the system paths; the
    copy that torch's ``nvidia-cublas-cu12`` dependency installs is in neither.
    A library already loaded under that soname satisfies the later
    ``dlopen``, so loading it here (globally, by path) spares users setting
    ``LD_LIBRARY_PATH``. Returns the loaded path, or ``None`` when the wheel is
    absent (a system cuBLAS may still serve). Never called on CPU.
    """
    path = find_cublas()
    if path is not None:
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path


@functools.lru_cache(maxsize=4)
def load_whisper(
    model: ResolvedModel, *, device: str, compute_type: str, cpu_threads: int, num_workers: int = 1
) -> WhisperModel:
    """A faster-whisper model; ``device`` is ``cpu`` or ``cuda`` (cuBLAS preloaded first).

    ``num_workers`` CTranslate2 replicas (each with ``cpu_threads`` threads on
    CPU) let that many threads decode at once.
    """
    if device == "cuda":
        preload_cublas()
    from faster_whisper import WhisperModel

    return WhisperModel(
        model.path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        num_workers=num_workers,
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


@functools.lru_cache(maxsize=4)
def load_campplus_onnx(*, threads: int) -> Any:
    """CAM++ through ONNX Runtime with ``threads`` threads, or None (PyTorch then runs it)."""
    from models.campplus import onnx_network

    return onnx_network(resolve_embedding(), threads=threads)


@functools.lru_cache(maxsize=1)
def load_mi_coder() -> MiCoder:
    """The per-utterance MI behaviour coder (NumPy weights, checksum verified)."""
    from models.registry import resolve_mi_coder
    from pipeline.mi_codes import read_coder

    return read_coder(resolve_mi_coder().path)
