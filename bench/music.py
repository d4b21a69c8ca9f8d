"""Music in a session recording: ignored, or taken for a voice?

Counseling demonstration videos open and close with music, a phone line plays
hold music, a radio plays in the room. This adds real music to dialogues with
planted truth (the mono mixes of ``tests/fixtures/realistic*``), runs the whole
pipeline with its defaults on each recording, and scores what the music did.
The music is six Creative Commons pieces from the public repository
``librosa/data`` (its ``audio/`` folder, fetched by hand and never shipped; see
:data:`PIECES`). Conditions (:data:`CONDITIONS`):

- ``intro_outro``: 20 s of ragtime piano before the session and 15 s of a
  string orchestra after it, at the speech level, with 1 s fades and 1 s of
  silence between music and speech;
- ``drums_intro``: 20 s of drum and bass before the session, the same way;
- ``bed``: jazz under the whole session, 20 dB below the speech;
- ``hold``: 30 s of a waltz, 6 dB below the speech, at the middle turn end
  (a call put on hold);
- ``song_intro``: 20 s of a song (a singer and a guitar) before the session;
- ``song_bed``: that song under the whole session, 15 dB below the speech.

Per recording: the client's talk-share error against the planted turns, the
diarization check's level, the verdict, the words transcribed more than 0.5 s
from any planted speech (music heard as words) and the diarized talk more than
0.3 s from it::

    python -m bench.music --music LIBROSA_DATA/audio [--folders DIR ...] [--cache DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.degraded import CONFIDENT_WRONG_SHARE_ERROR
from bench.third_voice import Dialogue, Samples, _rms, add_common_arguments, dialogues, report
from bench.truth import talk_spans
from pipeline.types import SAMPLE_RATE_HZ

PIECES = {
    "ragtime": "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime.hq.ogg",
    "strings": "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg",
    "drums": "admiralbob77_-_Choice_-_Drum-bass.hq.ogg",
    "jazz": "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
    "waltz": "147793__setuniman__sweet-waltz-0i-22mi.hq.ogg",
    "song": "Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg",
}
"""File names in ``librosa/data``'s ``audio/`` folder (CC BY / CC0, see its ``*.txt``)."""
FADE_S = 1.0
GAP_S = 1.0
"""Silence between music and speech."""
STRAY_WORD_S = 0.5
"""A word whose middle lies further than this from every planted turn is not the parties'."""
STRAY_TALK_S = 0.3
"""Diarized talk further than this from every planted turn is not the parties'."""

Span = tuple[float, float, str]
"""A planted turn: start, end (s) and role."""


@dataclass(frozen=True)
class Built:
    """A dialogue with music: its samples and the planted turns where they now lie."""

    samples: Samples
    reference: tuple[Span, ...]


def _clip(piece: Samples, start_s: float, duration_s: float) -> Samples:
    return piece[round(start_s * SAMPLE_RATE_HZ) : round((start_s + duration_s) * SAMPLE_RATE_HZ)]


def _faded(samples: Samples) -> Samples:
    ramp = np.linspace(0.0, 1.0, round(FADE_S * SAMPLE_RATE_HZ), dtype=np.float32)
    out = samples.astype(np.float32).copy()
    out[: len(ramp)] *= ramp
    out[-len(ramp) :] *= ramp[::-1]
    return out


def _at_level(samples: Samples, level: float, *, below_db: float = 0.0) -> Samples:
    """``samples`` scaled to RMS ``level``, ``below_db`` decibels lower."""
    return (samples * (level / _rms(samples) * 10 ** (-below_db / 20))).astype(np.float32)


def _spans(dialogue: Dialogue) -> tuple[Span, ...]:
    return talk_spans(dialogue.truth)


def insert(dialogue: Dialogue, music: Samples, *, at_s: float) -> Built:
    """``music`` put into the dialogue at ``at_s`` with :data:`GAP_S` of silence either side;
    planted turns that start at or after ``at_s`` move by the inserted length, and so do
    ends after it."""
    gap = np.zeros(round(GAP_S * SAMPLE_RATE_HZ), dtype=np.float32)
    if at_s <= 0:
        piece = np.concatenate([music, gap])
    elif at_s * SAMPLE_RATE_HZ >= len(dialogue.samples):
        piece = np.concatenate([gap, music])
    else:
        piece = np.concatenate([gap, music, gap])
    cut = round(at_s * SAMPLE_RATE_HZ)
    samples = np.concatenate([dialogue.samples[:cut], piece, dialogue.samples[cut:]])
    shift = len(piece) / SAMPLE_RATE_HZ
    reference = tuple(
        (
            round(start + (shift if start >= at_s else 0.0), 3),
            round(end + (shift if end > at_s else 0.0), 3),
            role,
        )
        for start, end, role in _spans(dialogue)
    )
    return Built(samples.astype(np.float32), reference)


def under(dialogue: Dialogue, music: Samples, *, below_db: float) -> Built:
    """``music`` looped under the whole dialogue, ``below_db`` under its speech level."""
    repeats = int(np.ceil(len(dialogue.samples) / len(music)))
    bed = np.tile(music, repeats)[: len(dialogue.samples)]
    bed = _at_level(bed, dialogue.speech_rms(), below_db=below_db)
    samples = np.clip(dialogue.samples + bed, -1.0, 1.0).astype(np.float32)
    return Built(samples, _spans(dialogue))


def middle_turn_end(dialogue: Dialogue) -> float:
    """The middle one of the turn ends that lie in nobody's speech."""
    segments = dialogue.truth["segments"]
    ends = sorted(
        {s["end"] for s in segments}
        - {s["end"] for s in segments for o in segments if o["start"] < s["end"] < o["end"]}
    )
    return float(ends[len(ends) // 2])


def _intro_outro(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    level = d.speech_rms()
    first = insert(d, _at_level(_faded(_clip(m["ragtime"], 10, 20)), level), at_s=0.0)
    with_intro = Dialogue(d.name, first.samples, d.truth)
    end_s = len(first.samples) / SAMPLE_RATE_HZ
    outro = _at_level(_faded(_clip(m["strings"], 20, 15)), level)
    last = insert(with_intro, outro, at_s=end_s)
    return Built(last.samples, first.reference)


def _drums_intro(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    return insert(d, _at_level(_faded(_clip(m["drums"], 5, 20)), d.speech_rms()), at_s=0.0)


def _bed(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    return under(d, _clip(m["jazz"], 5, 60), below_db=20.0)


def _hold(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    music = _at_level(_faded(_clip(m["waltz"], 0, 30)), d.speech_rms(), below_db=6.0)
    return insert(d, music, at_s=middle_turn_end(d))


def _song_intro(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    return insert(d, _at_level(_faded(_clip(m["song"], 60, 20)), d.speech_rms()), at_s=0.0)


def _song_bed(d: Dialogue, m: Mapping[str, Samples]) -> Built:
    return under(d, _clip(m["song"], 5, 60), below_db=15.0)


CONDITIONS: dict[str, Callable[[Dialogue, Mapping[str, Samples]], Built]] = {
    "none": lambda d, _m: Built(d.samples, _spans(d)),
    "intro_outro": _intro_outro,
    "drums_intro": _drums_intro,
    "bed": _bed,
    "hold": _hold,
    "song_intro": _song_intro,
    "song_bed": _song_bed,
}


def load_pieces(folder: Path) -> dict[str, Samples]:
    """The music pieces, decoded as the product decodes audio (16 kHz mono)."""
    from pipeline.audio import load_audio

    missing = [name for name in PIECES.values() if not (folder / name).is_file()]
    if missing:
        raise SystemExit(
            f"{folder}: missing {', '.join(missing)}; pass the audio/ folder of the public "
            "repository librosa/data"
        )
    return {key: load_audio(folder / name).samples for key, name in PIECES.items()}


def near(t_s: float, reference: Sequence[Span], pad_s: float) -> bool:
    """Whether time ``t_s`` lies within ``pad_s`` of a planted turn."""
    return any(start - pad_s <= t_s <= end + pad_s for start, end, _ in reference)


def client_share(reference: Sequence[Span]) -> float:
    """The client's share of the planted talk time."""
    total = sum(end - start for start, end, _ in reference)
    return sum(end - start for start, end, role in reference if role == "client") / total


def talk_outside(segments: Sequence[Mapping[str, Any]], reference: Sequence[Span]) -> float:
    """Seconds of diarized talk further than :data:`STRAY_TALK_S` from every planted turn."""
    from pipeline.intervals import difference, total, union

    padded = union((start - STRAY_TALK_S, end + STRAY_TALK_S) for start, end, _ in reference)
    talk = union((s["start"], s["end"]) for s in segments)
    return round(total(difference(talk, padded)), 3)


def score(document: Mapping[str, Any], reference: Sequence[Span]) -> dict[str, Any]:
    """What the pipeline made of one recording, against its planted turns."""
    stray = [
        w
        for w in document.get("words") or []
        if not near((w["start"] + w["end"]) / 2, reference, STRAY_WORD_S)
    ]
    share = document["metrics"]["client"]["share"]
    return {
        "share_error": round(abs(share - client_share(reference)), 3),
        "level": document["diarization"].get("quality"),
        "verdict": document["evidence"]["client_led"],
        "stray_words": len(stray),
        "talk_outside_s": talk_outside(document["exclusive_segments"], reference),
        "cues": len(document["diarization"].get("cues") or []),
    }


def pipeline_digest() -> str:
    """Digest of the analysis code and data (``pipeline/``), so a cached document follows a
    change to them."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent / "pipeline"
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*.json")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def analyze(built: Built, *, work_dir: Path, cache_dir: Path | None) -> dict[str, Any]:
    """The pipeline's session document for ``built`` (defaults, CPU), cached by content and
    by :func:`pipeline_digest`."""
    from pipeline.session import SpeechOptions, analyze_document

    content = hashlib.sha256(built.samples.tobytes()).hexdigest()[:16]
    key = f"{content}-{pipeline_digest()}"
    cached = None if cache_dir is None else cache_dir / f"{key}.json"
    if cached is not None and cached.exists():
        document: dict[str, Any] = json.loads(cached.read_text("utf-8"))
        return document
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"{key}.wav"
    sf.write(path, built.samples, SAMPLE_RATE_HZ, subtype="PCM_16")
    try:
        document = analyze_document(path, options=SpeechOptions(device="cpu"))
    finally:
        path.unlink(missing_ok=True)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(document), "utf-8")
    return document


def share_cells(members: Sequence[Mapping[str, Any]]) -> str:
    """Markdown cells: share error mean (largest), levels good / doubtful / poor, and how
    many shares are confidently wrong (off by more than
    :data:`CONFIDENT_WRONG_SHARE_ERROR` with the level ``good``)."""
    errors = [m["share_error"] for m in members]
    levels = [sum(m["level"] == level for m in members) for level in ("good", "doubtful", "poor")]
    wrong = sum(
        m["level"] == "good" and m["share_error"] > CONFIDENT_WRONG_SHARE_ERROR for m in members
    )
    return f"{np.mean(errors):.3f} ({max(errors):.3f}) | {' / '.join(map(str, levels))} | {wrong}"


def summary(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown, one line per condition."""
    lines = [
        "| music | n | client share error, mean (largest) | level good / doubtful / poor | "
        "confidently wrong | recordings with stray words (words) | talk outside speech, mean s |",
        "|---|---|---|---|---|---|---|",
    ]
    for condition in CONDITIONS:
        members = [r for r in rows if r["condition"] == condition]
        if not members:
            continue
        stray = [m["stray_words"] for m in members]
        lines.append(
            f"| {condition} | {len(members)} | {share_cells(members)} | "
            f"{sum(s > 0 for s in stray)} ({sum(stray)}) | "
            f"{np.mean([m['talk_outside_s'] for m in members]):.1f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.music", description=__doc__)
    parser.add_argument("--music", type=Path, required=True, help="librosa/data's audio/ folder")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=None)
    add_common_arguments(parser, kept="each recording's document")
    args = parser.parse_args(argv)
    pieces = load_pieces(args.music)
    work_dir = (args.cache or Path("/tmp")) / "music-bench-audio"
    rows = []
    for dialogue in dialogues(args.folders):
        for condition in args.conditions or list(CONDITIONS):
            built = CONDITIONS[condition](dialogue, pieces)
            document = analyze(built, work_dir=work_dir, cache_dir=args.cache)
            rows.append(
                {"dialogue": dialogue.name, "condition": condition}
                | score(document, built.reference)
            )
            print(json.dumps(rows[-1]), flush=True)
    return report(rows, json_path=args.json, table=summary(rows))


if __name__ == "__main__":
    raise SystemExit(main())
