"""Device selection, the batched-decoding choice and the cuBLAS preload, checked on CPU.

The GPU path itself cannot run in CI (no GPU); these tests pin the decisions
that lead to it and the library search it depends on.
"""

from __future__ import annotations

import ctypes
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import pipeline.transcribe as transcribe_module
from models import loaders
from pipeline.transcribe import choose_compute_type, choose_decoding, choose_device


@pytest.mark.parametrize(
    ("ct2_devices", "torch_cuda", "expected"),
    [(0, False, "cpu"), (0, True, "cpu"), (1, False, "cpu"), (2, True, "cuda")],
)
def test_auto_picks_cuda_only_when_ctranslate2_and_torch_see_a_gpu(
    monkeypatch: pytest.MonkeyPatch, ct2_devices: int, torch_cuda: bool, expected: str
) -> None:
    import ctranslate2
    import torch

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: ct2_devices)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: torch_cuda)
    assert choose_device("auto") == expected


def test_explicit_device_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcribe_module, "cuda_available", lambda: pytest.fail("asked"))
    assert choose_device("cpu") == "cpu"
    assert choose_device("cuda") == "cuda"


def test_this_machine_without_gpu_runs_on_cpu() -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("a GPU is present")
    assert choose_device("auto") == "cpu"


@pytest.mark.parametrize(
    ("device", "batch_size", "vad_filter", "expected"),
    [
        ("cuda", 16, True, "batched"),
        ("cuda", 2, True, "batched"),
        ("cuda", 1, True, "sequential"),
        ("cuda", 16, False, "sequential"),
        ("cpu", 16, True, "sequential"),
        ("cpu", 1, True, "sequential"),
    ],
)
def test_batched_decoding_only_on_cuda(
    device: str, batch_size: int, vad_filter: bool, expected: str
) -> None:
    assert choose_decoding(device, batch_size, vad_filter=vad_filter) == expected


def test_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        choose_decoding("cuda", 0)


def test_compute_type_float16_on_cuda_int8_on_cpu() -> None:
    assert choose_compute_type("cuda") == "float16"
    assert choose_compute_type("cpu") == "int8"
    assert choose_compute_type("cuda", "int8_float16") == "int8_float16"


def _fake_nvidia(monkeypatch: pytest.MonkeyPatch, locations: list[Path]) -> None:
    spec = SimpleNamespace(submodule_search_locations=[str(p / "nvidia") for p in locations])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)


def test_find_cublas_searches_every_location_of_the_namespace_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    library = second / "nvidia" / "cublas" / "lib" / "libcublas.so.12"
    library.parent.mkdir(parents=True)
    library.write_bytes(b"")
    (first / "nvidia" / "cudnn" / "lib").mkdir(parents=True)
    _fake_nvidia(monkeypatch, [first, second])
    assert loaders.find_cublas() == library


def test_find_cublas_without_the_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_nvidia(monkeypatch, [tmp_path])
    assert loaders.find_cublas() is None
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert loaders.find_cublas() is None


def test_preload_loads_by_path_globally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "nvidia" / "cublas" / "lib" / "libcublas.so.12"
    library.parent.mkdir(parents=True)
    library.write_bytes(b"")
    _fake_nvidia(monkeypatch, [tmp_path])
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name, mode: calls.append((name, mode)))
    loaders.preload_cublas.cache_clear()
    try:
        assert loaders.preload_cublas() == library
        assert loaders.preload_cublas() == library  # once per process
    finally:
        loaders.preload_cublas.cache_clear()
    assert calls == [(str(library), ctypes.RTLD_GLOBAL)]


def test_whisper_on_cuda_preloads_cublas_and_cpu_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import faster_whisper

    preloads: list[str] = []
    monkeypatch.setattr(loaders, "preload_cublas", lambda: preloads.append("x"))
    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda *a, **k: SimpleNamespace(**k))
    model: Any = SimpleNamespace(path="/m", source="package")
    loaders.load_whisper.__wrapped__(model, device="cpu", compute_type="int8", cpu_threads=2)
    assert preloads == []
    loaders.load_whisper.__wrapped__(model, device="cuda", compute_type="float16", cpu_threads=2)
    assert preloads == ["x"]


def test_installed_cublas_is_found_by_name_after_the_preload() -> None:
    """The real wheel: after the preload, ``dlopen("libcublas.so.12")`` succeeds.

    That by-name load is what CTranslate2 does; a fresh interpreter keeps this
    process free of the library.
    """
    if loaders.find_cublas() is None:
        pytest.skip("nvidia-cublas-cu12 is not installed")
    script = (
        "import ctypes\n"
        "from models.loaders import preload_cublas\n"
        "assert preload_cublas() is not None\n"
        "ctypes.CDLL('libcublas.so.12')\n"
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": ""}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
