"""``session-analyzer``: analyze counseling-session recordings from the command line.

Exit status: 0 on success, 2 when the input or a model cannot be used (one
clear line on stderr), 1 on an unexpected failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.cohort import add_cohort_parser, run_cohort
from models import ModelError
from pipeline.errors import AnalyzerError
from web.cli import WEB_HANDLERS, add_web_commands

EXIT_BAD_INPUT = 2


class StageBars:
    """One tqdm bar per stage on a terminal; silent otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, object] = {}

    def __call__(self, stage: str, done_s: float, total_s: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = tqdm(
                total=round(total_s),
                desc=f"{stage:<10}",
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total} s of audio [{elapsed}]",
                leave=True,
            )
            self._bars[stage] = bar
        assert isinstance(bar, tqdm)
        bar.n = min(round(done_s), bar.total)
        bar.refresh()
        if done_s >= total_s:
            bar.close()


def _add_analyze(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="analyze one recording",
        description="Transcribe and diarize one recording and write session.json, "
        "transcript.srt, transcript.vtt and diarization.rttm to --out.",
    )
    analyze.add_argument("audio", type=Path, help="audio or video file (wav, mp3, m4a, ogg, ...)")
    analyze.add_argument("--out", type=Path, required=True, help="output directory")
    analyze.add_argument(
        "--model", default="base", help="base, tiny.en, or a local faster-whisper directory"
    )
    analyze.add_argument(
        "--language", default=None, help="language code, e.g. en (default: detect)"
    )
    analyze.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    analyze.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    analyze.add_argument("--num-speakers", type=int, default=2, help="known speaker count")
    analyze.add_argument(
        "--min-speakers", type=int, default=None, help="lower bound; ignores --num-speakers"
    )
    analyze.add_argument(
        "--max-speakers", type=int, default=None, help="upper bound; ignores --num-speakers"
    )
    analyze.add_argument(
        "--pipeline-dir",
        default=None,
        help="a local pyannote pipeline directory to use instead of the built-in one",
    )
    analyze.add_argument(
        "--max-duration-s", type=float, default=4 * 3600.0, help="reject longer recordings"
    )
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_role_options(analyze)


def _add_role_options(parser: argparse.ArgumentParser) -> None:
    roles = parser.add_argument_group(
        "roles", "how to tell the counselor from the client (default: linguistic and turn cues)"
    ).add_mutually_exclusive_group()
    roles.add_argument("--counselor", metavar="SPEAKER", help="the counselor's speaker label")
    roles.add_argument("--counselor-first", action="store_true", help="the counselor speaks first")
    if parser.prog.endswith("analyze"):
        roles.add_argument(
            "--counselor-channel",
            choices=["left", "right"],
            help="stereo recording with one party per channel: diarize by channel energy",
        )
        roles.add_argument(
            "--enroll",
            type=Path,
            metavar="RECORDING",
            help="a recording of the counselor's voice alone (10-30 s); match by voice",
        )
    else:
        roles.add_argument("--swap", action="store_true", help="exchange counselor and client")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with ``--help`` on every command."""
    parser = argparse.ArgumentParser(
        prog="session-analyzer",
        description="Evidence that a recorded counseling session was client-led.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_analyze(commands)
    add_cohort_parser(commands)
    rescore = commands.add_parser(
        "rescore",
        help="correct roles and recompute the measures of an analyzed session",
        description="Re-run roles, measures and evidence from DIR/session.json and rewrite "
        "every output file. No model runs.",
    )
    rescore.add_argument("directory", type=Path, help="an output directory of `analyze`")
    _add_role_options(rescore)
    commands.add_parser(
        "models",
        help="verify the offline models and prepare the model cache",
        description="Check every built-in model file against its sha256 and assemble split "
        "models into the cache. Run once after installation.",
    )
    add_web_commands(commands)
    return parser


def run_analyze(args: argparse.Namespace) -> int:
    """``analyze``: the session flow (every stage cached by content), then the summary."""
    # Prefect's console lines would break the one-line error contract (it still records them).
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from flows.analyze_session import run_session
    from pipeline import outputs
    from pipeline.session import SpeechOptions

    explicit_bounds = args.min_speakers is not None or args.max_speakers is not None
    options = SpeechOptions(
        model=args.model,
        language=args.language,
        device=args.device,
        cpu_threads=args.threads,
        num_speakers=None if explicit_bounds else args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        pipeline_dir=args.pipeline_dir,
        max_duration_s=args.max_duration_s,
        counselor_channel=args.counselor_channel,
        enrollment=str(args.enroll) if args.enroll else None,
    )
    bars = StageBars(enabled=not args.quiet and sys.stderr.isatty())
    summary = run_session(
        args.audio,
        args.out,
        speech=options,
        counselor=args.counselor,
        counselor_first=args.counselor_first,
        progress=bars,
        status_file=False,  # bad input writes nothing, as before
        quiet=True,
    )
    if summary["status"] != "done":
        print(f"session-analyzer: error: {summary['error']}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out)
    files = {
        "srt": outputs.SRT_FILE,
        "vtt": outputs.VTT_FILE,
        "rttm": outputs.RTTM_FILE,
        "html": outputs.HTML_FILE,
        "markdown": outputs.MARKDOWN_FILE,
        "session": outputs.SESSION_FILE,
    }
    return _report({kind: out / name for kind, name in files.items()})


def _report(paths: dict[str, Path]) -> int:
    import json

    document = json.loads(paths["session"].read_text("utf-8"))
    evidence, roles = document["evidence"], document["roles"]
    print(
        f"client-led: {evidence['client_led']}  "
        f"(counselor {roles['counselor']}, client {roles['client']}, "
        f"roles by {roles['method']}, confidence {roles['confidence']:.0%})"
    )
    for warning in document["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for kind, path in paths.items():
        print(f"{kind:<9}{path}")
    return 0


def run_rescore(args: argparse.Namespace) -> int:
    """``rescore``: roles → measures → evidence again from a stored session.json."""
    from pipeline.document import rescore_document, role_hint, swap_roles
    from pipeline.outputs import read_document, write_outputs

    document = read_document(args.directory)
    if args.swap:
        updated = swap_roles(document)
    else:
        hint = role_hint(counselor=args.counselor, counselor_first=args.counselor_first)
        updated = rescore_document(document, hint=hint)
    return _report(write_outputs(updated, args.directory))


def run_models(_args: argparse.Namespace) -> int:
    """``models``: resolve and verify every built-in model."""
    from models.registry import (
        WHISPER_MODELS,
        resolve_embedding,
        resolve_segmentation,
        resolve_whisper,
    )

    for resolved in [
        *(resolve_whisper(name) for name in WHISPER_MODELS),
        resolve_segmentation(),
        resolve_embedding(),
    ]:
        print(f"ok  {resolved.id:<48} {resolved.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``session-analyzer`` console script."""
    args = build_parser().parse_args(argv)
    handlers = {
        "analyze": run_analyze,
        "cohort": run_cohort,
        "rescore": run_rescore,
        "models": run_models,
        **WEB_HANDLERS,
    }
    try:
        return handlers[args.command](args)
    except (AnalyzerError, ModelError, ValueError) as error:
        print(f"session-analyzer: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
