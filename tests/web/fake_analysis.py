"""A stand-in for the model stages: a real session document without running a model.

The recording is decoded for real (``load_audio``, so bad audio fails exactly
as in production), and the words and turns come from the fixture's truth file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import AnalyzerError
from pipeline.outputs import write_outputs
from pipeline.session import SpeechOptions, SpeechResult, score, session_document
from pipeline.types import Diarization, Transcript, TranscriptSegment, Turn, Word
from web.processing import Job, Result, write_status

TRUTH = Path(__file__).parents[1] / "fixtures" / "dialogue_client_led.truth.json"
LABELS = {"SPK_C": "SPEAKER_00", "SPK_K": "SPEAKER_01"}


def _transcript_and_turns(duration_s: float) -> tuple[Transcript, tuple[Turn, ...]]:
    truth = json.loads(TRUTH.read_text("utf-8"))
    segments, turns = [], []
    for seg in truth["segments"]:
        start, end = float(seg["start"]), min(float(seg["end"]), duration_s)
        if end <= start:
            continue
        turns.append(Turn(start, end, LABELS[seg["speaker"]]))
        tokens = seg["text"].split()
        step = (end - start) / len(tokens)
        words = tuple(
            Word(start + i * step, start + (i + 1) * step, t, 0.9) for i, t in enumerate(tokens)
        )
        segments.append(TranscriptSegment(start, end, seg["text"], words))
    transcript = Transcript("en", 1.0, tuple(segments), "fake-whisper")
    return transcript, tuple(turns)


def _exclusive(turns: tuple[Turn, ...]) -> tuple[Turn, ...]:
    out: list[Turn] = []
    for turn in sorted(turns, key=lambda t: t.start):
        start = max(turn.start, out[-1].end) if out else turn.start
        if turn.end > start:
            out.append(Turn(start, turn.end, turn.speaker))
    return tuple(out)


def fake_document(audio_path: str, *, counselor_first: bool = False) -> dict[str, Any]:
    """A valid session.json for ``audio_path`` (decoded for real, words from the truth file)."""
    from pipeline.attribute import build_utterances
    from pipeline.audio import load_audio
    from pipeline.session import role_hint

    audio = load_audio(audio_path)
    transcript, turns = _transcript_and_turns(audio.info.duration_s)
    diarization = Diarization(turns, _exclusive(turns), "fake-diarizer")
    words, utterances = build_utterances(transcript, diarization.exclusive)
    result = SpeechResult(audio.info, transcript, diarization, words, utterances, SpeechOptions())
    scored = score(
        diarization.turns,
        utterances,
        duration_s=audio.info.duration_s,
        hint=role_hint(counselor_first=counselor_first),
    )
    return session_document(result, scored)


def fake_runner(job: Job) -> Result:
    """Runs like ``web.processing.run_direct`` but with :func:`fake_document`."""
    write_status(job.out_dir, "decoding")
    try:
        document = fake_document(job.audio_path, counselor_first=job.counselor_first)
    except AnalyzerError as error:
        write_status(job.out_dir, "failed", error=str(error))
        return {
            "status": "failed",
            "error": str(error),
            "sha256": None,
            "client_led": None,
            "session_json": None,
        }
    write_status(job.out_dir, "scoring")
    paths = write_outputs(document, job.out_dir)
    write_status(job.out_dir, "done", sha256=document["audio"]["sha256"])
    return {
        "status": "done",
        "error": None,
        "sha256": document["audio"]["sha256"],
        "client_led": document["evidence"]["client_led"],
        "session_json": str(paths["session"]),
    }
