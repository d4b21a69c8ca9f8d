"""``make bench``: speed, memory and accuracy of the analyzer, against named baselines.

Prints tables and writes ``bench/results/bench.json``. Speed is measured on a
10-minute two-speaker recording built from the fixtures; accuracy on
pyannote's real sample call (DER, WER) and on synthesized counseling sessions
with known truth (roles, talk share, interruptions, backchannels).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.accuracy import role_accuracy_table, sample_call_accuracy
from bench.data import build_long_session
from bench.speed import StageRun, measure
from bench.truth import reference_turns
from pipeline.accuracy import diarization_error_rate
from pipeline.types import Turn

RESULTS = Path(__file__).resolve().parent / "results"

# pyannote's own recipe (segmentation step 0.1 of the window, batch size 1) is the baseline.
DIARIZATION_CONFIGS = {
    "pyannote default (step 0.1, batch 1)": {
        "segmentation_step": 0.1,
        "segmentation_batch_size": 1,
        "embedding_batch_size": 1,
    },
    "ours (step 0.5, batch 32)": {
        "segmentation_step": 0.5,
        "segmentation_batch_size": 32,
        "embedding_batch_size": 32,
    },
}
TRANSCRIBE_CONFIGS = {
    "tiny.en int8": {"model": "tiny.en"},
    "base int8 (default)": {"model": "base"},
}


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def speed(quick: bool) -> tuple[list[StageRun], dict[str, float]]:
    session = build_long_session(
        RESULTS / "composite_10min.wav", duration_s=120.0 if quick else 600.0
    )
    reference = reference_turns(session.truth, label="speaker")
    print(f"measuring on {session.audio.name} ({session.truth['duration_s']:.0f} s)", flush=True)
    runs = [measure("decode", "PyAV → 16 kHz", session.audio)]
    runs += [
        measure("transcribe", name, session.audio, **cfg)
        for name, cfg in TRANSCRIBE_CONFIGS.items()
    ]
    ders: dict[str, float] = {}
    for name, cfg in DIARIZATION_CONFIGS.items():
        run = measure("diarize", name, session.audio, **cfg)
        hypothesis = [Turn(*t) for t in run.extra.pop("turns")]
        ders[name] = diarization_error_rate(reference, hypothesis, duration_s=run.audio_s)
        runs.append(run)
    runs.append(
        measure("end_to_end", "analyze (cold, base, ours)", session.audio, out=str(RESULTS / "e2e"))
    )
    return runs, ders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2-minute recording instead of 10")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cpu_count": os.cpu_count()}

    runs, ders = speed(args.quick)
    rows = []
    for run in runs:
        der = ders.get(run.config)
        rows.append(
            [
                run.stage,
                run.config,
                f"{run.audio_s:.0f}",
                f"{run.seconds:.1f}",
                f"{run.rtf:.3f}",
                f"{run.peak_rss_mb:.0f}",
                "" if der is None else f"{der:.1%}",
            ]
        )
    print("\nSpeed and memory (RTF = processing s / audio s; peak RSS of a fresh process)")
    print(_table(rows, ["stage", "config", "audio s", "time s", "RTF", "peak MB", "DER"]))
    e2e = runs[-1]
    print("\nEnd-to-end phases (cold: includes model loading):")
    for phase, seconds in e2e.extra["phases_s"].items():
        print(f"  {phase:<11}{seconds:8.2f} s   RTF {seconds / e2e.audio_s:.4f}")
    report["speed"] = [asdict(r) | {"rtf": r.rtf, "der": ders.get(r.config)} for r in runs]

    sample = sample_call_accuracy(DIARIZATION_CONFIGS, TRANSCRIBE_CONFIGS)
    print("\nAccuracy on pyannote's real 30 s phone call (DER no collar, WER normalised)")
    print(_table([[k, f"{v:.1%}"] for k, v in sample.items()], ["measure", "value"]))
    report["sample_call"] = sample

    rows, summary = role_accuracy_table()
    print("\nClient-led measures on synthesized sessions with known truth")
    print(
        _table(
            rows,
            [
                "session",
                "roles",
                "client share (truth)",
                "abs err",
                "interr. found/truth",
                "false interr.",
                "backch. found/truth",
            ],
        )
    )
    print(
        _table(
            [[k, v if isinstance(v, str) else f"{v:.3f}"] for k, v in summary.items()],
            ["summary", "value"],
        )
    )
    report["truth_sessions"] = {"rows": rows, "summary": summary}

    (RESULTS / "bench.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / 'bench.json'}")


if __name__ == "__main__":
    main()
