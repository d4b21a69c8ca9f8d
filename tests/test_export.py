"""SRT, WebVTT and RTTM writers, exact output."""

from __future__ import annotations

from pipeline.export import MAX_CUE_WORDS, to_rttm, to_srt, to_vtt
from pipeline.types import SpeakerWord, Turn, Utterance


def utterance(start: float, speaker: str, texts: list[str]) -> Utterance:
    words = tuple(
        SpeakerWord(start + i * 0.5, start + i * 0.5 + 0.4, t, 0.9, speaker)
        for i, t in enumerate(texts)
    )
    return Utterance(words[0].start, words[-1].end, speaker, words)


def test_srt() -> None:
    text = to_srt([utterance(1.0, "A", ["Hello", "there."]), utterance(3661.5, "B", ["Hi."])])
    assert text == (
        "1\n00:00:01,000 --> 00:00:01,900\n[A] Hello there.\n\n"
        "2\n01:01:01,500 --> 01:01:01,900\n[B] Hi.\n"
    )


def test_vtt_uses_a_dot_and_a_header() -> None:
    text = to_vtt([utterance(0.25, "A", ["Hello."])], label=lambda s: f"role of {s}")
    assert text == "WEBVTT\n\n00:00:00.250 --> 00:00:00.650\n[role of A] Hello.\n"


def test_long_utterances_are_split_into_several_cues() -> None:
    text = to_srt([utterance(0.0, "A", [f"w{i}" for i in range(MAX_CUE_WORDS + 1)])])
    assert text.count("-->") == 2
    assert text.endswith(f"[A] w{MAX_CUE_WORDS}\n")


def test_rttm_is_sorted_with_a_safe_uri() -> None:
    rttm = to_rttm([Turn(2.5, 3.0, "B"), Turn(0.0, 1.25, "A")], uri="my session")
    assert rttm == (
        "SPEAKER my_session 1 0.000 1.250 <NA> <NA> A <NA> <NA>\n"
        "SPEAKER my_session 1 2.500 0.500 <NA> <NA> B <NA> <NA>\n"
    )
