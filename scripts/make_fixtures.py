"""Synthesize the audio fixtures in ``tests/fixtures/`` with espeak-ng, numpy and ffmpeg.

Every dialogue is assembled sample by sample from espeak-ng utterances whose
leading and trailing silence has been trimmed, so the truth written next to
each file (``NAME.truth.json`` and ``NAME.rttm``) gives the exact speech onset
and offset of every utterance, the planted interruptions and backchannels, and
the client's share of speech.

The output is deterministic for a given espeak-ng and ffmpeg build. CI never
runs this script: the generated files are committed. Regenerate with::

    .venv/bin/python scripts/make_fixtures.py

Needs ``espeak-ng`` and ``ffmpeg`` on ``PATH`` (``apt-get install espeak-ng ffmpeg``).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import librosa
import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

SR = 16_000
"""Sample rate of every synthesized fixture."""

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

TRIM_TOP_DB = 40.0
"""Level below the utterance's peak that counts as espeak's leading/trailing silence."""

PEAK = 0.45
"""Peak amplitude of every utterance, so two overlapping voices never clip."""

FADE_S = 0.005
"""Fade applied at both ends of every utterance against clicks."""

CUT_FADE_S = 0.010
"""Fade-out at the point where an interrupted utterance is cut off."""

YIELD_AFTER_S = 0.5
"""An interrupted speaker's audio stops this long after the interrupter starts."""

Float32Array = npt.NDArray[np.float32]
Kind = Literal["turn", "backchannel", "interrupted", "interruption"]


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: a speaker label in the truth, a role and espeak's settings."""

    label: str
    role: str
    voice: str
    pitch: int
    speed_wpm: int

    @property
    def espeak_args(self) -> list[str]:
        """The espeak-ng command-line options that select this voice."""
        return ["-v", self.voice, "-p", str(self.pitch), "-s", str(self.speed_wpm)]


COUNSELOR = Voice("SPK_C", "counselor", "en-us+m3", pitch=35, speed_wpm=150)
CLIENT = Voice("SPK_K", "client", "en-gb-scotland+f4", pitch=70, speed_wpm=160)
OTHER = Voice("SPK_P", "other", "en-us+m7", pitch=60, speed_wpm=145)


# ---------------------------------------------------------------------------
# espeak-ng


def espeak_version() -> str:
    """The installed espeak-ng's version string, e.g. ``1.51``."""
    out = subprocess.run(
        ["espeak-ng", "--version"], check=True, capture_output=True, text=True
    ).stdout
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    return out.split(":", 1)[1].split()[0]


def ffmpeg_version() -> str:
    """The installed ffmpeg's version string, e.g. ``5.1.6-0+deb12u1``."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-version"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[2]


@functools.cache
def tool_versions() -> dict[str, str]:
    """Versions of the external tools that made the fixtures, recorded in every truth file."""
    return {"espeak_ng": espeak_version(), "ffmpeg": ffmpeg_version()}


@functools.cache
def _synth_raw(text: str, voice: Voice) -> Float32Array:
    """espeak-ng's rendering of ``text``, resampled to 16 kHz, untrimmed."""
    wav = subprocess.run(
        ["espeak-ng", *voice.espeak_args, "--stdout", text], check=True, capture_output=True
    ).stdout
    data, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=False)
    samples = np.asarray(data, dtype=np.float32)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SR:
        samples = np.asarray(soxr.resample(samples, rate, SR, quality="HQ"), dtype=np.float32)
    return samples


def _fade(samples: Float32Array, fade_in_s: float, fade_out_s: float) -> Float32Array:
    """``samples`` with linear fades at the start and end."""
    out = samples.copy()
    n_in = min(len(out), round(fade_in_s * SR))
    n_out = min(len(out), round(fade_out_s * SR))
    if n_in:
        out[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out:
        out[-n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
    return out


@functools.cache
def synth(text: str, voice: Voice) -> Float32Array:
    """Speech for ``text`` in ``voice``: 16 kHz, silence trimmed, peak-normalised, faded."""
    raw = _synth_raw(text, voice)
    _, (start, end) = librosa.effects.trim(
        raw, top_db=TRIM_TOP_DB, frame_length=512, hop_length=128
    )
    speech = raw[start:end]
    speech = speech * np.float32(PEAK / max(float(np.max(np.abs(speech))), 1e-9))
    return _fade(speech.astype(np.float32), FADE_S, FADE_S)


def audible_words(text: str, voice: Voice, kept_samples: int) -> str:
    """The words of ``text`` heard when its speech is cut after ``kept_samples``.

    Approximate: the longest word prefix whose own rendering is no longer than
    what was kept (the cut word is dropped).
    """
    words = text.split()
    heard = ""
    for k in range(1, len(words) + 1):
        prefix = " ".join(words[:k])
        if len(synth(prefix, voice)) > kept_samples:
            break
        heard = prefix
    return heard


# ---------------------------------------------------------------------------
# Dialogue assembly


@dataclass(frozen=True)
class Placed:
    """One utterance placed on the timeline: samples ``[start, end)`` of its speaker."""

    voice: Voice
    text: str
    start: int
    end: int
    kind: Kind
    audio: Float32Array = field(repr=False)


@dataclass(frozen=True)
class Interruption:
    """Speaker ``interrupter`` starts at sample ``start`` while ``interrupted`` still talks."""

    start: int
    interrupter: Voice
    interrupted: Voice


class Dialogue:
    """A timeline of utterances built turn by turn.

    ``say`` appends a turn after a gap; ``backchannel`` overlays a short
    utterance inside the previous turn; ``interrupt`` starts a turn before the
    previous one would have ended and cuts the previous one off.
    """

    def __init__(self, name: str, voices: Sequence[Voice], lead_in_s: float = 0.5) -> None:
        self.name = name
        self.voices = list(voices)
        self.placed: list[Placed] = []
        self.interruptions: list[Interruption] = []
        self.cursor = round(lead_in_s * SR)

    def say(self, voice: Voice, text: str, gap_s: float = 0.5) -> Placed:
        """Append ``text`` by ``voice`` ``gap_s`` after the previous turn ends."""
        audio = synth(text, voice)
        start = self.cursor + (round(gap_s * SR) if self.placed else 0)
        item = Placed(voice, text, start, start + len(audio), "turn", audio)
        self.placed.append(item)
        self.cursor = item.end
        return item

    def interrupt(self, voice: Voice, text: str, overlap_s: float) -> Placed:
        """Start ``text`` ``overlap_s`` before the previous turn would end.

        The previous turn is cut ``YIELD_AFTER_S`` after this one starts (with
        a short fade-out), and its text is shortened to the words still heard.
        """
        if overlap_s <= YIELD_AFTER_S:
            raise ValueError("overlap_s must exceed YIELD_AFTER_S")
        victim = self._last_turn()
        audio = synth(text, voice)
        start = victim.end - round(overlap_s * SR)
        cut = start + round(YIELD_AFTER_S * SR)
        kept = cut - victim.start
        truncated = Placed(
            victim.voice,
            audible_words(victim.text, victim.voice, kept),
            victim.start,
            cut,
            "interrupted",
            _fade(victim.audio[:kept], 0.0, CUT_FADE_S),
        )
        self.placed[self.placed.index(victim)] = truncated
        item = Placed(voice, text, start, start + len(audio), "interruption", audio)
        self.placed.append(item)
        self.interruptions.append(Interruption(start, voice, victim.voice))
        self.cursor = item.end
        return item

    def backchannel(self, voice: Voice, text: str, at_fraction: float) -> Placed:
        """Overlay ``text`` inside the previous turn, near ``at_fraction`` of its length.

        The position is moved forward to the first place where the turn's
        speaker is talking for the whole backchannel (not pausing between
        sentences), so the backchannel truly overlaps speech.
        """
        host = self._last_turn()
        audio = synth(text, voice)
        start = host.start + _find_active_window(host.audio, len(audio), at_fraction)
        item = Placed(voice, text, start, start + len(audio), "backchannel", audio)
        self.placed.append(item)
        return item

    def _last_turn(self) -> Placed:
        return next(p for p in reversed(self.placed) if p.kind != "backchannel")

    def render(self, tail_s: float = 0.5) -> Float32Array:
        """The mono mix of every placed utterance, with ``tail_s`` of silence at the end."""
        total = max(p.end for p in self.placed) + round(tail_s * SR)
        mix = np.zeros(total, dtype=np.float32)
        for p in self.placed:
            mix[p.start : p.end] += p.audio
        return mix

    def render_channels(self, order: Sequence[Voice], tail_s: float = 0.5) -> Float32Array:
        """One channel per voice in ``order`` (shape ``(n, channels)``)."""
        total = max(p.end for p in self.placed) + round(tail_s * SR)
        out = np.zeros((total, len(order)), dtype=np.float32)
        for p in self.placed:
            out[p.start : p.end, order.index(p.voice)] += p.audio
        return out


def _find_active_window(host: Float32Array, length: int, at_fraction: float) -> int:
    """Offset into ``host`` near ``at_fraction`` where ``length`` samples are all speech."""
    hop = SR // 100
    frames = librosa.feature.rms(y=host, frame_length=2 * hop, hop_length=hop, center=False)[0]
    active = frames > float(np.max(frames)) * 10 ** (-30 / 20)
    n_frames: int = len(frames)
    need = -(-length // hop) + 2  # the window plus a frame of margin on each side
    first = round(at_fraction * n_frames)
    for i in [*range(first, n_frames - need), *range(first - 1, 0, -1)]:
        if active[i : i + need].all():
            return int((i + 1) * hop)
    raise ValueError("no stretch of continuous speech long enough for the backchannel")


# ---------------------------------------------------------------------------
# Truth


def _union_seconds(intervals: Sequence[tuple[int, int]]) -> float:
    """Total length in seconds of the union of sample intervals."""
    total = 0
    cur_start, cur_end = -1, -1
    for start, end in sorted(intervals):
        if start > cur_end:
            total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    total += cur_end - cur_start
    return total / SR


def _t(samples: int, offset: int = 0) -> float:
    return round((samples - offset) / SR, 6)


def truth(
    dialogue: Dialogue,
    *,
    audio_file: str,
    n_samples: int,
    channels: int,
    window: tuple[int, int] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The truth record of ``dialogue`` (optionally of the excerpt ``window`` only)."""
    lo, hi = window or (0, n_samples)
    placed = [p for p in dialogue.placed if p.start < hi and p.end > lo]
    segments = []
    for p in sorted(placed, key=lambda p: (p.start, p.end)):
        start, end = max(p.start, lo), min(p.end, hi)
        text = p.text
        if (start, end) != (p.start, p.end):
            text = audible_words(p.text, p.voice, end - p.start) if start == p.start else ""
        segments.append(
            {
                "start": _t(start, lo),
                "end": _t(end, lo),
                "start_sample": start - lo,
                "end_sample": end - lo,
                "speaker": p.voice.label,
                "role": p.voice.role,
                "kind": p.kind,
                "text": text,
            }
        )
    speech = {
        v.role: _union_seconds([(max(p.start, lo), min(p.end, hi)) for p in placed if p.voice == v])
        for v in dialogue.voices
    }
    client, counselor = speech.get("client", 0.0), speech.get("counselor", 0.0)
    turns = [p for p in sorted(placed, key=lambda p: p.start) if p.kind != "backchannel"]
    record: dict[str, Any] = {
        "audio_file": audio_file,
        "sample_rate": SR,
        "duration_s": _t(hi - lo),
        "channels": channels,
        "counselor_first": turns[0].voice.role == "counselor",
        "counselor_last": turns[-1].voice.role == "counselor",
        "voices": {v.label: v.voice for v in dialogue.voices},
        "espeak_args": {v.label: v.espeak_args for v in dialogue.voices},
        "roles": {v.label: v.role for v in dialogue.voices},
        "segments": segments,
        "interruptions": [
            {
                "start": _t(i.start, lo),
                "interrupter": i.interrupter.role,
                "interrupted": i.interrupted.role,
            }
            for i in dialogue.interruptions
            if lo <= i.start < hi
        ],
        "backchannels": [
            {"start": _t(p.start, lo), "end": _t(p.end, lo), "role": p.voice.role, "text": p.text}
            for p in placed
            if p.kind == "backchannel"
        ],
        "speech_s": {role: round(s, 6) for role, s in speech.items()},
        "client_share": round(client / (client + counselor), 6) if client + counselor else None,
        "generator": {"script": "scripts/make_fixtures.py", **tool_versions()},
    }
    record.update(extra or {})
    return record


def rttm(record: dict[str, Any], uri: str) -> str:
    """The RTTM lines of a truth record's segments."""
    lines = [
        f"SPEAKER {uri} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} <NA> <NA> "
        f"{s['speaker']} <NA> <NA>"
        for s in record["segments"]
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Writing


def write_wav(path: Path, samples: npt.NDArray[np.float32]) -> None:
    """Write 16 kHz 16-bit PCM (mono for 1-D input, one channel per column otherwise)."""
    sf.write(path, np.clip(samples, -1.0, 1.0), SR, subtype="PCM_16", format="WAV")


def write_truth(out: Path, name: str, record: dict[str, Any]) -> None:
    """Write ``NAME.truth.json`` and ``NAME.rttm``."""
    (out / f"{name}.truth.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / f"{name}.rttm").write_text(rttm(record, name))


FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1"]
BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact"]


def ffmpeg(*args: str | Path) -> None:
    """Run ffmpeg quietly, writing the output (the last argument) with bit-exact muxing.

    String arguments are split on whitespace; paths are passed whole.
    """
    *options, output = (part for arg in args for part in _words(arg))
    subprocess.run([*FFMPEG, *options, *BITEXACT, output], check=True)


def _words(arg: str | Path) -> list[str]:
    return [str(arg)] if isinstance(arg, Path) else arg.split()


def noise(shape: tuple[int, ...], level_db: float, seed: int) -> Float32Array:
    """Seeded white noise with RMS ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 10 ** (level_db / 20)).astype(np.float32)


# ---------------------------------------------------------------------------
# The fixtures


def client_led() -> Dialogue:
    """Motivational-interviewing session: open questions, reflections, a talkative client."""
    c, k = COUNSELOR, CLIENT
    d = Dialogue("dialogue_client_led", [c, k])
    d.say(c, "Hi, thanks for coming in. What brings you here today?")
    d.say(
        k,
        "Well, my wife asked me to come. I have been drinking a lot more than I used to, "
        "mostly after work. My job has been really stressful since the reorganization, "
        "and I guess a few beers help me switch off. Lately it is six or seven most nights.",
        gap_s=0.6,
    )
    d.backchannel(c, "Mm-hmm.", at_fraction=0.35)
    d.backchannel(c, "I see.", at_fraction=0.7)
    d.say(
        c,
        "It sounds like you're feeling caught between the stress at work "
        "and what the drinking is costing you.",
        gap_s=0.5,
    )
    d.say(
        k,
        "Yes, exactly. I do not want to stop completely, but I do not like who I am "
        "in the mornings. My kids have noticed, and that really bothers me.",
        gap_s=0.4,
    )
    d.say(
        c,
        "You're worried that your kids are starting to see you differently, "
        "and that matters a lot to you.",
        gap_s=0.7,
    )
    d.interrupt(
        k,
        "Honestly, I think I am ready to try something. Maybe I could stop drinking on "
        "weeknights, and go to the gym after work instead. I used to run, and I really "
        "miss it.",
        overlap_s=1.2,
    )
    d.say(c, "How do you feel about starting with weeknights?", gap_s=0.6)
    d.say(
        k,
        "I feel good about it. I think telling my wife would help. If she knows what I "
        "am trying to do, I will feel more accountable.",
        gap_s=0.5,
    )
    d.backchannel(c, "Okay.", at_fraction=0.55)
    d.say(c, "You have some clear ideas about what you want to do next.", gap_s=0.4)
    return d


def counselor_led() -> Dialogue:
    """Directive session: the counselor lectures, asks closed questions and cuts the client off."""
    c, k = COUNSELOR, CLIENT
    d = Dialogue("dialogue_counselor_led", [c, k])
    d.say(c, "Good morning. Do you drink every day?")
    d.say(k, "Most days, yes. Usually a few beers after work.", gap_s=0.5)
    d.say(
        c,
        "Okay. You need to understand what alcohol is doing to your body. Drinking every "
        "day raises your blood pressure, it damages your liver, and it makes your sleep "
        "much worse. You should cut down to no more than two drinks a day, and you should "
        "have at least two alcohol free days every week. You need to write down every "
        "drink you have in a diary.",
        gap_s=0.4,
    )
    d.say(
        k,
        "I guess I could try that, but work is really stressful right now, and the beers "
        "are the only thing that helps me relax.",
        gap_s=0.6,
    )
    d.interrupt(
        c,
        "Stress is not an excuse. You should find another way to relax. Is that right?",
        overlap_s=1.0,
    )
    d.say(k, "Yes, that's right, I suppose.", gap_s=0.5)
    d.say(c, "Do you have any alcohol at home right now?", gap_s=0.4)
    d.say(
        k,
        "A few bottles of wine. My partner drinks too, so it is not easy for me "
        "to keep the house completely dry.",
        gap_s=0.5,
    )
    d.interrupt(
        c,
        "Then you need to remove them. You should ask your partner to support you. "
        "Will you do that this week?",
        overlap_s=1.0,
    )
    d.say(k, "Okay, I will try.", gap_s=0.6)
    d.say(c, "Good. You should come back in two weeks with your diary.", gap_s=0.4)
    return d


def stereo_dialogue() -> Dialogue:
    """A short follow-up session recorded with one microphone channel per person."""
    c, k = COUNSELOR, CLIENT
    d = Dialogue("dialogue_stereo", [c, k])
    d.say(c, "Welcome back. How have the last two weeks been for you?")
    d.say(
        k,
        "Better than I expected. I only had a drink on two evenings, and I went running "
        "three times. My sleep is already a lot better, and I have more energy at work.",
        gap_s=0.6,
    )
    d.backchannel(c, "Mm-hmm.", at_fraction=0.5)
    d.say(c, "You sound proud of that. What made the difference?", gap_s=0.5)
    d.say(
        k,
        "Having a plan, I think. When I got home I put my running shoes by the door, "
        "so I went out before I could open the fridge.",
        gap_s=0.4,
    )
    d.say(c, "What would you like to work on next?", gap_s=0.6)
    d.say(k, "The weekends are still hard. That is when my friends go to the pub.", gap_s=0.5)
    d.say(c, "So the weekends are the next challenge. What could you do instead?", gap_s=0.4)
    d.say(k, "Maybe I could invite them for a run on Saturday morning.", gap_s=0.5)
    return d


def three_speakers() -> Dialogue:
    """A couples session: counselor, client and the client's partner take turns."""
    c, k, p = COUNSELOR, CLIENT, OTHER
    d = Dialogue("dialogue_three_speakers", [c, k, p])
    d.say(c, "Thank you both for coming. Who would like to start?")
    d.say(k, "I will. I think we argue much more since I started drinking again.", gap_s=0.5)
    d.say(p, "That is true. I worry about it every evening when she comes home.", gap_s=0.6)
    d.say(c, "It sounds like you both want things to change.", gap_s=0.5)
    d.say(k, "We do. I just do not know where to begin.", gap_s=0.4)
    d.say(p, "Maybe we could start by talking more, instead of shouting.", gap_s=0.6)
    d.say(c, "That seems like a good place to begin.", gap_s=0.5)
    return d


ENROLL_TEXT = (
    "Good afternoon. My name is Daniel, and I have worked as a counselor for twelve years. "
    "Everything we talk about in this room stays between us."
)


def _dialogue_fixture(out: Path, d: Dialogue, names: list[str]) -> Float32Array:
    """Write a mono dialogue with its truth; append its name to ``names``; return its mix."""
    mix = d.render()
    write_wav(out / f"{d.name}.wav", mix)
    record = truth(d, audio_file=f"{d.name}.wav", n_samples=len(mix), channels=1)
    write_truth(out, d.name, record)
    names.append(d.name)
    return mix


def build(out: Path) -> None:
    """Write every fixture into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    dialogues: list[str] = []

    cl = client_led()
    cl_mix = _dialogue_fixture(out, cl, dialogues)
    _dialogue_fixture(out, counselor_led(), dialogues)
    _dialogue_fixture(out, three_speakers(), dialogues)

    # Stereo: counselor on the left channel, client on the right, -50 dBFS noise on both.
    st = stereo_dialogue()
    stereo = st.render_channels([COUNSELOR, CLIENT])
    stereo += noise(stereo.shape, -50.0, seed=1)
    write_wav(out / "dialogue_stereo.wav", stereo)
    record = truth(
        st,
        audio_file="dialogue_stereo.wav",
        n_samples=len(stereo),
        channels=2,
        extra={"channel_roles": {"0": "counselor", "1": "client"}},
    )
    write_truth(out, "dialogue_stereo", record)

    # Compressed copies of the client-led dialogue (same audio, same truth file).
    cl_wav = out / "dialogue_client_led.wav"
    ffmpeg("-i", cl_wav, "-c:a libmp3lame -b:a 48k -ac 1", out / f"{cl.name}.mp3")
    ffmpeg("-i", cl_wav, "-c:a libopus -b:a 32k -ac 1", out / f"{cl.name}.ogg")

    # Enrollment sample of the counselor's voice (sentences used nowhere else).
    enroll = synth(ENROLL_TEXT, COUNSELOR)
    pad = np.zeros(round(0.3 * SR), dtype=np.float32)
    write_wav(out / "enroll_counselor.wav", np.concatenate([pad, enroll, pad]))

    # A video with the first 15 s of the client-led dialogue as AAC audio.
    excerpt_s = 15
    with tempfile.TemporaryDirectory() as tmp:
        excerpt = Path(tmp) / "excerpt.wav"
        write_wav(excerpt, cl_mix[: excerpt_s * SR])
        ffmpeg(
            f"-f lavfi -i color=c=black:s=64x64:r=5:d={excerpt_s}",
            "-i",
            excerpt,
            "-map 0:v -map 1:a",
            "-c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p",
            "-c:a aac -b:a 48k -shortest -movflags +faststart",
            out / "video_with_audio.mp4",
        )
    record = truth(
        cl,
        audio_file="video_with_audio.mp4",
        n_samples=len(cl_mix),
        channels=1,
        window=(0, excerpt_s * SR),
        extra={"excerpt_of": "dialogue_client_led.wav"},
    )
    write_truth(out, "video_with_audio", record)
    ffmpeg(
        "-f lavfi -i color=c=blue:s=64x64:r=5:d=2 -c:v libx264 -pix_fmt yuv420p -an",
        out / "video_no_audio.mp4",
    )

    # Bad inputs.
    (out / "empty.wav").write_bytes(b"")
    (out / "not_audio.wav").write_text(
        "This is a plain text file with a .wav name. It is not audio.\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.mp3"
        ffmpeg("-i", cl_wav, "-t 12 -c:a libmp3lame -b:a 48k -ac 1", whole)
        data = whole.read_bytes()
        (out / "truncated.mp3").write_bytes(data[: int(len(data) * 0.4)])
    rng = np.random.default_rng(7)
    garbage = rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes().replace(b"fmt ", b"xxxx")
    (out / "corrupt.wav").write_bytes(
        b"RIFF" + (len(garbage) + 4).to_bytes(4, "little") + b"WAVE" + garbage
    )
    short = synth("Yes.", COUNSELOR)[: SR // 2]
    too_short = np.zeros(SR // 2, dtype=np.float32)
    too_short[(SR // 2 - len(short)) // 2 :][: len(short)] = short
    write_wav(out / "too_short.wav", too_short)
    write_wav(out / "silence.wav", np.zeros(10 * SR, dtype=np.float32))

    for name in [*dialogues, "dialogue_stereo"]:
        record = json.loads((out / f"{name}.truth.json").read_text())
        print(
            f"{name}: {record['duration_s']:.1f} s, client share {record['client_share']:.3f}, "
            f"{len(record['interruptions'])} interruptions, "
            f"{len(record['backchannels'])} backchannels"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="output folder")
    args = parser.parse_args(argv)
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    build(args.out)


if __name__ == "__main__":
    main()
