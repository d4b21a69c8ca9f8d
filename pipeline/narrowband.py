"""Recognise telephone-band recordings, whatever rate they were decoded to.

A call recorded at 8 kHz (PCM, G.711, AMR-NB, narrowband Opus) carries no
sound above 4 kHz, even after resampling to the 16 kHz the models use. The
diarization treats such recordings slightly differently (ties between
segmentation windows count as fewer speakers, see pipeline/speaker_count.py),
because their segmentation is less consistent between windows; measurements
in docs/benchmarks.md, "Narrowband and codecs".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal

NARROWBAND_CUTOFF_HZ = 4_500.0
"""Above 4 kHz (the Nyquist frequency of 8 kHz audio) by enough that the images an
8 -> 16 kHz resampler leaves just above 4 kHz are not counted."""
DEFAULT_HIGH_BAND_DB = -50.0
"""A recording whose power above the cutoff is below this (dB relative to all its power) is narrowband.

Measured (bench/degraded.py, decoded by pipeline.audio): 8 kHz-origin audio sits
at -57 dB or lower (white noise; speech -67 or lower: pyannote's sample call and
every 8 kHz PCM, G.711, AMR-NB and telephone-band copy in the benchmark); 16 kHz
speech at -37 dB or higher (the synthesized dialogues about -19, the 14 AMI
excerpts -37 to -21). 8 kbit/s Opus of wideband speech keeps up to 6 kHz (-40)
and counts as wideband.
"""
MAX_ANALYSED_S = 600.0


def high_band_db(
    samples: npt.NDArray[np.float32],
    *,
    sample_rate_hz: int = 16_000,
    cutoff_hz: float = NARROWBAND_CUTOFF_HZ,
) -> float:
    """Power above ``cutoff_hz`` relative to the total, in dB (Welch PSD of the first 10 minutes).

    Returns ``-inf`` for a recording with no power above the cutoff, and 0 for silence.
    """
    clip = np.asarray(samples[: int(MAX_ANALYSED_S * sample_rate_hz)], dtype=np.float64)
    frequencies, power = signal.welch(clip, fs=sample_rate_hz, nperseg=1024)
    total = float(np.sum(power))
    if total <= 0.0:
        return 0.0
    high = float(np.sum(power[frequencies >= cutoff_hz]))
    return float(10 * np.log10(high / total)) if high > 0.0 else float("-inf")


def is_narrowband(
    samples: npt.NDArray[np.float32],
    *,
    sample_rate_hz: int = 16_000,
    threshold_db: float = DEFAULT_HIGH_BAND_DB,
) -> bool:
    """True when the recording carries telephone-band audio only (see :func:`high_band_db`)."""
    return high_band_db(samples, sample_rate_hz=sample_rate_hz) < threshold_db
