"""Real-time factor and peak memory of each stage, each measured in a fresh process.

RTF = processing seconds / audio seconds (lower is faster). Peak memory is the
child process's maximum resident set size, so it includes the decoded audio
and the loaded model. Model loading is excluded from per-stage times (a 5 s
warm-up clip runs first) and included in the end-to-end time, which is what a
user waits for from ``session-analyzer analyze``; the end-to-end run also
reports the time of each phase (attribution and scoring are only measured
there: they are pure Python and take milliseconds).
"""

from __future__ import annotations

import multiprocessing
import resource
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any


@dataclass(frozen=True)
class StageRun:
    """One measured configuration."""

    stage: str
    config: str
    seconds: float
    audio_s: float
    peak_rss_mb: float
    extra: dict[str, Any]

    @property
    def rtf(self) -> float:
        return self.seconds / self.audio_s


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_clip(audio: Any) -> Any:
    from dataclasses import replace

    return replace(
        audio,
        samples=audio.samples[: 5 * 16_000],
        channel_samples=audio.channel_samples[:, : 5 * 16_000],
    )


def _child(stage: str, path: str, kwargs: dict[str, Any], queue: Any) -> None:
    warnings.filterwarnings("ignore")  # library chatter would bury the tables
    from pipeline.audio import load_audio

    extra: dict[str, Any] = {}
    if stage == "decode":
        start = time.perf_counter()
        audio = load_audio(path)
        seconds = time.perf_counter() - start
    elif stage == "end_to_end":
        from pipeline.outputs import write_outputs
        from pipeline.session import SpeechOptions, analyze_speech, score, session_document

        out = Path(kwargs.pop("out"))
        marks: dict[str, float] = {}

        def mark(stage: str, _done: float, _total: float) -> None:
            marks[stage] = time.perf_counter()

        start = time.perf_counter()
        result = analyze_speech(path, options=SpeechOptions(**kwargs), progress=mark)
        scored = score(
            result.diarization.turns, result.utterances, duration_s=result.audio.duration_s
        )
        marks["score"] = time.perf_counter()
        write_outputs(session_document(result, scored), out)
        marks["write"] = time.perf_counter()
        seconds = marks["write"] - start
        phases, previous = {}, start
        for phase in ("decode", "transcribe", "diarize", "attribute", "score", "write"):
            phases[phase] = marks[phase] - previous
            previous = marks[phase]
        extra = {"phases_s": phases, "words": len(result.words)}
        queue.put((seconds, result.audio.duration_s, _peak_mb(), extra))
        return
    else:
        audio = load_audio(path)
        if stage == "transcribe":
            from pipeline.transcribe import transcribe

            transcribe(_warm_clip(audio), **kwargs)
            start = time.perf_counter()
            transcript = transcribe(audio, **kwargs)
            seconds = time.perf_counter() - start
            extra = {"words": len(transcript.words)}
        elif stage == "diarize":
            from pipeline.diarize import diarize

            diarize(_warm_clip(audio), **kwargs)
            start = time.perf_counter()
            diarization = diarize(audio, **kwargs)
            seconds = time.perf_counter() - start
            extra = {"turns": [(t.start, t.end, t.speaker) for t in diarization.turns]}
        else:
            raise ValueError(stage)
    queue.put((seconds, audio.duration_s, _peak_mb(), extra))


def measure(stage: str, config: str, path: Path, **kwargs: Any) -> StageRun:
    """Run one stage on ``path`` in a fresh process and measure it."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(stage, str(path), kwargs, queue))
    process.start()
    while True:
        try:
            seconds, audio_s, peak, extra = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"benchmark of {stage} ({config}) failed: see its traceback above"
                ) from None
    process.join()
    run = StageRun(stage, config, seconds, audio_s, peak, extra)
    print(
        f"  {stage:<11} {config:<40} {seconds:8.1f} s  RTF {run.rtf:.3f}  peak {peak:.0f} MB",
        flush=True,
    )
    return run
