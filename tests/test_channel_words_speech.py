"""Per-channel transcription on a real stereo recording (Kokoro voices, one party per channel)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from pipeline.session import SpeechResult, analyze_speech
from pipeline.types import CHANNEL_LABELS

REALISTIC = Path(__file__).parent / "fixtures" / "realistic"


@cache
def drinking() -> SpeechResult:
    return analyze_speech(REALISTIC / "kokoro_drinking_stereo.ogg")


def spoken(result: SpeechResult, speaker: str, start_s: float, end_s: float) -> list[str]:
    return [
        token
        for w in result.words
        if w.speaker == speaker and start_s <= w.start <= end_s
        for token in re.findall(r"[a-z']+", w.text.lower())
    ]


@pytest.mark.slow
def test_every_word_is_transcribed_from_a_channel_and_goes_to_its_speaker() -> None:
    result = drinking()
    assert result.diarization.channels is not None
    assert result.diarization.channels.mode == "split"
    words = result.transcript.words
    assert len(words) > 250 and all(w.channel in (0, 1) for w in words)
    # build_utterances keeps the transcript's order: word k of both is the same word
    assert [w.speaker for w in result.words] == [CHANNEL_LABELS[w.channel or 0] for w in words]
    assert all(len({w.speaker for w in u.words}) == 1 for u in result.utterances)


@pytest.mark.slow
def test_the_interrupted_partys_cut_off_fragment_is_transcribed() -> None:
    truth = json.loads((REALISTIC / "kokoro_drinking.truth.json").read_text())
    sides = truth["stereo_channels"].items()
    speaker_of = {role: CHANNEL_LABELS[("left", "right").index(side)] for side, role in sides}
    result = drinking()
    cut = [s for s in truth["segments"] if s["kind"] == "speech" and s.get("cut")]
    assert len(cut) == 4
    for segment in cut:
        said = re.findall(r"[a-z']+", segment["said_before_cut"].lower())
        heard = spoken(result, speaker_of[segment["role"]], segment["start"] - 0.5, segment["end"])
        # the last two words said before the other party cut in, in order, by the right speaker
        assert any(heard[i : i + 2] == said[-2:] for i in range(len(heard))), segment["start"]
