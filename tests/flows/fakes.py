"""Fast stand-ins for the model stages, so flow tests exercise Prefect and not Whisper.

Decoding stays real (a corrupt file still fails for real); transcription and
diarization are replaced by deterministic fakes that count their calls by
audio sha256. Every fake word carries the marker ``quokka`` so tests can
check that no transcript text reaches Prefect's logs or artifacts.

``python -m tests.flows.fakes SOURCE OUT BLOCK_ON`` runs a cohort with the
fakes installed and blocks forever in the transcription of any recording whose
file stem is ``BLOCK_ON`` (after creating ``OUT/.blocked``): the resilience
test kills that process mid-cohort.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.types import Audio, Diarization, Transcript, TranscriptSegment, Turn, Word

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MARKER = "quokka"
TURN_S = 4.0
GAP_S = 0.5
QUESTION = ("so", "what", "brings", "you", "here", MARKER + "?")
ANSWER = ("i", "feel", "tired", "and", MARKER, "stressed.")

calls: Counter[tuple[str, str]] = Counter()
"""(stage, audio sha256) → number of calls in this process."""
_lock = threading.Lock()
block_on: str | None = None
"""A file stem whose transcription blocks forever (set by the subprocess entry point)."""
fail_once: set[str] = set()
"""Stages that raise a transient ``OSError`` on their next call."""


def _turns(duration_s: float) -> tuple[Turn, ...]:
    turns = []
    start, index = 0.5, 0
    while start + 1.0 < duration_s:
        end = min(start + TURN_S, duration_s - 0.1)
        turns.append(Turn(round(start, 3), round(end, 3), f"SPEAKER_0{index % 2}"))
        start, index = end + GAP_S, index + 1
    return tuple(turns)


def _count(stage: str, audio: Audio) -> None:
    with _lock:
        calls[(stage, audio.info.sha256)] += 1
        if stage in fail_once:
            fail_once.discard(stage)
            raise OSError(f"fake transient failure in {stage}")


def fake_transcribe(
    audio: Audio, *, progress: Callable[[float, float], None] | None = None, **_: Any
) -> Transcript:
    """Questions in even turns, answers in odd ones; words spread over each turn."""
    if block_on is not None and Path(audio.info.path).stem == block_on:
        (Path(sys.argv[2]) / ".blocked").touch()
        time.sleep(3600)
    _count("transcribe", audio)
    segments = []
    for index, turn in enumerate(_turns(audio.duration_s)):
        texts = QUESTION if index % 2 == 0 else ANSWER
        step = (turn.end - turn.start) / (len(texts) + 1)
        words = tuple(
            Word(round(turn.start + step * i, 3), round(turn.start + step * (i + 0.8), 3), t, 0.9)
            for i, t in enumerate(texts)
        )
        segments.append(TranscriptSegment(turn.start, turn.end, " ".join(texts), words))
    if progress is not None:
        progress(audio.duration_s, audio.duration_s)
    return Transcript("en", 0.99, tuple(segments), "fake-whisper")


def fake_diarize(
    audio: Audio, *, progress: Callable[[float, float], None] | None = None, **_: Any
) -> Diarization:
    """Two speakers taking turns of 4 s."""
    _count("diarize", audio)
    turns = _turns(audio.duration_s)
    if progress is not None:
        progress(audio.duration_s, audio.duration_s)
    return Diarization(turns=turns, exclusive=turns, model="fake-diarizer")


def _with_session_signature(fake: Callable[..., Any], stage: str) -> Callable[..., Any]:
    """``fake`` with the signature of :mod:`pipeline.session`'s ``transcribe_with``/``diarize_with``."""

    def adapted(
        audio: Audio, _options: Any, *, progress: Callable[[str, float, float], None] | None = None
    ) -> Any:
        return fake(audio, progress=None if progress is None else partial(progress, stage))

    return adapted


fake_diarize_with = _with_session_signature(fake_diarize, "diarize")
fake_transcribe_with = _with_session_signature(fake_transcribe, "transcribe")


def fake_resolve_models(speech: Any) -> Any:
    """Model ids without touching the model registry (its checksums take seconds)."""
    from flows.analyze_session import ModelIds

    return ModelIds(
        whisper=f"fake-whisper:{speech.model}",
        diarization="fake-diarizer",
        device="cpu",
        compute_type="int8",
    )


FAKES = {
    "transcribe_with": fake_transcribe_with,
    "diarize_with": fake_diarize_with,
    "resolve_models": fake_resolve_models,
}
"""Attribute of :mod:`flows.analyze_session` → its fake."""


def install() -> None:
    """Replace the model stages of :mod:`flows.analyze_session` for this process."""
    import flows.analyze_session as target

    for name, fake in FAKES.items():
        setattr(target, name, fake)


def copy_fixture(name: str, target: Path) -> Path:
    """Copy a committed recording to ``target`` (creating its folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / name, target)
    return target


def _main() -> None:
    global block_on
    source, out, block_on = sys.argv[1], sys.argv[2], sys.argv[3]
    install()
    from flows.score_cohort import run_cohort_flow
    from pipeline.session import SpeechOptions

    run_cohort_flow(source, out, speech=SpeechOptions(model="tiny.en"), workers=1)


if __name__ == "__main__":
    _main()
