"""``session-analyzer``: analyze counseling-session recordings from the command line.

Exit status: 0 on success, 2 when an option, the input or a model cannot be
used (one clear line on stderr, before anything slow starts), 130 when
interrupted, 1 on an unexpected failure (one line; ``--verbose`` adds the
traceback).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn, cast

from cli.checks import (
    check_channels,
    check_language,
    check_max_duration,
    check_output_dir,
    check_speakers,
    check_threads,
    file_argument,
    folder_argument,
    removed_unless_finished,
)
from cli.cohort import add_cohort_parser, run_cohort
from cli.console import quiet_third_party_warnings
from models import ModelError
from pipeline.errors import AnalyzerError
from web.cli import WEB_HANDLERS, add_web_commands

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 1


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one line (usage stays under ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose``: third-party warnings, Prefect's log lines and tracebacks too."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show third-party warnings, Prefect's log lines and full tracebacks",
    )


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
    analyze.add_argument(
        "audio", type=file_argument, help="audio or video file (wav, mp3, m4a, ogg, ...)"
    )
    analyze.add_argument("--out", type=folder_argument, required=True, help="output directory")
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
    analyze.add_argument(
        "--channels",
        choices=["auto", "mix", "split"],
        default="auto",
        help="stereo recordings: auto (default) diarizes by channel when each party has its "
        "own channel, mix analyzes the mixed-down voices, split always diarizes by channel",
    )
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    add_verbose(analyze)
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
            type=file_argument,
            metavar="RECORDING",
            help="a recording of the counselor's voice alone (10-30 s); match by voice",
        )
    else:
        roles.add_argument("--swap", action="store_true", help="exchange counselor and client")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with ``--help`` on every command."""
    parser = OneLineParser(
        prog="session-analyzer",
        description="Evidence that a recorded counseling session was client-led.",
    )
    # Subcommand parsers are OneLineParsers too (argparse makes them of the parent's class).
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True),
    )
    _add_analyze(commands)
    add_cohort_parser(commands)
    rescore = commands.add_parser(
        "rescore",
        help="correct roles and recompute the measures of an analyzed session",
        description="Re-run roles, measures and evidence from DIR/session.json and rewrite "
        "every output file. No model runs.",
    )
    rescore.add_argument("directory", type=folder_argument, help="an output directory of `analyze`")
    _add_role_options(rescore)
    add_verbose(rescore)
    models = commands.add_parser(
        "models",
        help="verify the offline models and prepare the model cache",
        description="Check every built-in model file against its sha256 and assemble split "
        "models into the cache. Run once after installation.",
    )
    add_verbose(models)
    add_web_commands(commands)
    return parser


def check_analyze(args: argparse.Namespace) -> bool:
    """Every check that needs no orchestration and no model run (milliseconds).

    Options, model names, the recording (and enrollment sample): existence,
    type, container, declared duration, a WAV header that lies; the output
    folder: writable. Returns whether ``--out`` existed before.
    """
    from models.registry import resolve_pyannote_pipeline, resolve_whisper
    from pipeline.audio import probe_audio

    check_speakers(
        num_speakers=args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
    )
    check_threads(args.threads)
    check_max_duration(args.max_duration_s)
    check_language(args.language)
    check_channels(args.channels, args.counselor_channel)
    resolve_whisper(args.model)
    if args.pipeline_dir is not None:
        resolve_pyannote_pipeline(args.pipeline_dir)
    probe_audio(args.audio, max_duration_s=args.max_duration_s)
    if args.enroll is not None:
        probe_audio(args.enroll, max_duration_s=args.max_duration_s)
    return check_output_dir(args.out)


def run_analyze(args: argparse.Namespace) -> int:
    """``analyze``: the session flow (every stage cached by content), then the summary."""
    existed = check_analyze(args)
    if not args.verbose:
        # Prefect's console lines would break the one-line error contract (it still records them).
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    with removed_unless_finished(args.out, existed=existed):
        if getattr(args, "own_process", False):
            from flows.prefect_internals import start_local_server

            # Prefect's local API server gets ready while torch, Prefect and the models load
            # (docs/benchmarks.md, "CLI overhead"); it stops when this process ends.
            start_local_server()
        return _analyze(args, existed=existed)


def _analyze(args: argparse.Namespace, *, existed: bool) -> int:
    own_process = getattr(args, "own_process", False)
    with interrupts_held(enabled=own_process), imports_without_collection(enabled=own_process):
        import faster_whisper  # noqa: F401 - imported here rather than in the first task

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
        channels=args.channels,
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
        quiet=not args.verbose,
    )
    if summary["status"] != "done":
        if not existed:
            shutil.rmtree(args.out, ignore_errors=True)
        message = " ".join(str(summary["error"]).split())
        if not message.startswith((args.audio.name, str(args.audio))):
            message = f"{args.audio.name}: {message}"  # every message names the file
        print(f"session-analyzer: error: {message}", file=sys.stderr)
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
    score = evidence.get("score")
    print(
        f"client-led: {evidence['client_led']}  "
        + (f"score {score:.0%}  " if score is not None else "")
        + f"(counselor {roles['counselor']}, client {roles['client']}, "
        f"roles by {roles['method']}, confidence {roles['confidence']:.0%})"
    )
    if evidence["client_led"] == "inconclusive":
        print(f"why: {evidence['reasons'][0]}")
    for warning in document["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for kind, path in paths.items():
        print(f"{kind:<9}{path}")
    return 0


def run_rescore(args: argparse.Namespace) -> int:
    """``rescore``: roles → measures → evidence again from a stored session.json.

    The stored document is refused unless it holds together
    (:func:`pipeline.document_check.read_session_document`); the new outputs
    are written to a temporary folder beside it and moved into place,
    ``session.json`` last, after the previous one is kept as ``session.json.bak``.
    """
    from cli.rewrite import replace_outputs
    from pipeline.document import rescore_document, role_hint, swap_roles
    from pipeline.document_check import check_document, read_session_document

    document = read_session_document(args.directory)
    if args.swap:
        updated = swap_roles(document)
    else:
        hint = role_hint(counselor=args.counselor, counselor_first=args.counselor_first)
        updated = rescore_document(document, hint=hint)
    check_document(updated, source="the rescored document")
    return _report(replace_outputs(updated, args.directory))


def run_models(_args: argparse.Namespace) -> int:
    """``models``: resolve and verify every built-in model."""
    from models.registry import (
        WHISPER_MODELS,
        resolve_embedding,
        resolve_mi_coder,
        resolve_segmentation,
        resolve_whisper,
    )

    for resolved in [
        *(resolve_whisper(name) for name in WHISPER_MODELS),
        resolve_segmentation(),
        resolve_embedding(),
        resolve_mi_coder(),
    ]:
        print(f"ok  {resolved.id:<48} {resolved.path}")
    from models.loaders import load_campplus_onnx

    onnx = load_campplus_onnx(threads=1)  # exported once here, not in the first analysis
    if onnx is None:
        print("--  CAM++ for ONNX Runtime: not available, PyTorch runs it (slower)")
    else:
        print(f"ok  {'campplus (ONNX Runtime graph)':<48} {onnx.path}")
    return 0


def main(argv: Sequence[str] | None = None, *, own_process: bool | None = None) -> int:
    """Entry point of the ``session-analyzer`` console script.

    ``own_process``: whether the process ends with this command (default: when
    ``argv`` is ``None``, as from the console script). Only then does ``analyze``
    start Prefect's local API server early, for the rest of the process, and
    does the process skip the garbage collection of its final teardown.
    """
    args = build_parser().parse_args(argv)
    args.own_process = argv is None if own_process is None else own_process
    try:
        return _run(args)
    finally:
        if args.own_process:
            quick_teardown()


@contextmanager
def imports_without_collection(*, enabled: bool) -> Iterator[None]:
    """Import torch, Prefect and the pipeline with the cyclic collector paused, then freeze them.

    Imports build few reference cycles, but every full collection while they
    run walks the whole growing heap: about 2.5 s of a CLI run on 2 busy cores,
    and later collections (one stalled transcription for 1 s) walk it again.
    Frozen, the imported objects are never walked. Only for a process that
    ends with its command (``enabled``): the freeze is for good.
    """
    if not enabled:
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def quick_teardown() -> None:
    """Spare the interpreter's exit from walking every object of torch and Prefect.

    At exit CPython tears modules down with garbage collections over the whole
    heap: 2-4 s after importing torch, Prefect and the models on 2 busy cores,
    0.6 s with every object frozen first (docs/benchmarks.md). ``atexit``
    hooks still run; nothing that matters is left to the collector.
    """
    gc.disable()
    gc.freeze()


def _run(args: argparse.Namespace) -> int:
    verbose = bool(getattr(args, "verbose", False))
    interrupt_on_signals()
    if not verbose:
        quiet_third_party_warnings()
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
        print(f"session-analyzer: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("session-analyzer: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or _one_line(error)
        print(f"session-analyzer: error: {where}{reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:
        if verbose:
            raise
        print(
            f"session-analyzer: internal error ({type(error).__name__}): {_one_line(error)}; "
            "run again with --verbose for the details",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def interrupts_held(*, enabled: bool) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while torch, Prefect and the models import; interrupt after.

    An interrupt in the middle of an import leaves half-initialised modules
    behind: a later import of the same extension then fails ("type ... is
    already registered", reported as an internal error). Interrupts landing
    in imports were also seen to be lost (the command ran on to the end) and
    to end the process by the signal after the clean-up. Held, it takes
    effect as ``KeyboardInterrupt`` once the imports are done, a few seconds
    later; a second one interrupts at once. Only in the main thread of a
    process that ends with its command.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held:
        raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """SIGTERM and Ctrl-C (SIGINT) end a command at once: clean-up runs, the local server stops.

    By default SIGTERM kills the process at once, skipping every ``finally`` and
    ``atexit`` hook: the local Prefect server would be left running, orphaned.
    SIGINT gets the same handler because ``asyncio.run``, which Prefect calls
    in the main thread, swaps Python's default SIGINT handler for one that
    only cancels the running task: a Ctrl-C there could be swallowed (the
    command ran on to the end) or come back after the clean-up as a second
    interrupt (the process killed by the signal, exit -2). asyncio leaves a
    handler of our own in place.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
