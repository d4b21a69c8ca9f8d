"""Transcription and diarization one after the other against side by side, same run.

Each configuration runs in a fresh process (models loaded inside, like a cold
``analyze``), alternating ``sequential`` and ``overlapped`` so machine load
drifts over both alike. Prints seconds, RTF, peak RSS and the 1-minute load
average around each run, and whether the two configurations produced the
same words and turns.

    python -m bench.overlap --minutes 10 --repeats 1 --json bench/results/overlap.json
    python -m bench.overlap --minutes 30 --only overlapped     # peak memory on a long session
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench.data import build_long_session


def _child(path: str, overlap: bool, device: str, queue: Any) -> None:
    warnings.filterwarnings("ignore")
    from pipeline.session import SpeechOptions, analyze_speech, score

    marks: dict[str, float] = {}

    def mark(stage: str, _done: float, _total: float) -> None:
        marks[stage] = time.perf_counter()

    start = time.perf_counter()
    options = SpeechOptions(device=device)
    result = analyze_speech(path, options=options, progress=mark, overlap=overlap)
    score(result.diarization.turns, result.utterances, duration_s=result.audio.duration_s)
    seconds = time.perf_counter() - start
    stage_ends = {k: round(v - start, 2) for k, v in marks.items()}
    queue.put(
        {
            "seconds": seconds,
            "audio_s": result.audio.duration_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "stage_ends_s": stage_ends,
            "words": [(w.start, w.end, w.text, w.speaker) for w in result.words],
            "turns": [(t.start, t.end, t.speaker) for t in result.diarization.turns],
        }
    )


def run_once(path: Path, *, overlap: bool, device: str = "auto") -> dict[str, Any]:
    """One cold end-to-end run of the model stages in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    load_before = os.getloadavg()[0]
    process = context.Process(target=_child, args=(str(path), overlap, device, queue))
    process.start()
    outcome: dict[str, Any] = queue.get()
    process.join()
    outcome["load_1min_before"] = round(load_before, 2)
    outcome["load_1min_after"] = round(os.getloadavg()[0], 2)
    outcome["config"] = "overlapped" if overlap else "sequential"
    return outcome


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument(
        "--only", choices=["sequential", "overlapped"], default=None, help="run one configuration"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        session = build_long_session(Path(tmp) / "long.wav", duration_s=args.minutes * 60)
        runs = []
        for _ in range(args.repeats):
            for overlap in (False, True):
                if args.only is not None and args.only != (
                    "overlapped" if overlap else "sequential"
                ):
                    continue
                run = run_once(session.audio, overlap=overlap, device=args.device)
                runs.append(run)
                print(
                    f"{run['config']:<11} {run['seconds']:7.1f} s  "
                    f"RTF {run['seconds'] / run['audio_s']:.3f}  "
                    f"peak {run['peak_rss_mb']:.0f} MB  "
                    f"load {run['load_1min_before']:.1f}->{run['load_1min_after']:.1f}  "
                    f"stage ends {run['stage_ends_s']}",
                    flush=True,
                )
    first = {r["config"]: r for r in runs[:2]}
    same_words = same_turns = None
    if len(first) == 2:
        same_words = first["sequential"]["words"] == first["overlapped"]["words"]
        same_turns = first["sequential"]["turns"] == first["overlapped"]["turns"]
        print(f"identical words: {same_words}; identical turns: {same_turns}")
    if args.json is not None:
        write_runs_json(args.json, runs, identical_words=same_words, identical_turns=same_turns)


def write_runs_json(path: Path, runs: list[dict[str, Any]], **extra: Any) -> None:
    """Write ``runs`` (words and turns as counts, not content) and ``extra`` as JSON."""
    summary = [
        {k: v for k, v in r.items() if k not in ("words", "turns")}
        | {"words": len(r["words"]), "turns": len(r["turns"])}
        for r in runs
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": summary, **extra}, indent=2))


if __name__ == "__main__":
    main()
