"""DER on real recordings: our diarization recipe against pyannote's default recipe.

Clips: pyannote.audio's bundled sample call (two-person phone call, 30 s) and,
when ``--ami-dir`` is given, the AMI meeting excerpts from pyannote.audio's own
test data (``tests/data/`` in the public GitHub repository
``pyannote/pyannote-audio``: 14 clips of 30 s, 1-4 speakers, references in
``debug.{train,development,test}.rttm`` with ``.uem`` files). Those files are
not ours to redistribute and are never committed; fetch them yourself, e.g.::

    git clone --depth 1 https://github.com/pyannote/pyannote-audio
    mkdir ami && cp pyannote-audio/tests/data/{*.wav,debug.*} ami/
    # the repository names one clip "trñ00.wav"; either name is found

Both recipes run pyannote.audio's ``SpeakerDiarization`` on the same models
(segmentation-3.0 and our CAM++ embedding) with the same agglomerative
clustering, and both are told the oracle number of speakers of each clip
(``num_speakers`` = the number of speakers in the reference). They differ in
the segmentation step (pyannote's default: 0.1 of the 10 s window, batch 1;
ours: 0.5, batches of 32) and in how ties between windows' speaker counts
are rounded (pyannote: half to even; ours: half down on telephone-band audio,
pipeline/speaker_count.py; every AMI clip is wideband, the sample call is not).
pyannote's released recipe also has a PLDA fit to
its own embedding and VBx clustering; that PLDA is not available offline and
does not fit CAM++, so "pyannote's default recipe" here means its default
segmentation and inference settings on our embedding.

Run ``python -m bench.real_audio --ami-dir DIR``. Results are cached per clip
and recipe in ``--cache-dir``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.degraded import code_digest
from pipeline.accuracy import diarization_error_rate, pyannote_sample_dir, read_rttm
from pipeline.types import Turn

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "bench_real_audio"
MAX_MEAN_DER_GAP = 0.02

RECIPES: dict[str, dict[str, Any]] = {
    "pyannote default (step 0.1, batch 1)": {
        "segmentation_step": 0.1,
        "segmentation_batch_size": 1,
        # CAM++ embeds each row on its own, so this batch size does not change results
        "embedding_batch_size": 32,
        # pyannote's own speaker count (rint), not our tie rule
        "count_ties_down": False,
    },
    "ours (defaults)": {},
}


@dataclass(frozen=True)
class Clip:
    """A real recording with its reference and the scored region."""

    name: str
    path: Path
    reference: tuple[Turn, ...]
    uem: tuple[float, float]

    @property
    def num_speakers(self) -> int:
        return len({t.speaker for t in self.reference})


@dataclass(frozen=True)
class ClipScore:
    """One recipe's result on one clip."""

    clip: str
    recipe: str
    speakers: int
    found_speakers: int
    der: float
    der_collar: float
    seconds: float


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def read_uem(text: str) -> dict[str, tuple[float, float]]:
    """``uri -> (start, end)`` from UEM lines ``uri channel start end``."""
    result = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 4:
            result[_ascii(fields[0])] = (float(fields[2]), float(fields[3]))
    return result


def read_rttm_by_uri(text: str) -> dict[str, list[Turn]]:
    """Reference turns per recording (uri) of a multi-recording RTTM file."""
    result: dict[str, list[Turn]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            result.setdefault(_ascii(fields[1]), []).extend(read_rttm(line))
    return result


def ami_clips(directory: Path) -> list[Clip]:
    """The AMI excerpts of pyannote.audio's test data found in ``directory``."""
    references: dict[str, list[Turn]] = {}
    uems: dict[str, tuple[float, float]] = {}
    for rttm in sorted(directory.glob("debug.*.rttm")):
        references.update(read_rttm_by_uri(rttm.read_text()))
    for uem in sorted(directory.glob("debug.*.uem")):
        uems.update(read_uem(uem.read_text()))
    wavs = {_ascii(p.stem): p for p in directory.glob("*.wav")}
    clips = []
    for uri in sorted(references):
        if uri in wavs:
            clips.append(Clip(uri, wavs[uri], tuple(references[uri]), uems.get(uri, (0.0, 30.0))))
    if not clips:
        raise FileNotFoundError(f"{directory}: no debug.*.rttm with matching .wav files")
    return clips


def sample_clip() -> Clip:
    """pyannote.audio's bundled two-person phone call."""
    sample = pyannote_sample_dir()
    reference = tuple(read_rttm((sample / "sample.rttm").read_text()))
    return Clip("sample_call", sample / "sample.wav", reference, (0.0, 30.0))


def _cache_key(recipe: str, options: Mapping[str, Any]) -> str:
    blob = code_digest() + json.dumps(options, sort_keys=True) + recipe
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def score_clip(clip: Clip, recipe: str, options: Mapping[str, Any]) -> ClipScore:
    """Diarize ``clip`` with the oracle speaker count and score it inside its UEM."""
    from pipeline.audio import load_audio
    from pipeline.diarize import diarize
    from pipeline.errors import DiarizationError

    audio = load_audio(clip.path)
    start = time.perf_counter()
    try:
        turns = diarize(audio, num_speakers=clip.num_speakers, device="cpu", **options).turns
    except DiarizationError:  # no speech found: every reference second is missed
        turns = ()
    seconds = time.perf_counter() - start
    begin, end = clip.uem
    scored = [
        Turn(max(t.start, begin) - begin, min(t.end, end) - begin, t.speaker)
        for t in turns
        if t.end > begin and t.start < end
    ]
    reference = [
        Turn(max(t.start, begin) - begin, min(t.end, end) - begin, t.speaker)
        for t in clip.reference
        if t.end > begin and t.start < end
    ]
    return ClipScore(
        clip=clip.name,
        recipe=recipe,
        speakers=clip.num_speakers,
        found_speakers=len({t.speaker for t in turns}),
        der=diarization_error_rate(reference, scored, duration_s=end - begin),
        der_collar=diarization_error_rate(reference, scored, duration_s=end - begin, collar_s=0.25),
        seconds=seconds,
    )


def evaluate(
    clips: Sequence[Clip],
    recipes: Mapping[str, Mapping[str, Any]] = RECIPES,
    *,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    verbose: bool = True,
) -> list[ClipScore]:
    """Every recipe on every clip, reusing cached scores for unchanged code and options."""
    scores = []
    for clip in clips:
        for recipe, options in recipes.items():
            key = _cache_key(recipe, options)
            cached = cache_dir / f"{clip.name}.{key}.json" if cache_dir else None
            if cached is not None and cached.is_file():
                score = ClipScore(**json.loads(cached.read_text()))
            else:
                score = score_clip(clip, recipe, options)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    cached.write_text(json.dumps(asdict(score)))
            if verbose:
                print(
                    f"{clip.name:12s} {recipe:38s} DER {score.der:6.1%} ({score.seconds:.1f} s)",
                    flush=True,
                )
            scores.append(score)
    return scores


def table(scores: Sequence[ClipScore], recipes: Sequence[str]) -> str:
    """Markdown table: one row per clip, DER (no collar / 0.25 s collar) per recipe, and the mean."""
    by_clip: dict[str, dict[str, ClipScore]] = {}
    for s in scores:
        by_clip.setdefault(s.clip, {})[s.recipe] = s
    header = "| clip | speakers | " + " | ".join(f"{r} DER (collar 0.25)" for r in recipes) + " |"
    lines = [header, "|---|---|" + "---|" * len(recipes)]
    for clip, row in by_clip.items():
        speakers = next(iter(row.values())).speakers
        cells = [f"{row[r].der:.1%} ({row[r].der_collar:.1%})" for r in recipes]
        lines.append(f"| {clip} | {speakers} | " + " | ".join(cells) + " |")
    means = [
        f"**{np.mean([row[r].der for row in by_clip.values()]):.1%}** "
        f"({np.mean([row[r].der_collar for row in by_clip.values()]):.1%})"
        for r in recipes
    ]
    lines.append(f"| mean of {len(by_clip)} clips | | " + " | ".join(means) + " |")
    return "\n".join(lines)


def mean_gap(scores: Sequence[ClipScore], ours: str, baseline: str) -> float:
    """Mean DER of ``ours`` minus mean DER of ``baseline`` over the clips both ran on."""
    der: dict[str, dict[str, float]] = {}
    for s in scores:
        der.setdefault(s.recipe, {})[s.clip] = s.der
    common = sorted(set(der[ours]) & set(der[baseline]))
    return float(np.mean([der[ours][c] - der[baseline][c] for c in common]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ami-dir", type=Path, help="folder with pyannote.audio's tests/data files"
    )
    parser.add_argument("--clips", nargs="*", help="subset of clip names")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the scores here")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    clips = [sample_clip()] + (ami_clips(args.ami_dir) if args.ami_dir else [])
    if args.clips:
        clips = [c for c in clips if c.name in args.clips]
    scores = evaluate(clips, cache_dir=None if args.no_cache else args.cache_dir)
    names = list(RECIPES)
    print()
    print(table(scores, names))
    gap = mean_gap(scores, names[1], names[0])
    print(
        f"\nmean DER gap, ours - pyannote default: {gap * 100:+.2f} points "
        f"(bound +{MAX_MEAN_DER_GAP * 100:.0f})"
    )
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=1))


if __name__ == "__main__":
    main()
