"""Transcription and diarization side by side: the core split and real concurrency."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any, cast

import pytest
import torch

from pipeline import session
from pipeline.session import SpeechOptions, overlapped_stages
from pipeline.types import Audio


def _audio() -> Audio:
    return cast(Audio, object())  # the fake stages never look at it


@pytest.mark.parametrize(
    ("cpu_threads", "whisper_threads", "torch_threads"),
    [(2, 2, 1), (1, 1, 1), (3, 3, 2), (8, 8, 4)],
)
def test_cores_are_split_and_both_stages_run_at_once(
    monkeypatch: pytest.MonkeyPatch, cpu_threads: int, whisper_threads: int, torch_threads: int
) -> None:
    both_started = threading.Barrier(2, timeout=10)  # breaks if the stages ran one after the other
    seen: dict[str, Any] = {}

    def fake_transcribe(audio: Audio, options: SpeechOptions, **_: Any) -> str:
        seen["whisper_threads"] = options.cpu_threads
        both_started.wait()
        return "transcript"

    def fake_diarize(audio: Audio, options: SpeechOptions, **_: Any) -> str:
        seen["torch_threads"] = torch.get_num_threads()
        both_started.wait()
        return "diarization"

    monkeypatch.setattr(session, "transcribe_with", fake_transcribe)
    monkeypatch.setattr(session, "diarize_with", fake_diarize)
    before = torch.get_num_threads()
    options = replace(SpeechOptions(), cpu_threads=cpu_threads)
    stages: tuple[Any, Any] = overlapped_stages(_audio(), options)
    assert stages == ("transcript", "diarization")
    assert seen == {"whisper_threads": whisper_threads, "torch_threads": torch_threads}
    assert torch.get_num_threads() == before


def test_a_failing_stage_raises_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise RuntimeError("diarization broke")

    monkeypatch.setattr(session, "transcribe_with", lambda *_, **__: "transcript")
    monkeypatch.setattr(session, "diarize_with", fail)
    with pytest.raises(RuntimeError, match="diarization broke"):
        overlapped_stages(_audio(), SpeechOptions(cpu_threads=2))
