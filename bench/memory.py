"""Peak memory of each model stage against recording length, each run in a fresh process.

A stage runs on composite recordings of the committed dialogues
(:func:`bench.data.build_long_session`) of several lengths; the slope of peak
RSS between two lengths is what that stage adds per minute of audio (model
weights and library state cancel out). A sampler thread reads the process's
resident set every 50 ms and records in which stage the peak fell.

    python -m bench.memory --minutes 10 30 --stages transcribe diarize
    python -m bench.memory --minutes 10 30 60 --stages speech --json bench/results/memory.json
    python -m bench.memory --minutes 10 --stages transcribe --dump /tmp/words   # keep outputs

Stages: ``decode`` (load_audio), ``transcribe`` (decode + Whisper),
``diarize`` (decode + pyannote), ``speech`` (what ``analyze`` runs on the
CPU: decode, both model stages side by side, attribution and scoring).
``--dump DIR`` writes each run's words and turns to ``DIR`` (synthesized
speech only, never committed) to compare outputs between versions.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from bench.data import build_long_session
from bench.overlap import write_runs_json

STAGES = ("decode", "transcribe", "diarize", "speech")
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE_MB


class _Sampler:
    """Samples this process's RSS; remembers the peak and the stage it fell in."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.stage = "start"
        self.peak_mb = 0.0
        self.peak_stage = "start"
        self.stage_peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = _rss_mb()
            stage = self.stage
            self.stage_peaks[stage] = max(self.stage_peaks.get(stage, 0.0), rss)
            if rss > self.peak_mb:
                self.peak_mb, self.peak_stage = rss, stage
            time.sleep(self.interval_s)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _child(stage: str, path: str, options: dict[str, Any], queue: Any) -> None:
    warnings.filterwarnings("ignore")  # library chatter would bury the table
    from pipeline.audio import load_audio
    from pipeline.session import SpeechOptions, analyze_speech, diarize_with, score
    from pipeline.transcribe import transcribe

    speech = SpeechOptions(device="cpu")
    words: list[Any] = []
    turns: list[Any] = []
    with _Sampler() as sampler:
        sampler.stage = "decode"
        start = time.perf_counter()
        if stage == "speech":

            def mark(name: str, done: float, total: float) -> None:
                if done >= total:  # the stage that ends hands over to whichever still runs
                    sampler.stage = f"after {name}"
                elif not sampler.stage.startswith(("transcribe", "diarize")):
                    sampler.stage = "transcribe+diarize"

            result = analyze_speech(path, options=speech, progress=mark, overlap=True)
            sampler.stage = "score"
            score(result.diarization.turns, result.utterances, duration_s=result.audio.duration_s)
            audio_s = result.audio.duration_s
            words = [(w.start, w.end, w.text, w.speaker) for w in result.words]
            turns = [(t.start, t.end, t.speaker) for t in result.diarization.turns]
        else:
            audio = load_audio(path)
            audio_s = audio.duration_s
            if stage == "transcribe":
                sampler.stage = "transcribe"
                transcript = transcribe(audio, device="cpu", **options)
                words = [(w.start, w.end, w.text) for w in transcript.words]
            elif stage == "diarize":
                sampler.stage = "diarize"
                diarization = diarize_with(audio, speech)
                turns = [(t.start, t.end, t.speaker) for t in diarization.turns]
            del audio
        seconds = time.perf_counter() - start
    queue.put(
        {
            "stage": stage,
            "audio_s": audio_s,
            "seconds": round(seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak_stage": sampler.peak_stage,
            "stage_peaks_mb": {k: round(v) for k, v in sampler.stage_peaks.items()},
            "words": words,
            "turns": turns,
        }
    )


def run_stage(stage: str, path: Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stage on one recording in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    load_before = os.getloadavg()[0]
    process = context.Process(target=_child, args=(stage, str(path), options or {}, queue))
    process.start()
    outcome: dict[str, Any] = queue.get()
    process.join()
    outcome["load_1min"] = f"{load_before:.1f}->{os.getloadavg()[0]:.1f}"
    return outcome


def slopes(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Peak-RSS MB per audio minute of each stage, between its shortest and longest run."""
    out: dict[str, float] = {}
    for stage in {r["stage"] for r in runs}:
        mine = sorted((r for r in runs if r["stage"] == stage), key=lambda r: r["audio_s"])
        if len(mine) >= 2 and mine[-1]["audio_s"] > mine[0]["audio_s"]:
            minutes = (mine[-1]["audio_s"] - mine[0]["audio_s"]) / 60
            out[stage] = round((mine[-1]["peak_rss_mb"] - mine[0]["peak_rss_mb"]) / minutes, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=["transcribe", "diarize"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--dump", type=Path, default=None, help="write words and turns here")
    parser.add_argument(
        "--transcribe-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a keyword for pipeline.transcribe.transcribe, value as JSON (transcribe stage)",
    )
    args = parser.parse_args(argv)
    options = {
        name: json.loads(value)
        for name, value in (item.split("=", 1) for item in args.transcribe_option)
    }
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            session = build_long_session(
                Path(tmp) / f"long{minutes:g}.wav", duration_s=minutes * 60
            )
            for stage in args.stages:
                run = run_stage(stage, session.audio, options if stage == "transcribe" else None)
                run["minutes"] = minutes
                runs.append(run)
                print(
                    f"{stage:<10} {run['audio_s']:7.0f} s audio  {run['seconds']:7.1f} s  "
                    f"peak {run['peak_rss_mb']:6.0f} MB in {run['peak_stage']}  "
                    f"load {run['load_1min']}  stage peaks {run['stage_peaks_mb']}",
                    flush=True,
                )
                if args.dump is not None:
                    args.dump.mkdir(parents=True, exist_ok=True)
                    target = args.dump / f"{stage}_{minutes:g}min.json"
                    target.write_text(json.dumps({"words": run["words"], "turns": run["turns"]}))
    per_minute = slopes(runs)
    for stage, slope in sorted(per_minute.items()):
        print(f"{stage}: {slope:+.1f} MB peak RSS per audio minute")
    if args.json is not None:
        write_runs_json(args.json, runs, mb_per_audio_minute=per_minute)


if __name__ == "__main__":
    main()
