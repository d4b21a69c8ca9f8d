"""The second transcription pass on real speech: words the first pass lost come back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.accuracy import read_rttm
from pipeline.audio import load_audio
from pipeline.session import SpeechOptions, fill_transcript_gaps
from pipeline.transcribe import transcribe
from pipeline.types import Audio, Diarization, Transcript, Turn

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"


def exclusive_turns(turns: list[Turn]) -> tuple[Turn, ...]:
    """The reference turns made disjoint: a turn starting inside the previous one is dropped."""
    kept: list[Turn] = []
    for turn in sorted(turns, key=lambda t: t.start):
        if not kept or turn.start >= kept[-1].end:
            kept.append(turn)
    return tuple(kept)


@pytest.fixture(scope="module")
def heard() -> tuple[Audio, Transcript]:
    """The client-led espeak dialogue and its full first-pass transcript."""
    audio = load_audio(FIXTURES / "dialogue_client_led.wav")
    return audio, transcribe(audio, language="en")


def test_speech_the_first_pass_lost_is_transcribed_again(heard: tuple[Audio, Transcript]) -> None:
    audio, full = heard
    lost_from, lost_to = 6.0, 12.0  # inside the client's long turn (5.1-20.6 s)
    lost = [
        w for s in full.segments for w in s.words if lost_from <= (w.start + w.end) / 2 <= lost_to
    ]
    assert len(lost) >= 12
    partial = replace(
        full,
        segments=tuple(
            replace(s, words=tuple(w for w in s.words if w not in lost)) for s in full.segments
        ),
    )
    turns = exclusive_turns(read_rttm((FIXTURES / "dialogue_client_led.rttm").read_text()))
    diarization = Diarization(turns=turns, exclusive=turns, model="reference")
    filled = fill_transcript_gaps(audio, partial, diarization, SpeechOptions(language="en"))
    back = [w for s in filled.segments for w in s.words if lost_from - 0.5 <= w.start <= lost_to]
    lost_texts = {w.text.strip(".,?!").lower() for w in lost}
    found = [w for w in back if w.text.strip(".,?!").lower() in lost_texts]
    assert len(found) >= 0.8 * len(lost)
    assert [w.start for s in filled.segments for w in s.words] == sorted(
        w.start for s in filled.segments for w in s.words
    )


def test_a_transcript_covering_the_speech_is_left_as_it_is(
    heard: tuple[Audio, Transcript],
) -> None:
    audio, full = heard
    turns = exclusive_turns(read_rttm((FIXTURES / "dialogue_client_led.rttm").read_text()))
    diarization = Diarization(turns=turns, exclusive=turns, model="reference")
    assert fill_transcript_gaps(audio, full, diarization, SpeechOptions(language="en")) == full
