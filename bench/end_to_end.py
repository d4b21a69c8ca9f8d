"""``session-analyzer analyze`` end to end, against a named baseline commit (issue 10, item 1).

``python -m bench.end_to_end --minutes 10 50 --baseline REV [--repeats N]`` runs,
for each composite recording (the fixture dialogues end to end,
:func:`bench.data.build_long_session`, with known turns and words):

* **now**: ``python -m cli.main analyze FILE --out DIR --quiet`` from this tree;
* **baseline**: the same command from a ``git worktree`` of ``REV`` (removed
  afterwards), with the same virtual environment.

Each run is a cold process (imports, Prefect's local server and model loads
included) against its tree's data directory, whose Prefect database is made
by an untimed warm-up run (one dialogue) and kept, and whose result cache is
emptied before every run so the models really run; the two trees alternate,
so load from other work hits both alike. Reported per run: wall seconds, real-time
factor (RTF), seconds per audio hour, peak RSS of the analyze process, and
its DER (no collar, pyannote.metrics) and WER against the composite's truth.
Results go to ``bench/results/end_to_end.json`` (or ``--json``). The GPU
rows come from a recorded ``python -m bench.gpu`` run (``--gpu-json``,
default ``bench/results/gpu.json``), with the GPU named, when there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.data import TruthSession, build_long_session
from bench.truth import reference_turns
from pipeline.accuracy import diarization_error_rate, word_error_rate
from pipeline.types import Turn

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class EndToEndRun:
    """One cold ``analyze`` process on one recording."""

    tree: str
    recording: str
    audio_s: float
    wall_s: float
    peak_rss_mb: float
    der: float
    wer: float

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s

    @property
    def s_per_audio_hour(self) -> float:
        return 3600.0 * self.rtf


def rttm_turns(text: str) -> list[Turn]:
    """The turns of an RTTM file (``SPEAKER file 1 start duration <NA> <NA> label ...``)."""
    turns = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start = float(fields[3])
            turns.append(Turn(start, start + float(fields[4]), fields[7]))
    return turns


def output_accuracy(out_dir: Path, truth: dict[str, Any]) -> tuple[float, float]:
    """``(DER, WER)`` of an ``analyze`` output folder against a composite's truth."""
    reference = reference_turns(truth, label="speaker")
    hypothesis = rttm_turns((out_dir / "diarization.rttm").read_text())
    der = diarization_error_rate(reference, hypothesis, duration_s=truth["duration_s"])
    spoken = " ".join(s["text"] for s in sorted(truth["segments"], key=lambda s: s["start"]))
    document = json.loads((out_dir / "session.json").read_text())
    heard = " ".join(u["text"] for u in document["utterances"])
    return der, word_error_rate(spoken, heard)


def analyze_once(
    tree: Path, session: TruthSession, *, work: Path, key: str, name: str
) -> EndToEndRun:
    """One cold ``analyze`` of ``session`` from the source tree ``tree`` (data in ``work/key``)."""
    data = work / key / "data"
    shutil.rmtree(data / "prefect" / "results", ignore_errors=True)
    out = work / key / "out"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "cli.main", "analyze", str(session.audio)]
    command += ["--out", str(out), "--quiet"]
    env = {**os.environ, "SESSION_ANALYZER_DATA_DIR": str(data)}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL)
    try:
        _pid, status, usage = os.wait4(child.pid, 0)
    except BaseException:  # interrupted: the analyze process (and its server) go too
        child.terminate()
        child.wait()
        raise
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"analyze from {tree} exited with {child.returncode}")
    der, wer = output_accuracy(out, session.truth)
    return EndToEndRun(
        tree=name,
        recording=session.audio.name,
        audio_s=float(session.truth["duration_s"]),
        wall_s=round(wall, 2),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        der=round(der, 4),
        wer=round(wer, 4),
    )


def table(runs: list[EndToEndRun]) -> str:
    """A Markdown table of the runs."""
    lines = [
        "| tree | recording | audio s | wall s | RTF | s per audio hour | peak RSS MB | DER | WER |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.tree} | {r.recording} | {r.audio_s:.0f} | {r.wall_s:.1f} | {r.rtf:.3f} | "
            f"{r.s_per_audio_hour:.0f} | {r.peak_rss_mb:,.0f} | {100 * r.der:.2f} % | "
            f"{100 * r.wer:.2f} % |"
        )
    return "\n".join(lines)


def recorded_gpu_rows(path: Path) -> list[str]:
    """Markdown rows for the GPU runs ``python -m bench.gpu --json PATH`` recorded, if any.

    The GPU rows are not measured in this run (the machine may have no GPU):
    they are read back, with the GPU's name, from the recorded file.
    """
    if not path.is_file():
        return [
            f"GPU: no recorded run ({path} is absent; `python -m bench.gpu --json {path}` "
            "on a GPU machine writes it)"
        ]
    report = json.loads(path.read_text())
    gpu = report["environment"].get("gpu") or "CPU (a --device cpu smoke run)"
    rows = [
        f"GPU runs recorded in {path.name} ({gpu}): cold end-to-end runs started together",
        "| sessions at once | wall s | audio hours per hour | s per audio hour, each | "
        "peak RSS MB, each | same words |",
        "|---|---|---|---|---|---|",
    ]
    for run in report["end_to_end"]:
        rows.append(
            f"| {run['sessions']} | {run['wall_s']} | {run['audio_hours_per_hour']} | "
            f"{', '.join(map(str, run['seconds_per_audio_hour_each']))} | "
            f"{', '.join(map(str, run['peak_rss_mb']))} | {run['same_words_as_first']} |"
        )
    rows.append(f"sample call on the same machine: {report['sample_call']}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0])
    parser.add_argument("--baseline", help="a commit to compare with (a git worktree of it)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, default=RESULTS / "end_to_end.json")
    parser.add_argument("--gpu-json", type=Path, default=RESULTS / "gpu.json")
    args = parser.parse_args(argv)
    # SIGTERM as an exception, so the worktree and the running analyze are cleaned up too
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="end-to-end-"))
    trees = {"now": REPO}
    try:
        if args.baseline:
            baseline = work / "baseline"
            added = subprocess.run(
                ["git", "worktree", "add", "--detach", str(baseline), args.baseline],
                cwd=REPO,
                check=False,
                capture_output=True,
                text=True,
            )
            if added.returncode != 0:
                parser.error(f"--baseline {args.baseline}: {added.stderr.strip().splitlines()[-1]}")
            trees = {f"baseline {args.baseline}": baseline, "now": REPO}
        # Untimed: the first run in a data directory creates and migrates Prefect's database
        # (10-15 s), which every later run reuses, as a user's runs do.
        warm_up = build_long_session(RESULTS / "composite_warm_up.wav", duration_s=1.0)
        for index, (name, tree) in enumerate(trees.items()):
            analyze_once(tree, warm_up, work=work, key=f"tree{index}", name=name)
        runs: list[EndToEndRun] = []
        for minutes in args.minutes:
            target = RESULTS / f"composite_{minutes:g}min.wav"
            session = build_long_session(target, duration_s=60.0 * minutes)
            for _ in range(args.repeats):
                for index, (name, tree) in enumerate(trees.items()):
                    run = analyze_once(tree, session, work=work, key=f"tree{index}", name=name)
                    runs.append(run)
                    print(table([run]).splitlines()[-1], flush=True)
    finally:
        if args.baseline:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(work / "baseline")],
                cwd=REPO,
                check=False,
                capture_output=True,
            )
        shutil.rmtree(work, ignore_errors=True)
    print(table(runs))
    print("\n".join(recorded_gpu_rows(args.gpu_json)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([asdict(r) | {"rtf": r.rtf} for r in runs], indent=2))


if __name__ == "__main__":
    main()
