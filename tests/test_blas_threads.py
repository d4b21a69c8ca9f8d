"""Transcripts do not depend on how many threads numpy's BLAS has (``single_threaded_blas``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import pipeline.transcribe as transcribe_module
from pipeline.audio import load_audio
from pipeline.transcribe import single_threaded_blas, transcribe

HELDOUT = Path(__file__).parent / "fixtures" / "realistic_heldout"


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_single_threaded_blas_leaves_numpy_one_thread() -> None:
    with threadpool_limits(limits=2, user_api="blas"):  # restored when the test ends
        single_threaded_blas()
        assert blas_threads() == {1}


def test_transcription_pins_blas_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    class StopError(Exception):
        pass

    def stop(_model: str) -> None:
        raise StopError

    monkeypatch.setattr(transcribe_module, "resolve_whisper", stop)
    audio = load_audio(HELDOUT / "kokoro_anxiety.ogg")
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(StopError):
            transcribe(audio)
        assert blas_threads() == {1}


@pytest.mark.slow
def test_the_words_are_the_same_whatever_blas_threads_the_process_started_with() -> None:
    """Before the limit, this dialogue gave 224 words with numpy's BLAS on two threads and
    227 on one (3 differed); on a machine with fewer than two cores the case cannot arise."""
    audio = load_audio(HELDOUT / "kokoro_anxiety.ogg")
    found = []
    for threads in (2, 1):
        with threadpool_limits(limits=threads, user_api="blas"):
            found.append([(w.start, w.end, w.text) for w in transcribe(audio, language="en").words])
    assert found[0] == found[1]
    assert len(found[0]) == 227
