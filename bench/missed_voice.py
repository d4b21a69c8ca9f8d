"""Talk shares the quality check called ``good`` but were wrong; what a transcript cue would change.

The diarization check (:mod:`pipeline.diarization_quality`) looks at the
clustering; a voice the segmentation model does not pick up at all (too quiet,
too breathy, thinned by a phone line) leaves it silent while that party's talk
time is undercounted. A candidate cue from the transcript: words where no voice
was detected (``words_outside_speech``, recorded in ``session.json`` but raising
no cue, because of what this bench shows). This bench measures both on
recordings with exact truth, the mono mixes of the neural-voice dialogues in
``tests/fixtures/realistic*``:

- ``clean``: the mix as committed;
- ``pcm_8k``, ``amr_nb_12k2``, ``phone_band_noise``: telephone copies made by
  :func:`bench.degraded.degrade` (PyAV encoders);
- ``counselor-10`` / ``counselor-20`` / ``client-10`` / ``client-20``: the
  dialogue's stereo version mixed down with one party 10 or 20 dB quieter, as
  a recorder placed near the other party hears them.

For each run: the client's talk-share error against the truth (the diarized
speaker that overlaps the client's planted speech most is taken as the
client), the quality level without and with the candidate cue (more than
:data:`CUE_LIMIT` of the words, and at least :data:`CUE_MIN_WORDS`, outside every
diarized turn: one cue more, so ``good`` → ``doubtful``, ``doubtful`` → ``poor``),
and that fraction. *Confidently wrong*: a share
error above :data:`bench.degraded.CONFIDENT_WRONG_SHARE_ERROR` with a ``good``
level. Development and held-out dialogues (where the cue's limit was chosen)
are reported apart from the fresh ones (where it was tested once)::

    python -m bench.missed_voice [--sets dev heldout fresh] [--cache DIR]

Model results are cached by audio content in ``--cache`` (default: a folder in
the temporary directory), so a rerun only scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import soundfile as sf

from bench.cache import pickled
from bench.degraded import (
    CONDITIONS_BY_NAME,
    CONFIDENT_WRONG_SHARE_ERROR,
    REALISTIC_SETS,
    degrade,
    talk_shares,
)
from bench.truth import talk_spans
from pipeline.diarization_quality import words_outside_speech
from pipeline.intervals import overlap_length, union
from pipeline.types import SAMPLE_RATE_HZ, Diarization, SpeakerWord, Turn

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "bench_missed_voice"
PHONE_CONDITIONS = ("pcm_8k", "amr_nb_12k2", "phone_band_noise")
QUIETER_DB = (10.0, 20.0)
CUE_LIMIT = 0.05
"""The candidate cue fires above this fraction of words outside speech (chosen on dev + held-out)..."""
CUE_MIN_WORDS = 5
"""...with at least this many such words."""
Samples = npt.NDArray[np.float32]
R = TypeVar("R")


@dataclass(frozen=True)
class Run:
    """One analyzed recording: truth, diarization and attributed words."""

    set_name: str
    dialogue: str
    condition: str
    truth: Mapping[str, Any]
    diarization: Diarization
    words: tuple[SpeakerWord, ...]


@dataclass(frozen=True)
class Row:
    """How one run's talk shares and quality came out."""

    set_name: str
    dialogue: str
    condition: str
    share_error: float
    words_outside: float
    before: str | None
    after: str | None

    @property
    def wrong(self) -> bool:
        return abs(self.share_error) > CONFIDENT_WRONG_SHARE_ERROR

    def confidently_wrong(self, *, with_cue: bool) -> bool:
        return self.wrong and (self.after if with_cue else self.before) == "good"

    @property
    def newly_flagged(self) -> bool:
        return self.before == "good" and self.after != "good"


def mixed_down(stereo: Samples, *, quiet_channel: int, quieter_db: float) -> Samples:
    """The two channels summed at half gain, ``quiet_channel`` lowered by ``quieter_db``."""
    gains = np.ones(2, dtype=np.float32)
    gains[quiet_channel] = np.float32(10 ** (-quieter_db / 20))
    mix: Samples = ((stereo * gains[:, None]).sum(axis=0) / 2).astype(np.float32)
    return mix


def recordings(sets: Sequence[str], work: Path) -> Iterator[tuple[str, str, str, Path, Any]]:
    """``(set, dialogue, condition, path, truth)`` for every run, audio written into ``work``."""
    from pipeline.audio import load_audio

    for set_name in sets:
        folder = REALISTIC_SETS[set_name]
        for truth_path in sorted(folder.glob("*.truth.json")):
            truth = json.loads(truth_path.read_text())
            name = truth_path.name.removesuffix(".truth.json")
            mono = folder / truth["audio_files"]["mono"]
            yield set_name, name, "clean", mono, truth
            samples = load_audio(mono).samples
            for condition in PHONE_CONDITIONS:
                path = degrade(samples, CONDITIONS_BY_NAME[condition], work, stem=name)
                yield set_name, name, condition, path, truth
            if "stereo" not in truth["audio_files"]:
                continue
            stereo = load_audio(folder / truth["audio_files"]["stereo"]).channel_samples
            channel_of = {
                role: ("left", "right").index(side)
                for side, role in truth["stereo_channels"].items()
            }
            for role in ("counselor", "client"):
                for quieter in QUIETER_DB:
                    condition = f"{role}-{quieter:.0f}"
                    path = work / f"{name}.{condition}.wav"
                    mix = mixed_down(stereo, quiet_channel=channel_of[role], quieter_db=quieter)
                    sf.write(path, mix, SAMPLE_RATE_HZ, subtype="FLOAT")
                    yield set_name, name, condition, path, truth


def model_stages(path: Path, cache_dir: Path) -> tuple[Diarization, tuple[SpeakerWord, ...]]:
    """The product's model stages on ``path`` (:func:`pipeline.session.analyze_speech`,
    defaults): the diarization with its quality check, and the attributed words."""
    from pipeline.session import analyze_speech

    def stages() -> tuple[Diarization, tuple[SpeakerWord, ...]]:
        result = analyze_speech(path)
        return result.diarization, result.words

    key = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    return pickled(cache_dir / f"{key}.pickle", stages)


def client_speaker(turns: Sequence[Turn], truth: Mapping[str, Any]) -> str:
    """The diarized speaker overlapping the planted client speech most (net of counselor speech)."""
    planted = {
        role: union((start, end) for start, end, who in talk_spans(truth) if who == role)
        for role in ("client", "counselor")
    }

    def leaning(speaker: str) -> float:
        mine = [t for t in turns if t.speaker == speaker]
        return sum(
            overlap_length(planted["client"], t.start, t.end)
            - overlap_length(planted["counselor"], t.start, t.end)
            for t in mine
        )

    return max(sorted({t.speaker for t in turns}), key=leaning)


def client_share_error(turns: Sequence[Turn], truth: Mapping[str, Any]) -> float:
    """Diarized client share minus the truth's; the client is :func:`client_speaker`."""
    share = talk_shares(turns).get(client_speaker(turns, truth), 0.0)
    return float(share - truth["client_share"])


def with_cue(level: str | None, *, outside: int, words: int) -> str | None:
    """The quality level once the candidate cue is counted (one cue more when it fires)."""
    fires = words > 0 and outside / words > CUE_LIMIT and outside >= CUE_MIN_WORDS
    if not fires:
        return level
    return "doubtful" if level in (None, "good") else "poor"


def score_run(run: Run) -> Row:
    """Share error, and the quality level without and with the candidate cue."""
    outside = words_outside_speech(run.diarization.turns, run.words)
    before = None if run.diarization.quality is None else run.diarization.quality.level
    return Row(
        set_name=run.set_name,
        dialogue=run.dialogue,
        condition=run.condition,
        share_error=client_share_error(run.diarization.turns, run.truth),
        words_outside=outside / len(run.words) if run.words else 0.0,
        before=before,
        after=with_cue(before, outside=outside, words=len(run.words)),
    )


def summary_line(label: str, rows: Sequence[Row]) -> str:
    """One Markdown row: runs, wrong talk shares, confidently wrong without/with the cue, flags."""
    wrong = sum(r.wrong for r in rows)
    before = sum(r.confidently_wrong(with_cue=False) for r in rows)
    after = sum(r.confidently_wrong(with_cue=True) for r in rows)
    caught = sum(r.newly_flagged and r.wrong for r in rows)
    needless = sum(r.newly_flagged and not r.wrong for r in rows)
    return f"| {label} | {len(rows)} | {wrong} | {before} | {after} | {caught} | {needless} |"


def tables(rows: Sequence[Row]) -> list[str]:
    """The summary by group of sets, then every run."""
    out = [
        "| dialogues | runs | share error > 0.10 | confidently wrong, check alone | "
        "confidently wrong, with the candidate cue | newly flagged, wrong | "
        "newly flagged, right |",
        "|---|---|---|---|---|---|---|",
    ]
    tuned = [r for r in rows if r.set_name in ("dev", "heldout")]
    fresh = [r for r in rows if r.set_name == "fresh"]
    if tuned:
        out.append(summary_line("development + held-out (limit chosen here)", tuned))
    if fresh:
        out.append(summary_line("fresh", fresh))
    out += [
        "",
        "| set | dialogue | condition | client share error | words outside speech | "
        "check alone | with the cue |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = " **(confidently wrong)**" if r.confidently_wrong(with_cue=True) else ""
        out.append(
            f"| {r.set_name} | {r.dialogue} | {r.condition} | {r.share_error:+.3f} | "
            f"{r.words_outside:.1%} | {r.before} | {r.after}{mark} |"
        )
    return out


def argument_parser(description: str, *, default_cache: Path) -> argparse.ArgumentParser:
    """The options of a bench over :func:`recordings`: ``--sets`` and ``--cache``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sets",
        nargs="+",
        default=["dev", "heldout", "fresh"],
        choices=list(REALISTIC_SETS),
        help="default: dev heldout fresh (the recast sets on request)",
    )
    parser.add_argument("--cache", type=Path, default=default_cache)
    return parser


def run_all(
    sets: Sequence[str],
    score: Callable[[str, str, str, Path, Any], R],
    describe: Callable[[R], str],
    tables: Callable[[list[R]], list[str]],
) -> None:
    """Score every run of :func:`recordings` (printing ``set dialogue condition`` and
    ``describe(row)`` as it goes), then print ``tables`` of the rows."""
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for set_name, name, condition, path, truth in recordings(sets, Path(work)):
            row = score(set_name, name, condition, path, truth)
            print(f"{set_name:8s} {name:20s} {condition:17s} {describe(row)}", flush=True)
            rows.append(row)
    print()
    for line in tables(rows):
        print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser(__doc__.splitlines()[0], default_cache=DEFAULT_CACHE_DIR)
    args = parser.parse_args(argv)

    def score(set_name: str, name: str, condition: str, path: Path, truth: Any) -> Row:
        diarization, words = model_stages(path, args.cache)
        return score_run(Run(set_name, name, condition, truth, diarization, words))

    def describe(row: Row) -> str:
        return (
            f"share error {row.share_error:+.3f} outside {row.words_outside:5.1%} "
            f"{row.before} -> {row.after}"
        )

    run_all(args.sets, score, describe, tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
