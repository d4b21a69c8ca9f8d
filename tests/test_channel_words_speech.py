"""Per-channel transcription on a real stereo recording (Kokoro voices, one party per channel)."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline import session
from pipeline.audio import load_audio
from pipeline.channels import channel_activity
from pipeline.session import SpeechOptions, SpeechResult, analyze_speech, transcribe_channels
from pipeline.transcribe import transcribe
from pipeline.types import CHANNEL_LABELS, SAMPLE_RATE_HZ, Audio, Transcript

FIXTURES = Path(__file__).parent / "fixtures"
REALISTIC = FIXTURES / "realistic"


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


@pytest.mark.slow
def test_a_channels_stretch_the_speech_detector_skipped_is_transcribed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first pass stands in for a Silero that skipped a breathy voice: it loses 18.5-24.5 s.

    That stretch is inside one client turn (17.95-25.06 s), so one channel loses it.
    """
    audio = load_audio(FIXTURES / "dialogue_stereo.wav")
    options = SpeechOptions(language="en", channels="split")
    full = transcribe_channels(audio, options)
    lost_from, lost_to = 18.5, 24.5
    lost = [w for w in full.words if lost_from <= w.start <= lost_to]
    assert len(lost) >= 20 and len({w.channel for w in lost}) == 1

    def first_pass_loses_the_stretch(*args: Any, **kwargs: Any) -> Transcript:
        heard = transcribe(*args, **kwargs)
        if kwargs.get("speech_spans_s") is not None:
            return heard
        keep = [
            replace(s, words=tuple(w for w in s.words if not lost_from <= w.start <= lost_to))
            for s in heard.segments
        ]
        return replace(heard, segments=tuple(s for s in keep if s.words))

    monkeypatch.setattr(session, "transcribe", first_pass_loses_the_stretch)
    filled = transcribe_channels(audio, options)
    texts = {w.text.strip(".,?!").lower() for w in lost}
    back = [
        w
        for w in filled.words
        if lost_from - 0.5 <= w.start <= lost_to and w.text.strip(".,?!").lower() in texts
    ]
    # the stretch is heard again without its context, so a few words differ ("running" for
    # "run-in"); speech within 0.5 s of a word kept and pauses under 1 s are not filled
    assert len(back) >= 0.5 * len(lost)
    assert back[0].start <= 20.5 and back[-1].start >= 23.5
    assert {w.channel for w in back} == {lost[0].channel}
    # words in time order, except where one party starts while the other is mid-word
    for a, b in itertools.pairwise(filled.words):
        if b.start < a.start:
            assert b.channel != a.channel
            assert any(w.start <= b.start < w.end for w in filled.words if w.channel == a.channel)


@pytest.mark.slow
def test_coughs_on_a_channel_are_not_talk_and_no_noise_gets_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Coughs are loud but not voiced, so channel activity leaves them out. Key clicks often
    read as voiced (every click rings the same way, so a quick pair repeats itself within a
    pitch period) and can still count. By loudness alone both are 1 s or more of activity
    that reaches the second pass, which hears them without the speech detector: Whisper
    must not invent words there either."""
    audio = load_audio(FIXTURES / "dialogue_stereo.wav")
    rng = np.random.default_rng(0)
    tail = (rng.standard_normal((2, 8 * SAMPLE_RATE_HZ)) * 10 ** (-50 / 20)).astype(np.float32)
    t = np.arange(2 * SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    coughs = 0.1 * np.exp(-((t * 4) % 1) * 8) * rng.standard_normal(t.size)  # 4 bursts a second
    clicks = np.zeros(t.size)
    clicks[rng.integers(0, t.size, 30)] = 0.5
    tail[0, SAMPLE_RATE_HZ : 3 * SAMPLE_RATE_HZ] += coughs.astype(np.float32)
    tail[0, 4 * SAMPLE_RATE_HZ : 6 * SAMPLE_RATE_HZ] += np.convolve(
        clicks, np.exp(-np.arange(200) / 20), "same"
    ).astype(np.float32)
    samples = np.concatenate([audio.channel_samples, tail], axis=1)
    longer = Audio(
        replace(audio.info, duration_s=samples.shape[1] / SAMPLE_RATE_HZ),
        samples.mean(axis=0),
        samples,
    )
    end = audio.duration_s
    coughing = (end + 1.0, end + 3.0)
    voiced = channel_activity(longer)[0]
    assert not [run for run in voiced if run[0] < coughing[1] and run[1] > coughing[0]]
    loud = partial(channel_activity, voicing_reach_s=None)
    sounds = [run for run in loud(longer)[0] if run[0] > end]
    assert len(sounds) == 2 and all(stop - start >= 1.0 for start, stop in sounds)
    monkeypatch.setattr(session, "channel_activity", loud)
    transcript = transcribe_channels(longer, SpeechOptions(language="en", channels="split"))
    assert [w.text for w in transcript.words if w.start > audio.duration_s] == []
    assert len(transcript.words) > 60  # the dialogue itself is still transcribed
