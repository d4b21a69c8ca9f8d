"""Transcripts do not depend on how many threads numpy's BLAS has (``single_threaded_blas``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import pipeline.diarize as diarize_module
import pipeline.transcribe as transcribe_module
from pipeline.audio import load_audio
from pipeline.blas_threads import single_threaded_blas
from pipeline.diarize import diarize
from pipeline.transcribe import transcribe

HELDOUT = Path(__file__).parent / "fixtures" / "realistic_heldout"


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads() -> Iterator[None]:
    """numpy's BLAS on two threads while the test runs, as on a fresh 2-core process."""
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("this BLAS runs on one thread only: there is nothing to limit")
        yield


class StopError(Exception):
    """Raised by a stand-in for the first model step, to stop a stage before any work."""


def stop(*_args: object, **_kwargs: object) -> None:
    raise StopError


@pytest.mark.usefixtures("two_blas_threads")
def test_single_threaded_blas_leaves_numpy_one_thread() -> None:
    single_threaded_blas()
    assert blas_threads() == {1}


@pytest.mark.usefixtures("two_blas_threads")
def test_both_model_stages_limit_blas_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    audio = load_audio(HELDOUT / "kokoro_anxiety.ogg")
    monkeypatch.setattr(transcribe_module, "resolve_whisper", stop)
    with pytest.raises(StopError):
        transcribe(audio)
    assert blas_threads() == {1}
    with threadpool_limits(limits=2, user_api="blas"):
        monkeypatch.setattr(diarize_module, "choose_device", stop)
        with pytest.raises(StopError):
            diarize(audio)
        assert blas_threads() == {1}


@pytest.mark.slow
def test_the_words_are_the_same_whatever_blas_threads_the_process_started_with() -> None:
    """Before the limit, this dialogue gave 224 words with numpy's BLAS on two threads and
    227 on one (3 differed); on a machine with fewer than two cores the case cannot arise.

    How many words it gives depends on the kind of processor (CTranslate2 picks its kernels
    by instruction set): 227 on the machine of docs/metrics.md's tables, 228 on AMD AVX-512,
    231 on AMD AVX2, 222 and 225 with ``CT2_FORCE_CPU_ISA=AVX`` and ``GENERIC``. The count
    is bounded only to catch a transcription that broke; the test is the equality."""
    audio = load_audio(HELDOUT / "kokoro_anxiety.ogg")
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("this BLAS runs on one thread only: there is nothing to limit")
    found = []
    for threads in (2, 1):
        with threadpool_limits(limits=threads, user_api="blas"):
            found.append([(w.start, w.end, w.text) for w in transcribe(audio, language="en").words])
    assert found[0] == found[1]
    assert 215 <= len(found[0]) <= 240
