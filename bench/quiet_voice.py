"""A voice far quieter than the other: is it named, and does its talk share err the way assumed?

:mod:`pipeline.voice_levels` records each diarized voice's level and names a
role whose voice is at least ``MetricsConfig.quiet_voice_gap_db`` quieter
than the other's; :mod:`pipeline.evidence` then withholds the one verdict an
undercount of that role could produce (``yes`` with a quiet counselor, whose
undercount raises the client's share; ``no`` with a quiet client). This bench
runs the recordings of :mod:`bench.missed_voice` (the neural-voice dialogues'
mono mixes, three telephone copies, and the stereo dialogues mixed down with
one party 10 or 20 dB quieter) and reports, per run, the level gap, the role
named, and whether the talk-share error lies in the direction the rule
guards. Roles are the truth's (the diarized speaker overlapping the client's
planted speech most is the client), so this measures the rule, not the role
assignment::

    python -m bench.quiet_voice [--sets dev heldout fresh] [--cache DIR] [--gap-db 12]

*Confidently wrong*: a client-share error above
:data:`bench.degraded.CONFIDENT_WRONG_SHARE_ERROR` with the check saying
``good``. *Guarded*: such a run whose quiet role is named and whose error
goes the way the rule assumes (a quiet counselor with the client's share too
high, a quiet client with it too low), so the verdict the error favours is
withheld. Only the diarization stage runs (about 5 s per recording on 2
cores); its results are cached by audio content in ``--cache``.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cache import pickled
from bench.degraded import CONFIDENT_WRONG_SHARE_ERROR
from bench.missed_voice import argument_parser, client_share_error, client_speaker, run_all
from bench.music import pipeline_digest
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG
from pipeline.types import Diarization
from pipeline.voice_levels import LEVEL_KEY_PREFIX, quiet_voice

DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "bench_quiet_voice"


def diarized(path: Path, cache_dir: Path) -> Diarization:
    """The product's diarization stage on ``path`` (default options), cached by content
    and by the analysis code (:func:`bench.music.pipeline_digest`)."""
    from pipeline.audio import load_audio
    from pipeline.session import SpeechOptions, diarize_with

    key = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    return pickled(
        cache_dir / f"{key}-{pipeline_digest()}.pickle",
        lambda: diarize_with(load_audio(path), SpeechOptions()),
    )


@dataclass(frozen=True)
class Row:
    """One run: its talk-share error, check level, level gap and the quiet role named."""

    set_name: str
    dialogue: str
    condition: str
    share_error: float
    level: str | None
    gap_db: float | None
    quiet: str | None

    @property
    def confidently_wrong(self) -> bool:
        return abs(self.share_error) > CONFIDENT_WRONG_SHARE_ERROR and self.level == "good"

    @property
    def assumed_direction(self) -> bool:
        """The error goes the way the rule assumes for the role it named."""
        if self.quiet == "counselor":
            return self.share_error > 0
        if self.quiet == "client":
            return self.share_error < 0
        return False

    @property
    def guarded(self) -> bool:
        return self.confidently_wrong and self.assumed_direction


def score_run(
    set_name: str,
    dialogue: str,
    condition: str,
    diarization: Diarization,
    truth: dict[str, object],
    *,
    gap_db: float,
) -> Row:
    """The row of one diarized run, roles from the truth."""
    turns = diarization.turns
    client = client_speaker(turns, truth)

    def role_of(speaker: str) -> str:
        return "client" if speaker == client else "counselor"

    measures = {} if diarization.quality is None else diarization.quality.measures
    levels = [v for k, v in measures.items() if k.startswith(LEVEL_KEY_PREFIX)]
    found = quiet_voice(measures, role_of, min_gap_db=gap_db)
    return Row(
        set_name=set_name,
        dialogue=dialogue,
        condition=condition,
        share_error=client_share_error(turns, truth),
        level=None if diarization.quality is None else diarization.quality.level,
        gap_db=max(levels) - min(levels) if len(levels) >= 2 else None,
        quiet=None if found is None else found.role,
    )


def summary_line(label: str, rows: Sequence[Row]) -> str:
    """Runs, confidently wrong, guarded, named, named in the assumed direction, named and right."""
    wrong = [r for r in rows if r.confidently_wrong]
    named = [r for r in rows if r.quiet is not None]
    right = sum(abs(r.share_error) <= CONFIDENT_WRONG_SHARE_ERROR for r in named)
    return (
        f"| {label} | {len(rows)} | {len(wrong)} | {sum(r.guarded for r in wrong)} | "
        f"{len(named)} | {sum(r.assumed_direction for r in named)} | {right} |"
    )


def tables(rows: Sequence[Row]) -> list[str]:
    """The summary by kind of condition, then every run."""
    out = [
        "| runs | n | confidently wrong | of which guarded | quiet voice named | "
        "named, error in the assumed direction | named, share within 0.10 |",
        "|---|---|---|---|---|---|---|",
    ]
    groups = {
        "as made and telephone copies": [r for r in rows if "-" not in r.condition],
        "one party 10 dB quieter": [r for r in rows if r.condition.endswith("-10")],
        "one party 20 dB quieter": [r for r in rows if r.condition.endswith("-20")],
    }
    out += [summary_line(label, group) for label, group in groups.items() if group]
    out += [
        "",
        "| set | dialogue | condition | client share error | check | level gap (dB) | "
        "quiet voice |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gap = "—" if r.gap_db is None else f"{r.gap_db:.1f}"
        mark = " **(confidently wrong)**" if r.confidently_wrong and not r.guarded else ""
        out.append(
            f"| {r.set_name} | {r.dialogue} | {r.condition} | {r.share_error:+.3f} | "
            f"{r.level} | {gap} | {r.quiet or '—'}{mark} |"
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argument_parser(__doc__.splitlines()[0], default_cache=DEFAULT_CACHE_DIR)
    parser.add_argument(
        "--gap-db",
        type=float,
        default=DEFAULT_METRICS_CONFIG.quiet_voice_gap_db,
        help="the quiet-voice limit (MetricsConfig.quiet_voice_gap_db)",
    )
    args = parser.parse_args(argv)

    def score(set_name: str, name: str, condition: str, path: Path, truth: Any) -> Row:
        found = diarized(path, args.cache)
        return score_run(set_name, name, condition, found, truth, gap_db=args.gap_db)

    def describe(row: Row) -> str:
        return f"share error {row.share_error:+.3f} {row.level} gap {row.gap_db} quiet {row.quiet}"

    run_all(args.sets, score, describe, tables)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
