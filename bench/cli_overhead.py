"""What ``session-analyzer analyze`` costs beyond the analysis itself (issue 10, item 4).

``python -m bench.cli_overhead [--audio FILE] [--repeats N]`` runs, in fresh
processes and alternately (so load from other work hits both alike):

* **direct**: a process that imports ``pipeline/``, decodes, transcribes and
  diarizes (side by side on the CPU, as the flow does), scores and writes the
  outputs: the pipeline functions alone, imports and model loads included;
* **analyze**: ``session-analyzer analyze FILE --out DIR --quiet``, against one
  data directory whose Prefect database is kept between runs and whose result
  cache is emptied before each run, so the models really run every time.

Both are timed from spawn to exit. The analyze process also records when its
phases ran (imports, early checks, the local API server's start, decodes,
model stages, result persistence, output writing, exit), through import hooks
that wrap a few functions; :func:`attribute_wall` turns those intervals into
wall-clock seconds per phase (overlapping phases go to the one listed first in
:data:`PRIORITY`; wall time with no phase running is orchestration).

The target: analyze takes at most 3 s longer than direct (median). Results go
to ``bench/results/cli_overhead.json`` (or ``--json``).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import importlib.abc
import importlib.machinery
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
TARGET_S = 3.0
"""Issue 10: at most this much longer through ``analyze`` than through the pipeline."""

EVENTS_ENV = "CLI_OVERHEAD_EVENTS"
"""The analyze/direct child writes its phase intervals (JSON) to this path."""

PRIORITY = (
    "model_load",
    "transcribe",
    "diarize",
    "decode",
    "score",
    "write_outputs",
    "persist_results",
    "server_start",
    "drain",
    "server_stop",
    "import",
    "checks",
    "exit",
)
"""Phases in the order that claims wall time when several run at once."""

MODES = ("direct", "analyze", "analyze_before", "analyze_server")
"""``analyze_before``: the CLI as before issue 10 item 4 (``main(argv)`` in a process it does not
own: Prefect starts its local server when the flow starts; the exit collects garbage).
``analyze_server``: the CLI with ``PREFECT_API_URL`` naming a server that is already running
(started by the benchmark, as ``make server`` would), so no server starts per call."""

Interval = tuple[str, float, float]
"""``(phase, start_s, end_s)``, seconds since the process was spawned."""


# ------------------------------------------------------------------------ pure parts


def attribute_wall(intervals: Iterable[Interval], *, total_s: float) -> dict[str, float]:
    """Wall-clock seconds of ``[0, total_s]`` per phase; the rest is ``orchestration``.

    Where phases overlap (two tasks in two threads), the one listed first in
    :data:`PRIORITY` gets the time (unknown phases come after every listed one,
    alphabetically). Intervals are clipped to ``[0, total_s]``.

    Examples
    --------
    >>> attribute_wall([("decode", 1.0, 3.0), ("model_load", 2.0, 4.0)], total_s=5.0)
    {'model_load': 2.0, 'decode': 1.0, 'orchestration': 2.0}
    """
    clipped = [
        (name, max(0.0, start), min(total_s, end))
        for name, start, end in intervals
        if min(total_s, end) > max(0.0, start)
    ]
    rank = {name: index for index, name in enumerate(PRIORITY)}
    names = sorted({n for n, _, _ in clipped}, key=lambda n: (rank.get(n, len(rank)), n))
    cuts = sorted({0.0, total_s, *(t for _, s, e in clipped for t in (s, e))})
    seconds = dict.fromkeys([*names, "orchestration"], 0.0)
    for low, high in itertools.pairwise(cuts):
        active = {n for n, s, e in clipped if s <= low and e >= high}
        owner = next((n for n in names if n in active), "orchestration")
        seconds[owner] += high - low
    rounded = {name: round(value, 3) for name, value in seconds.items()}
    return {name: value for name, value in rounded.items() if value > 0.0}


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of a list of seconds (rounded to 10 ms)."""
    return {
        "median_s": round(statistics.median(values), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


def compare(direct_s: Sequence[float], analyze_s: Sequence[float]) -> dict[str, Any]:
    """Both sides' statistics, the overhead of ``analyze`` (median and min) and the verdict."""
    direct, analyze = summarize(direct_s), summarize(analyze_s)
    overhead_median = round(analyze["median_s"] - direct["median_s"], 2)
    return {
        "direct": direct,
        "analyze": analyze,
        "overhead_median_s": overhead_median,
        "overhead_min_s": round(analyze["min_s"] - direct["min_s"], 2),
        "target_s": TARGET_S,
        "meets_target": overhead_median <= TARGET_S,
    }


def mean_phases(breakdowns: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each phase's median over runs (a phase missing from a run counts as 0 there)."""
    names = sorted({name for b in breakdowns for name in b})
    return {n: round(statistics.median([b.get(n, 0.0) for b in breakdowns]), 2) for n in names}


# --------------------------------------------------------------- child: instrumentation


class _Recorder:
    """Collects ``(phase, start, end)`` intervals, relative to the spawn time, thread-safely."""

    def __init__(self, spawned_at: float) -> None:
        self.spawned_at = spawned_at
        self.intervals: list[Interval] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() - self.spawned_at

    def add(self, phase: str, start: float, end: float) -> None:
        with self._lock:
            self.intervals.append((phase, round(start, 4), round(end, 4)))
            self.counts[phase] = self.counts.get(phase, 0) + 1

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(fn, "_bench_phase", None):
            return fn

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self.now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(phase, start, self.now())

        timed._bench_phase = phase  # type: ignore[attr-defined]
        return timed


def _patch_attr(recorder: _Recorder, owner: Any, name: str, phase: str) -> None:
    if hasattr(owner, name):
        setattr(owner, name, recorder.wrap(phase, getattr(owner, name)))


PATCHES: dict[str, list[tuple[str, str]]] = {
    # module: [(attribute path, phase)], applied right after the module is executed
    "models.loaders": [
        ("load_whisper", "model_load"),
        ("load_segmentation", "model_load"),
        ("load_campplus", "model_load"),
    ],
    "pipeline.diarize": [("_default_pipeline", "model_load")],
    "flows.analyze_session": [
        ("load_audio", "decode"),
        ("transcribe", "transcribe"),
        ("diarize_with", "diarize"),
        ("score", "score"),
        ("session_document", "score"),
        ("write_outputs", "write_outputs"),
    ],
    "pipeline.session": [
        ("load_audio", "decode"),
        ("transcribe_with", "transcribe"),
        ("diarize_with", "diarize"),
    ],
    "prefect.server.api.server": [("SubprocessASGIServer.start", "server_start")],
    "prefect.results": [("ResultStore.persist_result_record", "persist_results")],
    "flows.prefect_internals": [
        ("LocalServer.wait_ready", "server_start"),
        ("LocalServer.stop", "server_stop"),
    ],
    "prefect.logging.handlers": [("APILogWorker.drain_all", "drain")],
    "prefect.events.worker": [("EventsWorker.drain_all", "drain")],
}

TIMED_IMPORTS = frozenset(
    {"flows.analyze_session", "pipeline.session", "prefect", "torch", "faster_whisper", "librosa"}
)
"""Modules whose import (with everything it imports) counts as phase ``import``."""


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Wraps the functions of :data:`PATCHES` as soon as their module has run."""

    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in PATCHES and fullname not in TIMED_IMPORTS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module
        recorder = self.recorder

        def exec_module(module: Any) -> None:
            start = recorder.now()
            try:
                original(module)
            finally:
                if fullname in TIMED_IMPORTS:
                    recorder.add("import", start, recorder.now())
            for dotted, phase in PATCHES.get(fullname, []):
                *owners, name = dotted.split(".")
                owner = module
                for part in owners:
                    owner = getattr(owner, part)
                _patch_attr(recorder, owner, name, phase)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _child(mode: str, audio: str, out: str, events: str, spawned_at: float) -> int:
    recorder = _Recorder(spawned_at)
    started = recorder.now()
    main_end: list[float] = []

    def dump() -> None:  # registered first, so it runs after every other exit hook
        payload = {
            "interpreter_s": round(started, 3),
            "main_end_s": round(main_end[0] if main_end else recorder.now(), 3),
            "intervals": recorder.intervals,
            "counts": recorder.counts,
        }
        Path(events).write_text(json.dumps(payload))

    atexit.register(dump)
    sys.meta_path.insert(0, _PatchAfterImport(recorder))
    collecting: list[float] = []

    def on_gc(stage: str, info: dict[str, int]) -> None:
        if stage == "start":
            collecting.append(recorder.now())
        elif collecting:
            recorder.add(f"gc{info['generation']}", collecting.pop(), recorder.now())

    gc.callbacks.append(on_gc)
    try:
        if mode in MODES[1:]:
            import_start = recorder.now()
            import cli.main as cli

            recorder.add("import", import_start, recorder.now())
            check = cli.check_analyze
            cli.check_analyze = recorder.wrap("checks", check)
            argv = ["analyze", audio, "--out", out, "--quiet"]
            return cli.main(argv, own_process=mode != "analyze_before")
        return _direct(recorder, Path(audio), Path(out))
    finally:
        main_end.append(recorder.now())


def _direct(recorder: _Recorder, audio: Path, out: Path) -> int:
    """The pipeline functions alone: what ``analyze`` computes, without Prefect."""
    start = recorder.now()
    from pipeline.outputs import write_outputs
    from pipeline.session import SpeechOptions, analyze_document

    recorder.add("import", start, recorder.now())
    document = analyze_document(audio, options=SpeechOptions(), overlap=True)
    start = recorder.now()
    write_outputs(document, out)
    recorder.add("write_outputs", start, recorder.now())
    return 0


# ------------------------------------------------------------------------------ parent


def _run_child(mode: str, audio: Path, out: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """One fresh process; its wall time (spawn to exit) and its phases."""
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        events = handle.name
    spawned_at = time.time()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "bench.cli_overhead", "--child", mode]
    command += [str(audio), str(out), events, repr(spawned_at)]
    done = subprocess.run(
        command, cwd=REPO, env=dict(env), capture_output=True, text=True, check=False
    )
    wall_s = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    if done.returncode != 0:
        raise RuntimeError(f"{mode} child failed ({done.returncode}): {done.stderr[-2000:]}")
    recorded = json.loads(Path(events).read_text())
    Path(events).unlink()
    intervals: list[Interval] = [tuple(i) for i in recorded["intervals"]]
    intervals.append(("interpreter", 0.0, recorded["interpreter_s"]))
    intervals.append(("exit", recorded["main_end_s"], wall_s))
    return {
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 2),  # this process and the children it waited for (the server)
        "phases": attribute_wall(intervals, total_s=wall_s),
        "counts": recorded["counts"],
    }


def run_bench(
    *, audio: Path, repeats: int, workdir: Path, label: str, modes: Sequence[str] = MODES[:2]
) -> dict[str, Any]:
    """Run each of ``modes`` ``repeats`` times, in rotating order, after one warm-up analyze."""
    data = workdir / "data"
    env = {**os.environ, "SESSION_ANALYZER_DATA_DIR": str(data)}
    for name in list(env):
        if name.startswith("PREFECT_"):
            env.pop(name)  # local mode, as a user runs it
    results = data / "prefect" / "results"
    load_start = os.getloadavg()[0]
    warm = _run_child("analyze", audio, workdir / "out-warmup", env)  # creates the database
    server = _running_server(workdir, env) if "analyze_server" in modes else None
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    try:
        for attempt in range(repeats):
            shift = attempt % len(modes)
            for mode in [*modes[shift:], *modes[:shift]]:
                shutil.rmtree(results, ignore_errors=True)
                mode_env = env
                if mode == "analyze_server" and server is not None:
                    mode_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{server[1]}/api"}
                run = _run_child(mode, audio, workdir / f"out-{mode}-{attempt}", mode_env)
                runs[mode].append(run)
                print(
                    f"  {mode:<8} {run['wall_s']:6.2f} s (cpu {run['cpu_s']:6.2f} s) "
                    f"{run['phases']}",
                    flush=True,
                )
    finally:
        if server is not None:
            server[0].terminate()
            server[0].wait(timeout=30)
    walls = {mode: [r["wall_s"] for r in mode_runs] for mode, mode_runs in runs.items()}
    report = compare(walls["direct"], walls["analyze"])
    report["cpu_median_s"] = {
        mode: round(statistics.median(r["cpu_s"] for r in mode_runs), 2)
        for mode, mode_runs in runs.items()
    }
    for mode in modes[2:]:
        report[mode] = compare(walls["direct"], walls[mode])
    return {
        "label": label,
        "audio": audio.name,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(load_start, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "first_run_fresh_database_s": warm["wall_s"],
        **report,
        "phases_median": {mode: mean_phases([r["phases"] for r in runs[mode]]) for mode in runs},
        "runs": runs,
    }


def _running_server(workdir: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """A Prefect server that outlives the runs (its own home), as ``make server`` would run one."""
    from flows.prefect_internals import (
        LOCAL_SERVER_ENV,
        _free_port,
        _prefect_app_dir,
        answers_health,
        uvicorn_command,
    )

    port = _free_port()
    home = workdir / "server-home"
    home.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        uvicorn_command(port, app_dir=_prefect_app_dir()),
        env={**env, **LOCAL_SERVER_ENV, "PREFECT_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not answers_health(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the benchmark's Prefect server did not start")
        time.sleep(0.2)
    return process, port


def default_audio() -> Path:
    """pyannote.audio's 30-s sample recording (installed with the package)."""
    import pyannote.audio

    return Path(pyannote.audio.__file__).parent / "sample" / "sample.wav"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--audio", type=Path, default=None, help="default: pyannote's sample")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side")
    parser.add_argument("--label", default="", help="names this run in the JSON")
    parser.add_argument(
        "--before",
        action="store_true",
        help="also run the CLI as it was before (analyze_before) and against a running server",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--json", type=Path, default=RESULTS / "cli_overhead.json")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, audio, out, events, spawned_at = args.child
        return _child(mode, audio, out, events, float(spawned_at))
    audio = (args.audio or default_audio()).resolve()
    with tempfile.TemporaryDirectory(prefix="cli-overhead-") as scratch:
        workdir = args.workdir or Path(scratch)
        modes = MODES if args.before else MODES[:2]
        report = run_bench(
            audio=audio, repeats=args.repeats, workdir=workdir, label=args.label, modes=modes
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"direct  median {report['direct']['median_s']} s (min {report['direct']['min_s']})\n"
        f"analyze median {report['analyze']['median_s']} s (min {report['analyze']['min_s']})\n"
        f"overhead median {report['overhead_median_s']} s, min {report['overhead_min_s']} s "
        f"(target <= {TARGET_S} s)\nanalyze phases (median): {report['phases_median']['analyze']}"
        f"\nwrote {args.json}"
    )
    for mode in MODES[2:]:
        if mode in report:
            print(
                f"{mode}: median {report[mode]['analyze']['median_s']} s, overhead median "
                f"{report[mode]['overhead_median_s']} s; phases {report['phases_median'][mode]}"
            )
    print(f"cpu seconds (median): {report['cpu_median_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
