"""Voice expert-rated AnnoMI transcripts, to check the verdict end to end on audio.

Usage::

    python scripts/voice_annomi.py AnnoMI-full.csv VOICES_DIR --out DIR [--ids 4 9 ...]
        [--pair K] [--stereo]

The score and its bands were fitted and checked on AnnoMI's *text*
(docs/evidence.md). What a supervisor gets goes through Whisper, the
diarization and the role assignment first. This script turns transcripts into
two-voice recordings so that ``python -m bench.annomi_audio --folder DIR`` can
compare the verdict from audio with the experts' quality label and with the
verdict the same transcript's text gets.

By default it voices the eight reserved transcripts (never used to fit or tune
anything). Each utterance is synthesized sentence by sentence with Kokoro
(:mod:`make_realistic_fixtures`: model, voices, timeline, rendering), after a
pause of 0.3 to 0.8 s; nothing overlaps, so the events are not what this
measures. Voices and acoustics rotate through :data:`VOICE_PAIRS` and
:data:`ACOUSTICS` by position (same-gender pairs, room reverberation and noise
included); ``--pair K`` gives every transcript position K's voices and
acoustics (to voice more sessions of one hard pair). ``--stereo`` also writes
``annomi_<id>_stereo.ogg``, each party on its own channel with the other's
crosstalk, as a call recorder or telehealth export would (the mono mix is
unchanged). For each transcript ``annomi_<id>.ogg``, ``.rttm`` and
``.truth.json``; the truth carries an ``annomi`` block: transcript id, the
experts' quality label, and the text's score and band from the committed
coder and norms (:func:`build_norms.transcript_score`).

AnnoMI is fetched by hand from its public repository (``uccollab/AnnoMI``); it
and the voices are never committed, nor is what this script writes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annomi import RESERVED_TRANSCRIPT_IDS, AnnoMIUtterance, by_transcript, load_annomi
from build_norms import transcript_score
from make_realistic_fixtures import (
    SAMPLE_RATE,
    Dialogue,
    Step,
    Synth,
    assemble_model,
    build,
    load_voices,
    render,
    write_opus,
    write_truth,
)

from pipeline.norms import Norms, load_norms

VOICE_PAIRS: tuple[tuple[str, str], ...] = (
    ("af_sarah", "am_michael"),
    ("am_adam", "af_nicole"),
    ("bf_emma", "bf_isabella"),
    ("am_eric", "am_liam"),
    ("af_kore", "bm_george"),
    ("bm_lewis", "af_bella"),
    ("af_heart", "bf_alice"),
    ("am_puck", "am_fenrir"),
)
"""(counselor, client) Kokoro voices, by the transcript's position in the run."""
ACOUSTICS: tuple[tuple[float | None, float | None], ...] = (
    (None, None),
    (0.4, 20.0),
    (None, 15.0),
    (0.6, 12.0),
)
"""(reverberation time in s, signal-to-noise ratio in dB), by position."""
SEED = 20261201
LETTERS = re.compile(r"[A-Za-z]")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
NOT_SPOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)")
"""Transcribers' notes such as ``[inaudible]`` or ``(laughs)``."""


def sentences(text: str) -> tuple[str, ...]:
    """The spoken sentences of one utterance, transcribers' notes removed."""
    spoken = NOT_SPOKEN.sub(" ", text)
    parts = (p.strip() for p in SENTENCE_END.split(" ".join(spoken.split())))
    return tuple(p for p in parts if LETTERS.search(p))


def dialogue(
    transcript_id: int, rows: Sequence[AnnoMIUtterance], position: int, *, stereo: bool = False
) -> Dialogue:
    """One transcript as a dialogue of gap-separated turns (one per utterance).

    ``stereo`` also renders each party on its own channel (the other audible
    at :data:`make_realistic_fixtures.BLEED_DB`), as a call recorder or a
    telehealth export would; the mono mix is the same either way.
    """
    counselor, client = VOICE_PAIRS[position % len(VOICE_PAIRS)]
    rt60_s, snr_db = ACOUSTICS[position % len(ACOUSTICS)]
    steps = tuple(Step(r.role, said) for r in rows if (said := sentences(r.text)))
    return Dialogue(
        name=f"annomi_{transcript_id}",
        counselor_voice=counselor,
        client_voice=client,
        steps=steps,
        rt60_s=rt60_s,
        snr_db=snr_db,
        stereo=stereo,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", type=Path, help="AnnoMI-full.csv (never committed)")
    parser.add_argument("voices_dir", type=Path, help="folder of Kokoro English voice .pt files")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--ids", type=int, nargs="*", help="transcript ids (default: the reserved ones)"
    )
    parser.add_argument("--tts-cache", type=Path, help="keep synthesized sentences here")
    parser.add_argument(
        "--pair",
        type=int,
        help="voice every transcript with this position's voices and acoustics "
        "(default: rotate by position in --ids)",
    )
    parser.add_argument(
        "--stereo",
        action="store_true",
        help="also write <name>_stereo.ogg: each party on its own channel",
    )
    parser.add_argument(
        "--text-only",
        action="store_true",
        help="only score the text again (after the coder or the norms changed); no audio",
    )
    args = parser.parse_args(argv)
    ids = args.ids or sorted(RESERVED_TRANSCRIPT_IDS)
    if not args.csv.is_file():
        sys.exit(f"{args.csv}: no such file (AnnoMI-full.csv from uccollab/AnnoMI)")
    if not args.text_only and not args.voices_dir.is_dir():
        sys.exit(f"{args.voices_dir}: no such folder of Kokoro voices")
    transcripts = by_transcript(load_annomi(args.csv))
    missing = [i for i in ids if i not in transcripts]
    if missing:
        sys.exit(f"no transcript with id {missing} in {args.csv}")
    norms = load_norms()
    chosen = [
        (
            i,
            dialogue(
                i, transcripts[i], position if args.pair is None else args.pair, stereo=args.stereo
            ),
        )
        for position, i in enumerate(ids)
    ]
    if args.text_only:
        absent = [d.name for _, d in chosen if not (args.out / f"{d.name}.truth.json").is_file()]
        if absent:
            sys.exit(f"{args.out}: not voiced yet: {', '.join(absent)} (run without --text-only)")
        for transcript_id, spoken in chosen:
            _add_text_score(
                args.out / f"{spoken.name}.truth.json", transcripts[transcript_id], norms
            )
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = assemble_model(Path(tmp))
        names = {v for _, d in chosen for v in (d.counselor_voice, d.client_voice)}
        synth = Synth(
            model, load_voices(args.voices_dir, names, Path(tmp) / "v.npz"), args.tts_cache
        )
        for transcript_id, spoken in chosen:
            rng = np.random.default_rng([SEED, transcript_id])
            timeline = build(spoken, synth, rng)
            signals = render(spoken, timeline, rng)
            mono = signals["mono"]
            files = {"mono": f"{spoken.name}.ogg"}
            write_opus(args.out / files["mono"], mono, bit_rate=24000)
            if "stereo" in signals:
                files["stereo"] = f"{spoken.name}_stereo.ogg"
                write_opus(args.out / files["stereo"], signals["stereo"], bit_rate=32000)
            write_truth(spoken, timeline, args.out, files)
            rows = transcripts[transcript_id]
            band = _add_text_score(args.out / f"{spoken.name}.truth.json", rows, norms)
            print(
                f"{spoken.name}: {len(mono) / SAMPLE_RATE:.0f} s, {rows[0].mi_quality} quality, "
                f"text band {band}, tts {synth.seconds:.0f} s so far",
                flush=True,
            )
    return 0


def _add_text_score(truth_path: Path, rows: Sequence[AnnoMIUtterance], norms: Norms) -> str | None:
    """Write the ``annomi`` block into a truth file; return the text's band."""
    score, band = transcript_score(rows, norms)
    truth = json.loads(truth_path.read_text())
    transcript_id = rows[0].transcript_id
    truth["annomi"] = {
        "transcript_id": transcript_id,
        "mi_quality": rows[0].mi_quality,
        "reserved": transcript_id in RESERVED_TRANSCRIPT_IDS,
        "text_score": None if score is None else round(score, 3),
        "text_band": band,
    }
    truth_path.write_text(json.dumps(truth, indent=1) + "\n")
    return band


if __name__ == "__main__":
    raise SystemExit(main())
