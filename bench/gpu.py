"""The GPU check for issue 10, as one short script for a machine that has a GPU.

1. What the process sees: CTranslate2's and torch's CUDA devices, the GPU's
   name, and the cuBLAS file preloaded by path.
2. Accuracy on pyannote's real 30 s sample call, CPU and CUDA in the same
   run: DER (segmentation + CAM++ on the device) and WER (batched float16
   and one-by-one decoding on CUDA; int8 on CPU).
3. Cold end-to-end runs (fresh processes, models loaded inside) on a
   composite recording, with 1, 2, ... sessions at once on the device:
   seconds per audio hour and audio hours per wall hour.

    python -m bench.gpu --minutes 60 --sessions 1 2 4 --json bench/results/gpu.json

Nothing here has been run on a GPU yet (this repository has had none); on a
CPU-only machine ``--device cpu`` exercises the same code.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.data import build_long_session
from bench.overlap import run_once


def environment() -> dict[str, Any]:
    """The devices CTranslate2 and torch see, and the preloaded cuBLAS."""
    import ctranslate2
    import torch

    from models.loaders import preload_cublas

    cuda = torch.cuda.is_available()
    return {
        "ctranslate2_cuda_devices": ctranslate2.get_cuda_device_count(),
        "torch_cuda": cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "cublas_preloaded": str(preload_cublas()) if cuda else None,
    }


def accuracy(device: str) -> dict[str, float]:
    """DER and WER on the real sample call, on ``device`` and on the CPU."""
    from bench.accuracy import sample_call_accuracy

    configs: dict[str, dict[str, Any]] = {"cpu int8": {"device": "cpu"}}
    diarization: dict[str, dict[str, Any]] = {"cpu": {"device": "cpu"}}
    if device != "cpu":
        configs[f"{device} batched"] = {"device": device, "batch_size": 16}
        configs[f"{device} one by one"] = {"device": device, "batch_size": 1}
        diarization[device] = {"device": device}
    return sample_call_accuracy(diarization, configs)


def concurrent_sessions(path: Path, *, sessions: int, device: str) -> dict[str, Any]:
    """``sessions`` cold end-to-end runs started together; audio hours per wall hour."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        runs = list(
            pool.map(lambda _: run_once(path, overlap=False, device=device), range(sessions))
        )
    wall_s = time.perf_counter() - start
    audio_s = sum(run["audio_s"] for run in runs)
    return {
        "sessions": sessions,
        "wall_s": round(wall_s, 1),
        "audio_hours_per_hour": round(audio_s / wall_s, 1),
        "seconds_per_audio_hour_each": [
            round(run["seconds"] / run["audio_s"] * 3600, 1) for run in runs
        ],
        "peak_rss_mb": [round(run["peak_rss_mb"]) for run in runs],
        "same_words_as_first": all(run["words"] == runs[0]["words"] for run in runs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"environment": environment()}
    print(report["environment"], flush=True)
    report["sample_call"] = {k: round(v, 4) for k, v in accuracy(args.device).items()}
    print(report["sample_call"], flush=True)
    report["end_to_end"] = []
    with tempfile.TemporaryDirectory() as tmp:
        session = build_long_session(Path(tmp) / "long.wav", duration_s=args.minutes * 60)
        for sessions in args.sessions:
            outcome = concurrent_sessions(session.audio, sessions=sessions, device=args.device)
            report["end_to_end"].append(outcome)
            print(outcome, flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
