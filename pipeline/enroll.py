"""Voice enrollment: which diarized speaker sounds like a known counselor.

Programs record the same trainee many times; a short reference recording of
the counselor (10–30 s of their voice alone) identifies them in every session
by speaker-embedding similarity (CAM++, cosine).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.campplus import CampplusEmbedding, embed_waveform
from models.loaders import load_campplus
from pipeline.audio import load_audio
from pipeline.types import SAMPLE_RATE_HZ, Audio, Turn

MAX_SPEECH_PER_SPEAKER_S = 120.0
MIN_TURN_S = 0.5


def speaker_samples(
    audio: Audio,
    exclusive: Sequence[Turn],
    speaker: str,
    *,
    max_speech_s: float = MAX_SPEECH_PER_SPEAKER_S,
) -> npt.NDArray[np.float32]:
    """Up to ``max_speech_s`` of one speaker's exclusive speech, longest turns first."""
    turns = sorted(
        (t for t in exclusive if t.speaker == speaker and t.duration_s >= MIN_TURN_S),
        key=lambda t: -t.duration_s,
    )
    pieces: list[npt.NDArray[np.float32]] = []
    total = 0.0
    for turn in turns:
        if total >= max_speech_s:
            break
        a, b = int(turn.start * SAMPLE_RATE_HZ), int(turn.end * SAMPLE_RATE_HZ)
        pieces.append(audio.samples[a:b])
        total += turn.duration_s
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def _cosine(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def enrollment_similarities(
    audio: Audio,
    exclusive: Sequence[Turn],
    speakers: Sequence[str],
    enrollment: str | Path,
    *,
    device: str = "cpu",
) -> dict[str, float]:
    """Cosine similarity of each speaker's voice to the enrollment recording (-1 to 1)."""
    embedding = CampplusEmbedding(load_campplus(device), device=device)
    reference = embed_waveform(embedding, load_audio(enrollment).samples)
    similarities: dict[str, float] = {}
    for speaker in speakers:
        samples = speaker_samples(audio, exclusive, speaker)
        if samples.shape[0] < SAMPLE_RATE_HZ:  # under 1 s of clean speech: no reliable embedding
            continue
        similarities[speaker] = round(_cosine(reference, embed_waveform(embedding, samples)), 4)
    return similarities
