"""Diarization with CAM++ in PyTorch against CAM++ in ONNX Runtime, in one process.

Diarizes each recording once per runtime and says whether the turns are the
same, then times the first recording alternately under each runtime::

    python -m bench.campplus_runtime --repeats 4 REC.wav [MORE.wav ...]

(``OMP_NUM_THREADS=1`` for the one-thread row of docs/benchmarks.md.) Models
load before timing. The runtime is switched by replacing
:meth:`models.campplus.CampplusEmbedding._onnx_network` for this process only,
because the diarization pipeline (and its embedding object) is built once and
cached.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.campplus import CampplusEmbedding
from pipeline.audio import load_audio
from pipeline.diarize import diarize

_ONNX: Callable[[CampplusEmbedding], Any] = CampplusEmbedding._onnx_network


def _use_onnx(enabled: bool) -> None:
    CampplusEmbedding._onnx_network = _ONNX if enabled else (lambda _self: None)  # type: ignore[method-assign, assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, nargs="+")
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    for path in args.recordings:
        audio = load_audio(path)
        turns = {}
        for enabled in (False, True):
            _use_onnx(enabled)
            turns[enabled] = diarize(audio).turns
        print(f"{path.name}: same turns under both runtimes: {turns[False] == turns[True]}")
    audio = load_audio(args.recordings[0])
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(args.repeats):
        for enabled in (False, True) if repeat % 2 == 0 else (True, False):
            _use_onnx(enabled)
            start = time.perf_counter()
            diarize(audio)
            seconds[enabled].append(time.perf_counter() - start)
    for enabled, name in ((False, "PyTorch"), (True, "ONNX Runtime")):
        runs = ", ".join(f"{s:.2f}" for s in seconds[enabled])
        print(
            f"{args.recordings[0].name} ({audio.duration_s:.0f} s), {name}: "
            f"median {statistics.median(seconds[enabled]):.2f} s ({runs})"
        )


if __name__ == "__main__":
    main()
