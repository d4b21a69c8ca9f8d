"""``session-analyzer cohort``: score a manifest or a folder of recordings through Prefect.

Without a server configured, Prefect runs in its local ephemeral mode with its
state under the project's data directory (``$SESSION_ANALYZER_DATA_DIR`` or
``./data``) and analytics off; with ``PREFECT_API_URL`` set, the runs report to
that server and show in its UI. ``--deployment`` hands every session to the
session flow's deployment, so Prefect workers (on this or other machines) run
them; see docs/scaling.md.

Exit status: 0 when the cohort's tables were written (failed recordings are
rows with ``status=failed``), 2 for a bad manifest or option (one message
listing every problem; nothing is processed), 1 on an unexpected failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cli.checks import (
    check_language,
    check_max_duration,
    check_output_dir,
    check_speakers,
    check_threads,
    folder_argument,
)
from pipeline.errors import OptionError

if TYPE_CHECKING:
    from pipeline.session import SpeakersOption

EXIT_BAD_INPUT = 2
MAX_WORKERS = 64
DEFAULT_DEPLOYMENT = "analyze-session/session-analyzer"
"""``flow/deployment`` created by ``python -m flows.deploy`` (kept in sync with flows.deploy)."""
SPEAKERS_CHOICES = ("2", "2-3")
"""``--speakers``: :data:`pipeline.session.SPEAKERS_OPTIONS`, spelled out here (a test checks
they agree) because importing :mod:`pipeline.session` loads the models' libraries (seconds)."""


def add_cohort_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add the ``cohort`` subcommand to the ``session-analyzer`` parser."""
    cohort = commands.add_parser(
        "cohort",
        help="score a cohort: a manifest CSV or a folder of recordings",
        description="Analyze every session of a manifest CSV (session_id, trainee_id, "
        "audio_path[, cohort, session_date, counselor_hint, channels, speakers]) or of a folder "
        "of recordings (session id = file name, trainee = parent folder), and write "
        "OUT/<session_id>/, cohort.csv, cohort.parquet, trainees.csv and cohort.html. "
        "Finished stages are cached: a rerun only computes what is missing.",
    )
    cohort.add_argument(
        "source", type=Path, metavar="MANIFEST_OR_FOLDER", help="manifest CSV or folder"
    )
    cohort.add_argument("--out", type=folder_argument, required=True, help="output directory")
    cohort.add_argument(
        "--workers",
        type=int,
        default=1,
        help="sessions analyzed at once (default 1: on a CPU each session already uses "
        "every core; with --deployment: sessions dispatched at once)",
    )
    cohort.add_argument(
        "--deployment",
        nargs="?",
        const=DEFAULT_DEPLOYMENT,
        default=None,
        metavar="FLOW/DEPLOYMENT",
        help="run each session on Prefect workers through the session flow's deployment "
        f"(default name {DEFAULT_DEPLOYMENT}); needs PREFECT_API_URL",
    )
    cohort.add_argument(
        "--model", default="base", help="base, tiny.en, or a local faster-whisper directory"
    )
    cohort.add_argument("--language", default=None, help="language code, e.g. en (default: detect)")
    cohort.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    cohort.add_argument("--threads", type=int, default=0, help="CPU threads per session (0: all)")
    speakers = cohort.add_argument_group(
        "speakers",
        "how many voices the recordings hold; give --speakers or --num-speakers, not both "
        "(default: two, the counselor and the client)",
    )
    speakers.add_argument(
        "--speakers",
        choices=SPEAKERS_CHOICES,
        default=None,
        help="2: the two parties only; 2-3: the two parties and perhaps one more voice, for "
        "recordings the diarization check flagged with another voice (the same as "
        "analyze's --min-speakers 2 --max-speakers 3); a manifest's speakers column "
        "overrides it per session",
    )
    speakers.add_argument(
        "--num-speakers",
        type=int,
        default=None,
        help="known speaker count for every session (default 2)",
    )
    cohort.add_argument(
        "--channels",
        choices=["auto", "mix", "split"],
        default="auto",
        help="stereo recordings: auto (default) diarizes by channel when each party has its "
        "own channel, mix analyzes the mixed-down voices, split always diarizes by channel; "
        "a manifest's channels column overrides it per session",
    )
    cohort.add_argument(
        "--max-duration-s", type=float, default=4 * 3600.0, help="reject longer recordings"
    )
    cohort.add_argument("--title", default=None, help="heading of cohort.html")
    cohort.add_argument("--quiet", action="store_true", help="no Prefect log lines")
    cohort.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show third-party warnings and full tracebacks",
    )
    return cohort


def _error(message: str) -> int:
    print(f"session-analyzer: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def speaker_options(
    *, speakers: SpeakersOption | None, num_speakers: int | None
) -> dict[str, int | None]:
    """The cohort-wide speaker-count fields of :class:`~pipeline.session.SpeechOptions`.

    ``--speakers`` names a choice (:func:`pipeline.session.speaker_bounds`),
    ``--num-speakers`` a count; both at once would leave one of them silently
    ignored, so that is an :class:`~pipeline.errors.OptionError`. Neither: two
    speakers. A manifest's ``speakers`` cell overrides the result per session.
    """
    if speakers is not None and num_speakers is not None:
        raise OptionError(
            f"--speakers {speakers} and --num-speakers {num_speakers} both set the speaker "
            "count: give one (--speakers 2-3 allows a third voice; --num-speakers N fixes N)"
        )
    if speakers is not None:
        from pipeline.session import speaker_bounds

        return speaker_bounds(speakers)
    check_speakers(num_speakers=num_speakers, min_speakers=None, max_speakers=None)
    return {
        "num_speakers": 2 if num_speakers is None else num_speakers,
        "min_speakers": None,
        "max_speakers": None,
    }


def run_cohort(args: argparse.Namespace) -> int:
    """``cohort``: validate the manifest, run the cohort flow, print where the outputs are."""
    if not 1 <= args.workers <= MAX_WORKERS:
        return _error(f"--workers must be between 1 and {MAX_WORKERS}, not {args.workers}")
    from models.registry import ModelError, resolve_whisper

    try:
        bounds = speaker_options(speakers=args.speakers, num_speakers=args.num_speakers)
        check_threads(args.threads)
        check_max_duration(args.max_duration_s)
        check_language(args.language)
        resolve_whisper(args.model)
        check_output_dir(args.out)
    except (OptionError, ModelError) as error:
        return _error(str(error))
    if args.quiet:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.manifest import ManifestError, load_sessions  # sets Prefect's env defaults

    if args.deployment and not os.environ.get("PREFECT_API_URL"):
        return _error(
            "--deployment needs a Prefect server that workers also reach: start one "
            "(make server), set PREFECT_API_URL, and start workers (make worker); "
            "see docs/scaling.md"
        )
    try:
        sessions = load_sessions(args.source)
    except ManifestError as error:
        return _error(str(error))

    from flows.score_cohort import run_cohort_flow
    from pipeline.session import SpeechOptions

    speech = SpeechOptions(
        model=args.model,
        language=args.language,
        device=args.device,
        cpu_threads=args.threads,
        num_speakers=bounds["num_speakers"],
        min_speakers=bounds["min_speakers"],
        max_speakers=bounds["max_speakers"],
        max_duration_s=args.max_duration_s,
        channels=args.channels,
    )
    print(f"scoring {len(sessions)} sessions into {args.out.resolve()}", file=sys.stderr)
    result = run_cohort_flow(
        args.source,
        args.out,
        speech=speech,
        workers=args.workers,
        deployment=args.deployment,
        title=args.title,
    )
    hours = result["audio_s"] / 3600.0
    rate = hours / (result["wall_s"] / 3600.0) if result["wall_s"] > 0 else 0.0
    print(
        f"scored {result['done']} of {result['sessions']} sessions "
        f"({result['cached']} from cache, {result['failed']} failed); "
        f"{hours:.2f} h of audio in {result['wall_s']:.0f} s ({rate:.1f} audio h per h)"
    )
    for session_id, reason in result["errors"].items():
        print(f"failed   {session_id}: {reason}", file=sys.stderr)
    for kind, path in result["outputs"].items():
        print(f"{kind:<15}{path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cli.cohort``: the ``cohort`` subcommand on its own."""
    parser = argparse.ArgumentParser(prog="session-analyzer")
    add_cohort_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cohort", *(sys.argv[1:] if argv is None else argv)])
    return run_cohort(args)


if __name__ == "__main__":
    sys.exit(main())
