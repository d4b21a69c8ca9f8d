"""Benchmark recordings with known truth, built from the committed fixtures.

The 10-minute session alternates the two synthesized counseling dialogues
(same two voices) with 1 s pauses, and carries their truth along, shifted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SAMPLE_RATE_HZ = 16_000
PAUSE_S = 1.0


@dataclass(frozen=True)
class TruthSession:
    """A recording and what we know about it."""

    name: str
    audio: Path
    truth: dict[str, Any]
    options: dict[str, Any]


def load_truth(name: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((FIXTURES / f"{name}.truth.json").read_text())
    return truth


def _shifted(item: dict[str, Any], offset_s: float) -> dict[str, Any]:
    moved = {**item, "start": item["start"] + offset_s}
    if "end" in item:
        moved["end"] = item["end"] + offset_s
    return moved


def build_long_session(target: Path, *, duration_s: float = 600.0) -> TruthSession:
    """Concatenate the two dialogues until ``duration_s``; write the wav and return its truth."""
    parts = ["dialogue_client_led", "dialogue_counselor_led"]
    pieces: list[np.ndarray] = []
    segments: list[dict[str, Any]] = []
    interruptions: list[dict[str, Any]] = []
    backchannels: list[dict[str, Any]] = []
    offset = 0.0
    index = 0
    while offset < duration_s:
        name = parts[index % 2]
        samples, rate = sf.read(FIXTURES / f"{name}.wav", dtype="float32")
        assert rate == SAMPLE_RATE_HZ
        truth = load_truth(name)
        segments += [_shifted(s, offset) for s in truth["segments"]]
        interruptions += [_shifted(i, offset) for i in truth["interruptions"]]
        backchannels += [_shifted(b, offset) for b in truth["backchannels"]]
        pieces += [samples, np.zeros(int(PAUSE_S * SAMPLE_RATE_HZ), dtype=np.float32)]
        offset += samples.shape[0] / SAMPLE_RATE_HZ + PAUSE_S
        index += 1
    audio = np.concatenate(pieces)
    target.parent.mkdir(parents=True, exist_ok=True)
    sf.write(target, audio, SAMPLE_RATE_HZ, subtype="PCM_16")
    counselor = sum(s["end"] - s["start"] for s in segments if s["role"] == "counselor")
    client = sum(s["end"] - s["start"] for s in segments if s["role"] == "client")
    truth = {
        "duration_s": audio.shape[0] / SAMPLE_RATE_HZ,
        "segments": segments,
        "interruptions": interruptions,
        "backchannels": backchannels,
        "client_share": client / (client + counselor),
        "roles": {"SPK_C": "counselor", "SPK_K": "client"},
    }
    return TruthSession("composite_10min", target, truth, {})


def truth_sessions() -> list[TruthSession]:
    """The synthesized sessions with role and event truth, and how to analyze each."""
    return [
        TruthSession(
            "dialogue_client_led",
            FIXTURES / "dialogue_client_led.wav",
            load_truth("dialogue_client_led"),
            {},
        ),
        TruthSession(
            "dialogue_counselor_led",
            FIXTURES / "dialogue_counselor_led.wav",
            load_truth("dialogue_counselor_led"),
            {},
        ),
        TruthSession(
            "dialogue_client_led.mp3",
            FIXTURES / "dialogue_client_led.mp3",
            load_truth("dialogue_client_led"),
            {},
        ),
        TruthSession(
            "video_with_audio.mp4",
            FIXTURES / "video_with_audio.mp4",
            load_truth("video_with_audio"),
            {},
        ),
        TruthSession(
            "dialogue_stereo (channel)",
            FIXTURES / "dialogue_stereo.wav",
            load_truth("dialogue_stereo"),
            {"counselor_channel": "left"},
        ),
        TruthSession(
            "dialogue_stereo (auto)",
            FIXTURES / "dialogue_stereo.wav",
            load_truth("dialogue_stereo"),
            {},
        ),
    ]
