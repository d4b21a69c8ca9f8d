"""Shared fixtures: paths to real and synthesized recordings, and signal makers."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from pipeline.accuracy import pyannote_sample_dir

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
ANNOMI_SYNTHETIC = FIXTURES / "annomi_synthetic.csv"
"""An invented table in AnnoMI's format (the real CSV is never committed)."""


def script_module(name: str) -> ModuleType:
    """Import a development script of ``scripts/`` (they import each other by bare name)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


@pytest.fixture(scope="session")
def annomi() -> ModuleType:
    """``scripts/annomi.py``: the AnnoMI loader and the reserved transcript ids."""
    return script_module("annomi")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return pyannote_sample_dir()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


def tone(
    duration_s: float,
    *,
    frequency_hz: float = 220.0,
    sample_rate_hz: int = 16_000,
    level: float = 0.3,
) -> npt.NDArray[np.float32]:
    """A sine tone: a cheap stand-in for an audible signal."""
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    return (level * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def write_wav(path: Path, samples: npt.NDArray[np.float32], sample_rate_hz: int = 16_000) -> Path:
    sf.write(path, samples.T if samples.ndim == 2 else samples, sample_rate_hz)
    return path
