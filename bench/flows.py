"""Prefect's cost and the cohort's throughput: ``python -m bench.flows`` (part of ``make bench``).

Three measurements, all in one process with the models already loaded (a
warm-up session runs first), so they compare orchestration, not model loading:

1. **Overhead per session**: the same recording (a 10-minute session built by
   :func:`bench.data.build_long_session`) analyzed by calling ``pipeline/``
   directly, then through :func:`flows.analyze_session.run_session` with an
   empty cache. Target: under 5 %.
   Both run alternately, ``repeats`` times each; the fastest of each is compared.
2. **Cohort throughput**: a cohort of distinct recordings (the synthesized
   dialogues, each with a slightly different gain so no two share a cache key)
   scored with 1 and with 2 sessions at a time, in audio hours per wall-clock
   hour.
3. **Fully cached rerun** of that cohort against its first run. Target: under 10 %.

The one-time start of Prefect's ephemeral API server (paid once per CLI
process) is reported separately. Results go to ``bench/results/flows.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.data import FIXTURES, SAMPLE_RATE_HZ, build_long_session

RESULTS = Path(__file__).resolve().parent / "results"
COHORT_SOURCES = ("dialogue_client_led.wav", "dialogue_counselor_led.wav")


def build_cohort(folder: Path, *, sessions: int) -> float:
    """Write ``sessions`` distinct recordings under ``folder/<trainee>/``; return their seconds."""
    total = 0.0
    for index in range(sessions):
        samples, rate = sf.read(FIXTURES / COHORT_SOURCES[index % 2], dtype="float32")
        assert rate == SAMPLE_RATE_HZ
        gain = 1.0 - 0.01 * index  # distinct bytes, same speech: no cache key is shared
        target = folder / f"trainee{index % 3 + 1}" / f"session{index + 1:02d}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(target, (samples * gain).astype(np.float32), SAMPLE_RATE_HZ, subtype="PCM_16")
        total += samples.shape[0] / SAMPLE_RATE_HZ
    return total


def _fresh_cache(root: Path, name: str) -> Path:
    """Point the result cache at an empty folder (read by every flow run as it starts)."""
    directory = root / "data" / name
    os.environ["SESSION_ANALYZER_DATA_DIR"] = str(directory)
    return directory


def _direct(path: Path, out: Path, speech: Any) -> float:
    """The pipeline without Prefect, as ``session-analyzer analyze`` ran it before the flows."""
    from pipeline.outputs import write_outputs
    from pipeline.session import analyze_document

    start = time.perf_counter()
    write_outputs(analyze_document(path, options=speech), out)
    return time.perf_counter() - start


def _timed_session(path: Path, out: Path, speech: Any) -> tuple[float, dict[str, Any]]:
    from flows.analyze_session import run_session

    start = time.perf_counter()
    summary = run_session(path, out, speech=speech, quiet=True)
    seconds = time.perf_counter() - start
    if summary["status"] != "done":
        raise RuntimeError(f"benchmark session failed: {summary['error']}")
    return seconds, summary


def _timed_cohort(source: Path, out: Path, speech: Any, workers: int) -> dict[str, Any]:
    from flows.prefect_internals import quiet_console
    from flows.score_cohort import run_cohort_flow

    start = time.perf_counter()
    with quiet_console():
        result = run_cohort_flow(source, out, speech=speech, workers=workers)
    seconds = time.perf_counter() - start
    if result["failed"]:
        raise RuntimeError(f"benchmark cohort had failures: {result['errors']}")
    return {
        "workers": workers,
        "wall_s": round(seconds, 2),
        "audio_s": round(result["audio_s"], 2),
        "audio_hours_per_hour": round(result["audio_s"] / seconds, 2),
        "cached_sessions": result["cached"],
    }


def run_flow_bench(
    *,
    workdir: Path,
    recording_s: float = 600.0,
    cohort_sessions: int = 10,
    model: str = "base",
    worker_counts: tuple[int, ...] = (1, 2),
    repeats: int = 2,
) -> dict[str, Any]:
    """Measure Prefect's overhead, cohort throughput and a cached rerun; return the numbers.

    Parameters
    ----------
    workdir
        Scratch folder: recordings, outputs, caches and Prefect's state.
    recording_s
        Length of the recording for the overhead comparison.
    cohort_sessions
        Sessions in the throughput cohort (about 65 s of audio each).
    model
        Whisper model for every run.
    worker_counts
        Sessions at a time for the throughput runs.
    repeats
        Runs of each side of the overhead comparison; the fastest of each is compared.
    """
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect-home"))
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    _fresh_cache(workdir, "warmup")
    from flows.analyze_session import run_session  # sets Prefect's env defaults first
    from pipeline.session import SpeechOptions, analyze_speech

    speech = SpeechOptions(model=model)
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "model": model,
        "load_average_at_start": round(os.getloadavg()[0], 2),  # other work skews timings
    }

    # Warm-up: load the models, then start Prefect's ephemeral server with a first flow.
    warm = FIXTURES / "video_with_audio.mp4"
    analyze_speech(warm, options=speech)
    start = time.perf_counter()
    run_session(warm, workdir / "out" / "warmup", speech=speech, quiet=True)
    first_flow_s = time.perf_counter() - start
    start = time.perf_counter()
    run_session(warm, workdir / "out" / "warmup", speech=speech, quiet=True)
    cached_flow_s = time.perf_counter() - start
    report["prefect"] = {
        "first_flow_in_process_s": round(first_flow_s, 2),
        "cached_15s_session_flow_s": round(cached_flow_s, 3),
    }

    # 1. Overhead on one long recording: pipeline directly vs the session flow, interleaved
    #    (direct, flow, direct, flow...) so load from other processes hits both alike.
    session = build_long_session(workdir / "long.wav", duration_s=recording_s)
    duration_s = float(session.truth["duration_s"])
    direct_runs, flow_runs = [], []
    summary: dict[str, Any] = {}
    for attempt in range(repeats):
        direct_runs.append(_direct(session.audio, workdir / "out" / f"direct{attempt}", speech))
        _fresh_cache(workdir, f"overhead{attempt}")
        seconds, summary = _timed_session(session.audio, workdir / "out" / f"flow{attempt}", speech)
        flow_runs.append(seconds)
    rerun_s, rerun = _timed_session(session.audio, workdir / "out" / "flow0", speech)
    direct_s, flow_s = min(direct_runs), min(flow_runs)
    report["overhead"] = {
        "recording_s": round(duration_s, 1),
        "direct_runs_s": [round(v, 2) for v in direct_runs],
        "flow_runs_s": [round(v, 2) for v in flow_runs],
        "direct_s": round(direct_s, 2),
        "flow_s": round(flow_s, 2),
        "overhead_s": round(flow_s - direct_s, 2),
        "overhead_pct": round(100.0 * (flow_s - direct_s) / direct_s, 2),
        "flow_rerun_cached_s": round(rerun_s, 3),
        "computed_first": summary["computed"],
        "cached_rerun": rerun["cached"],
    }

    # 2-3. Cohort throughput with 1 and 2 sessions at a time; then a fully cached rerun.
    cohort_dir = workdir / "cohort"
    build_cohort(cohort_dir, sessions=cohort_sessions)
    report["cohort"] = []
    for workers in worker_counts:
        _fresh_cache(workdir, f"cohort-{workers}")
        out = workdir / "out" / f"cohort-{workers}"
        first = _timed_cohort(cohort_dir, out, speech, workers)
        cached = _timed_cohort(cohort_dir, out, speech, workers)
        first["cached_rerun_s"] = cached["wall_s"]
        first["cached_rerun_sessions_from_cache"] = cached["cached_sessions"]
        first["cached_rerun_pct_of_first"] = round(100.0 * cached["wall_s"] / first["wall_s"], 2)
        report["cohort"].append(first)
    report["load_average_at_end"] = round(os.getloadavg()[0], 2)
    return report


def _print(report: dict[str, Any]) -> None:
    overhead = report["overhead"]
    print(f"load average (1 min) at start {report['load_average_at_start']}, "
          f"at end {report['load_average_at_end']}")  # fmt: skip
    print(f"\nPrefect overhead per session ({overhead['recording_s']:.0f} s recording, "
          f"model {report['model']}, {report['cpu_count']} CPUs, models warm):")  # fmt: skip
    print(
        f"  pipeline directly   {overhead['direct_s']:8.2f} s   (runs: {overhead['direct_runs_s']})"
    )
    print(f"  session flow        {overhead['flow_s']:8.2f} s   (runs: {overhead['flow_runs_s']}) "
          f"(+{overhead['overhead_s']:.2f} s, {overhead['overhead_pct']:+.1f} %)")  # fmt: skip
    print(f"  flow, all cached    {overhead['flow_rerun_cached_s']:8.2f} s")
    prefect = report["prefect"]
    print(f"  first flow in a process (starts Prefect's local server): "
          f"{prefect['first_flow_in_process_s']:.1f} s")  # fmt: skip
    print("\nCohort throughput (audio hours per wall-clock hour) and a fully cached rerun:")
    for run in report["cohort"]:
        print(
            f"  {run['workers']} at a time: {run['audio_s'] / 60:.1f} min of audio in "
            f"{run['wall_s']:.1f} s = {run['audio_hours_per_hour']:.1f} audio h/h; "
            f"cached rerun {run['cached_rerun_s']:.1f} s "
            f"({run['cached_rerun_pct_of_first']:.1f} % of the first run, "
            f"{run['cached_rerun_sessions_from_cache']} sessions from cache)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2-minute recording, 4 sessions")
    parser.add_argument("--recording-s", type=float, default=None)
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--model", default="base")
    parser.add_argument("--repeats", type=int, default=2, help="runs per side of the overhead test")
    args = parser.parse_args()
    recording_s = args.recording_s or (120.0 if args.quick else 600.0)
    sessions = args.sessions or (4 if args.quick else 10)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-flows-") as scratch:
        report = run_flow_bench(
            workdir=Path(scratch), recording_s=recording_s, cohort_sessions=sessions,
            model=args.model, repeats=args.repeats,
        )  # fmt: skip
    _print(report)
    (RESULTS / "flows.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'flows.json'}")


if __name__ == "__main__":
    main()
