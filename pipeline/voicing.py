"""Where a signal is voiced: YIN's periodicity, frame by frame.

Energy alone cannot tell a talker from a noisy line: a VoIP line's office
noise or hiss, 20-40 dB under its party's speech, stands well above a floor
of digital zeros. Voiced speech (vowels, voiced consonants) repeats itself
every pitch period; line noise, hiss and breath do not. YIN (de Cheveigné
and Kawahara 2002, "YIN, a fundamental frequency estimator for speech and
music") measures this as the cumulative-mean-normalised difference function:
its minimum over the pitch lags is near 0 for a periodic frame; white and
pink noise read 0.55 and more, while low rumble (brown noise) can dip to
0.3 in a frame now and then.

``librosa.yin`` computes the same function but returns only the pitch, not
how periodic each frame is; ``librosa.pyin`` gives a voicing probability but
took 6.8 s per minute of audio on this project's 2-core machine, against
0.06-0.15 s here for every frame. So the function is computed here, on
frames cut with ``librosa.util.frame``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipeline.types import SAMPLE_RATE_HZ

WINDOW_S = 0.025
"""The stretch compared with its shifted copy, centred on the frame's time."""
MIN_PITCH_HZ = 50.0
"""The lowest pitch searched (a low male voice): the longest period compared."""
MAX_PITCH_HZ = 400.0
"""The highest pitch searched (a high female or child's voice): the shortest period compared."""
_CHUNK_FRAMES = 4096
"""Frames processed at once (about 60 MB of work arrays at 16 kHz)."""


def aperiodicity(
    samples: npt.NDArray[np.float32],
    *,
    hop: int,
    frames: npt.NDArray[np.bool_] | None = None,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> npt.NDArray[np.float64]:
    """YIN's aperiodicity of frames every ``hop`` samples: near 0 periodic, 0.55+ for hiss.

    The minimum over pitch periods of :data:`MIN_PITCH_HZ`-:data:`MAX_PITCH_HZ`
    of the cumulative-mean-normalised difference of a :data:`WINDOW_S` window
    centred on sample ``i * hop`` with its copy shifted later by each period.
    There are as many frames as ``librosa.feature.rms(center=True)`` gives
    (``1 + len(samples) // hop``), at the same times. Silent frames read 1.

    Parameters
    ----------
    hop
        Samples between frames.
    frames
        Compute only the frames marked True (shape ``(1 + len(samples) // hop,)``);
        the others read ``inf``. None computes every frame.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> voiced = aperiodicity(np.sin(2 * np.pi * 150 * t).astype(np.float32), hop=320)
    >>> bool(np.median(voiced) < 0.05)
    True
    >>> noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    >>> bool(np.median(aperiodicity(noise, hop=320)) > 0.7)
    True
    """
    import librosa  # heavy; imported where the work is
    import scipy.fft

    window = round(WINDOW_S * sample_rate_hz)
    min_lag = int(sample_rate_hz // MAX_PITCH_HZ)
    max_lag = int(np.ceil(sample_rate_hz / MIN_PITCH_HZ))
    span = window + max_lag  # a frame: its window and the window shifted by the longest period
    n_fft = 1 << int(np.ceil(np.log2(span)))  # no shift of the window reaches past it
    n_frames = 1 + len(samples) // hop
    if frames is not None and frames.shape != (n_frames,):
        raise ValueError(f"frames has shape {frames.shape}; expected ({n_frames},)")
    lags = np.arange(1, max_lag + 1)
    out = np.full(n_frames, np.inf)
    for first in range(0, n_frames, _CHUNK_FRAMES):
        last = min(n_frames, first + _CHUNK_FRAMES)
        rows = np.arange(last - first) if frames is None else np.flatnonzero(frames[first:last])
        if not len(rows):
            continue
        # the samples of frames first..last-1 only, zero-padded at the recording's edges
        # (padding the whole recording would copy it: 0.9 GB a channel at four hours)
        start = first * hop - window // 2
        stop = start + (last - 1 - first) * hop + span
        piece = np.zeros(stop - start, dtype=np.float32)
        inside = samples[max(start, 0) : min(stop, len(samples))]
        piece[max(-start, 0) : max(-start, 0) + len(inside)] = inside
        chunk = librosa.util.frame(piece, frame_length=span, hop_length=hop, axis=0)[rows]
        # r(tau) = sum_j x[j] x[j + tau] over the window, for every lag at once
        spectrum = scipy.fft.rfft(chunk, n_fft) * np.conj(scipy.fft.rfft(chunk[:, :window], n_fft))
        correlation = scipy.fft.irfft(spectrum, n_fft)[:, 1 : max_lag + 1]
        energy = np.concatenate([np.zeros((len(chunk), 1)), np.cumsum(chunk**2, axis=1)], axis=1)
        # d(tau) = sum_j (x[j] - x[j + tau])^2 = E(window at 0) + E(window at tau) - 2 r(tau)
        difference = (
            energy[:, window : window + 1]
            + energy[:, window + 1 : window + max_lag + 1]
            - energy[:, 1 : max_lag + 1]
            - 2 * correlation
        )
        difference = np.maximum(difference, 0.0)
        running_mean = np.cumsum(difference, axis=1) / lags
        normalised = np.divide(
            difference,
            running_mean,
            out=np.ones_like(difference),
            where=running_mean > 1e-12,
        )
        out[first + rows] = normalised[:, min_lag - 1 :].min(axis=1)
    return out


def _widen(mask: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_]:
    """``mask`` with every True frame widened by ``reach`` frames either side (same length)."""
    kernel = np.ones(2 * reach + 1, dtype=np.int32)
    return np.convolve(mask.astype(np.int32), kernel, "full")[reach : reach + len(mask)] > 0


def near_voicing(
    samples: npt.NDArray[np.float32],
    *,
    hop: int,
    max_aperiodicity: float,
    reach_s: float,
    frames: npt.NDArray[np.bool_] | None = None,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> npt.NDArray[np.bool_]:
    """Frames (as :func:`aperiodicity` places them) within ``reach_s`` of a voiced one.

    A frame is voiced when its aperiodicity is at most ``max_aperiodicity``;
    reaching ``reach_s`` either side keeps the unvoiced sounds of speech
    (s, f, t, a breathy onset) that sit next to its vowels. With ``frames``,
    only those frames are answered (the others read False), and only the
    frames within ``reach_s`` of them are measured: a channel's loud frames
    are a fraction of it.

    Examples
    --------
    >>> t = np.arange(32000) / 16000
    >>> x = np.where(t < 1.0, np.sin(2 * np.pi * 150 * t), 0.0).astype(np.float32)
    >>> near = near_voicing(x, hop=320, max_aperiodicity=0.35, reach_s=0.2)
    >>> int(near.sum()), len(near)  # 1 s of voicing and 0.2 s after it; silence reads unvoiced
    (61, 101)
    """
    reach = round(reach_s * sample_rate_hz / hop)
    measured = None if frames is None else _widen(frames, reach)
    found = aperiodicity(samples, hop=hop, frames=measured, sample_rate_hz=sample_rate_hz)
    near = _widen(found <= max_aperiodicity, reach)
    return near if frames is None else near & frames
