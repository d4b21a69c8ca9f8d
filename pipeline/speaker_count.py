"""How many people speak at each frame, voted by the overlapping segmentation windows.

pyannote.audio estimates the instantaneous speaker count as the mean, over
every 10 s window covering a frame, of how many speakers that window finds
there, rounded with ``numpy.rint``. ``rint`` rounds halves to even: with our
segmentation step of 0.5 (each frame covered by two windows), one window that
hears one speaker and one that hears two make ``1.5 -> 2``, an overlap, while
one that hears silence and one that hears a speaker make ``0.5 -> 0``. The
count decides how many speakers each frame gets, so a tie becomes spurious
overlapped speech.

On telephone-band audio (300-3400 Hz) the segmentation model disagrees with
itself more often between windows, and these ties added about 8 points of
false-alarm speech on pyannote's sample call (docs/benchmarks.md, "Narrowband
and codecs"). Rounding ties down (a speaker counts only when more than half of
the windows hear them) removes that bias without changing any frame where the
windows' majority is clear.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def round_half_down(values: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
    """Round to the nearest integer, halves going down: ``0.5 -> 0``, ``1.5 -> 1``, ``1.6 -> 2``."""
    rounded: npt.NDArray[np.uint8] = np.maximum(np.ceil(values - 0.5), 0).astype(np.uint8)
    return rounded


def speaker_count(
    binarized_segmentations: Any,
    frames: Any,
    *,
    warm_up: tuple[float, float] = (0.1, 0.1),
) -> Any:
    """Frame-level speaker count, as pyannote's ``speaker_count`` but with ties rounded down.

    Parameters
    ----------
    binarized_segmentations
        ``SlidingWindowFeature`` of shape ``(chunks, frames_per_chunk, local_speakers)``.
    frames
        The output frame resolution (``SlidingWindow``).
    warm_up
        Fractions of each window to ignore at its left and right edges.

    Returns
    -------
    SlidingWindowFeature
        ``(frames, 1)`` counts as ``uint8``.
    """
    from pyannote.audio.core.inference import Inference

    trimmed = Inference.trim(binarized_segmentations, warm_up=warm_up)
    count = Inference.aggregate(
        np.sum(trimmed, axis=-1, keepdims=True),
        frames,
        hamming=False,
        missing=0.0,
        skip_average=False,
    )
    count.data = round_half_down(count.data)
    return count
