"""CAM++ through ONNX Runtime gives PyTorch's embeddings, is exported once, and falls back safely."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from models import campplus, loaders
from models.campplus import CampplusEmbedding, OnnxNetwork, fbank, onnx_network, onnx_path
from models.registry import MODEL_CACHE_ENV, resolve_embedding
from pipeline.audio import load_audio
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One model cache for the module: the graph is exported once (seconds)."""
    directory = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_ENV, str(directory))
        loaders.load_campplus_onnx.cache_clear()
        yield directory
    loaders.load_campplus_onnx.cache_clear()


@pytest.fixture(scope="module")
def exported(model_cache: Path) -> OnnxNetwork:
    network = onnx_network(resolve_embedding(), threads=1)
    assert network is not None
    return network


def _speech_features(seconds: float) -> torch.Tensor:
    audio = load_audio(FIXTURES / "dialogue_client_led.wav")
    samples = torch.as_tensor(audio.samples[: round(seconds * 16_000)])[None]
    return fbank(samples)


@pytest.mark.parametrize("seconds", [0.3, 2.0, 10.0])
def test_onnx_embeddings_equal_pytorch_on_real_speech(
    exported: OnnxNetwork, seconds: float
) -> None:
    features = _speech_features(seconds)
    network = loaders.load_campplus("cpu")
    by_torch = CampplusEmbedding(network, onnx=False).embed(features)
    by_onnx = CampplusEmbedding(network, onnx=True).embed(features)
    assert by_onnx.shape == (192,)
    assert np.abs(by_onnx - by_torch).max() < 1e-4
    cosine = by_onnx @ by_torch / np.linalg.norm(by_onnx) / np.linalg.norm(by_torch)
    assert cosine > 0.99999


def test_the_graph_is_exported_once_and_rebuilt_when_corrupt(
    exported: OnnxNetwork, model_cache: Path
) -> None:
    path = onnx_path(resolve_embedding())
    assert exported.path == path and path.parent == model_cache
    assert path.with_suffix(".sha256").is_file()
    first = path.stat().st_mtime_ns
    assert onnx_network(resolve_embedding(), threads=1) is not None
    assert path.stat().st_mtime_ns == first  # reused, not exported again
    with path.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0" * 64)
    rebuilt = onnx_network(resolve_embedding(), threads=1)
    assert rebuilt is not None and path.stat().st_mtime_ns != first
    features = _speech_features(2.0).numpy()[None]
    assert np.allclose(rebuilt(features), exported(features), atol=1e-5)


def test_without_a_graph_pytorch_runs_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path))

    def no_exporter(*_args: object, **_kwargs: object) -> None:
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(torch.onnx, "export", no_exporter)
    assert onnx_network(resolve_embedding(), threads=1) is None
    assert "CAM++ runs in PyTorch (slower)" in caplog.text
    assert not list(tmp_path.glob("*.onnx"))  # nothing half-written is left


def test_a_graph_that_disagrees_with_pytorch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(campplus, "ONNX_CHECK_TOLERANCE", -1.0)
    assert onnx_network(resolve_embedding(), threads=1) is None
    assert not list(tmp_path.iterdir())
