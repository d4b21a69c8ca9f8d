"""Add the pauses inside planted segments to realistic fixtures made before the truth had them.

Usage::

    python scripts/measure_fixture_pauses.py FOLDER [FOLDER ...]

The truth of ``scripts/make_realistic_fixtures.py`` counted every planted
sentence as talk from its first to its last sound. Kokoro's breathy voice
``af_nicole`` pauses up to 1.3 s inside a sentence, so the truth of
``kokoro_exercise`` counted 7 s of its counselor's silence as talk, which the
diarization rightly does not hear. The generator now records those pauses
(:func:`make_realistic_fixtures.pauses`); this script measures them on the
committed audio, without the voices or the TTS model: each segment is cut
from its party's own channel of the stereo version (the mono mix when there
is none: the other party's speech then hides a pause, never adds one), and
its pauses are found by the generator's own rule. Where any are found, the
segments get ``pauses``, ``client_share`` is recomputed net of them and the
RTTM is rewritten split at them; the other fixtures are left as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from make_realistic_fixtures import SAMPLE_RATE, client_share, pauses, rttm_lines

from pipeline.audio import load_audio


def measure(truth_path: Path) -> bool:
    """Add the measured pauses to one fixture's truth and RTTM; whether any were found."""
    truth = json.loads(truth_path.read_text())
    folder, name = truth_path.parent, truth_path.name.removesuffix(".truth.json")
    files = truth["audio_files"]
    if "stereo" in files:
        channels = load_audio(folder / files["stereo"]).channel_samples
        sides = {
            role: ("left", "right").index(side) for side, role in truth["stereo_channels"].items()
        }
        track = {role: channels[index] for role, index in sides.items()}
    else:
        mono = load_audio(folder / files["mono"]).samples
        track = {"counselor": mono, "client": mono}
    found = False
    for segment in truth["segments"]:
        first, last = (round(segment[k] * SAMPLE_RATE) for k in ("start", "end"))
        inside = pauses(track[segment["role"]][first:last], start_s=segment["start"])
        if inside:
            segment["pauses"] = [list(p) for p in inside]
            found = True
    if found:
        truth["client_share"] = client_share(truth["segments"])
        truth_path.write_text(json.dumps(truth, indent=1) + "\n")
        (folder / f"{name}.rttm").write_text("\n".join(rttm_lines(name, truth["segments"])) + "\n")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for folder in args.folders:
        for truth_path in sorted(folder.glob("*.truth.json")):
            if measure(truth_path):
                truth = json.loads(truth_path.read_text())
                paused = sum(e - s for seg in truth["segments"] for s, e in seg.get("pauses", ()))
                print(
                    f"{truth_path}: {paused:.2f} s of pauses, client share {truth['client_share']}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
