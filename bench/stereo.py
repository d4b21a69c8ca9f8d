"""Stereo decisions and diarization quality on recordings built from audio with known truth.

Two measurements for issue 9:

* **Stereo that names itself.** A set of two-channel recordings made from the
  fixtures and pyannote's real sample call, each with the decision it should
  get: one party per channel (clean, and with crosstalk at -20, -25 and -30 dB)
  must be ``split``; dual mono (at equal and unequal gains), one silent or
  noise-only channel, and room stereo (both parties on both channels, 3 dB
  apart) must be ``mix``. Reported: decision accuracy, and the talk-share error
  against the truth of the mixed-down analysis by voice (``--channels mix``, the
  old default) and of the automatic one (``--channels auto``).
* **Diarization that knows when it failed.** The quality level on clean
  recordings (the fixtures' dialogues and the real sample call, expected
  ``good``) and on recordings made to collapse: one espeak voice speaking both
  parts, or the same voice shifted by one or two semitones, at 8 kHz with hiss
  (expected ``doubtful`` or ``poor``), and the real sample call through a phone
  line (8 kHz, 300-3400 Hz, μ-law, hiss), where ``good`` must come with
  correct talk shares.

Run ``python -m bench.stereo`` (``--help`` for options); it prints Markdown
tables. Nothing is downloaded; everything is built from committed fixtures
and the installed pyannote.audio sample.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import librosa
import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.signal import resample_poly

from pipeline.accuracy import pyannote_sample_dir, read_rttm
from pipeline.types import SAMPLE_RATE_HZ, Audio, AudioInfo, Turn

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
Samples = npt.NDArray[np.float32]


# ------------------------------------------------------------------ sources


def _truth_segments(name: str) -> list[dict[str, object]]:
    data = json.loads((FIXTURES / f"{name}.truth.json").read_text("utf-8"))
    segments: list[dict[str, object]] = data["segments"]
    return segments


def _mask(n: int, spans: Sequence[tuple[float, float]], *, fade_s: float = 0.01) -> Samples:
    """1 inside ``spans`` (with short linear fades), 0 elsewhere."""
    mask = np.zeros(n, dtype=np.float32)
    fade = max(1, round(fade_s * SAMPLE_RATE_HZ))
    for start, end in spans:
        a, b = round(start * SAMPLE_RATE_HZ), min(round(end * SAMPLE_RATE_HZ), n)
        mask[a:b] = 1.0
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        mask[a : a + fade] = np.minimum(mask[a : a + fade], ramp[: len(mask[a : a + fade])])
        tail = mask[max(b - fade, a) : b]
        mask[max(b - fade, a) : b] = np.minimum(
            tail, ramp[::-1][-len(tail) :] if len(tail) else tail
        )
    return mask


@dataclass(frozen=True)
class Parties:
    """A two-party recording with each party's signal apart, and its reference turns."""

    name: str
    first: Samples
    second: Samples
    reference: tuple[Turn, ...]


def split_by_turns(name: str, samples: Samples, reference: Sequence[Turn]) -> Parties:
    """Each speaker's channel is the recording gated to that speaker's reference turns.

    Overlapping speech lands on both channels, as with two microphones close
    to each other; elsewhere each channel holds one voice.
    """
    speakers = sorted({t.speaker for t in reference})[:2]
    first, second = (
        samples * _mask(len(samples), [(t.start, t.end) for t in reference if t.speaker == s])
        for s in speakers
    )
    return Parties(name, first, second, tuple(reference))


def stereo_fixture() -> Parties:
    """``dialogue_stereo.wav``: counselor on the left, client on the right, as recorded."""
    samples, rate = sf.read(FIXTURES / "dialogue_stereo.wav", dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE_HZ
    reference = read_rttm((FIXTURES / "dialogue_stereo.rttm").read_text("utf-8"))
    return Parties("dialogue_stereo", samples[:, 0], samples[:, 1], tuple(reference))


def sample_call() -> Parties:
    """pyannote's real two-person call, each speaker gated onto a channel by the reference."""
    folder = pyannote_sample_dir()
    samples, _ = sf.read(folder / "sample.wav", dtype="float32")
    reference = read_rttm((folder / "sample.rttm").read_text("utf-8"))
    return split_by_turns("sample_call", samples, reference)


def client_led() -> Parties:
    """``dialogue_client_led.wav`` gated onto two channels by its reference."""
    samples, _ = sf.read(FIXTURES / "dialogue_client_led.wav", dtype="float32")
    reference = read_rttm((FIXTURES / "dialogue_client_led.rttm").read_text("utf-8"))
    return split_by_turns("dialogue_client_led", samples, reference)


# ----------------------------------------------------------------- variants


def _noise(n: int, level_dbfs: float, seed: int) -> Samples:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 10 ** (level_dbfs / 20)).astype(np.float32)


def _audio(name: str, channels: Samples) -> Audio:
    info = AudioInfo(
        f"{name}.wav", "0" * 64, channels.shape[1] / SAMPLE_RATE_HZ, SAMPLE_RATE_HZ, 2, "wav", "pcm"
    )
    return Audio(info, channels.mean(axis=0).astype(np.float32), channels.astype(np.float32))


def with_bleed(parties: Parties, bleed_db: float, *, delay_ms: float = 1.0) -> Samples:
    """Each party also reaches the other channel, ``bleed_db`` down and slightly late."""
    gain = 10 ** (bleed_db / 20)
    lag = round(delay_ms * SAMPLE_RATE_HZ / 1000)

    def late(x: Samples) -> Samples:
        return np.concatenate([np.zeros(lag, np.float32), x[: len(x) - lag]])

    left = parties.first + gain * late(parties.second)
    right = parties.second + gain * late(parties.first)
    n = len(left)
    return np.stack([left + _noise(n, -70, 1), right + _noise(n, -70, 2)])


@dataclass(frozen=True)
class StereoCase:
    """A two-channel recording and the decision it should get."""

    name: str
    audio: Audio
    expected: str
    parties: Parties


def stereo_cases(sources: Sequence[Parties]) -> list[StereoCase]:
    """Every variant of every source: 4 that should split, 7 that should mix."""
    cases = []
    for p in sources:
        n = len(p.first)
        mix = p.first + p.second

        def case(label: str, channels: Samples, expected: str, p: Parties = p) -> StereoCase:
            return StereoCase(f"{p.name} {label}", _audio(label, channels), expected, p)

        cases += [
            case("separate", np.stack([p.first, p.second]), "split"),
            case("bleed -20 dB", with_bleed(p, -20.0), "split"),
            case("bleed -25 dB", with_bleed(p, -25.0), "split"),
            case("bleed -30 dB", with_bleed(p, -30.0), "split"),
            case("dual mono", np.stack([mix, mix]), "mix"),
            case(
                "dual mono, right -6 dB + hiss",
                np.stack([mix + _noise(n, -60, 3), 0.5 * mix + _noise(n, -60, 4)]),
                "mix",
            ),
            case(
                "dual mono, right 5 ms late",
                np.stack([mix, np.concatenate([np.zeros(80, np.float32), mix[:-80]])]),
                "mix",
            ),
            case("right silent", np.stack([mix, np.zeros(n, np.float32)]), "mix"),
            case("right hiss only", np.stack([mix, _noise(n, -50, 5)]), "mix"),
            case("room stereo (3 dB apart)", with_bleed(p, -3.0), "mix"),
            case("room stereo (8 dB apart)", with_bleed(p, -8.0), "mix"),
        ]
    return cases


# ------------------------------------------------------------- collapse set


def counselor_clips() -> list[Samples]:
    """Stretches of the espeak counselor voice alone (no other voice), split at pauses."""
    clips = []
    for name in ("dialogue_counselor_led", "dialogue_client_led"):
        samples, _ = sf.read(FIXTURES / f"{name}.wav", dtype="float32")
        segments = _truth_segments(name)
        for segment in segments:
            if segment["role"] != "counselor" or segment["kind"] == "backchannel":
                continue
            a, b = int(segment["start_sample"]), int(segment["end_sample"])  # type: ignore[call-overload]
            for other in segments:
                o_start = int(other["start_sample"])  # type: ignore[call-overload]
                o_end = int(other["end_sample"])  # type: ignore[call-overload]
                if other["role"] != "counselor" and o_start < b and o_end > a:
                    if o_start > a:
                        b = min(b, o_start)
                    else:
                        a = max(a, o_end)
            piece = samples[a:b]
            for i, j in librosa.effects.split(piece, top_db=35, frame_length=1024, hop_length=256):
                if j - i > 0.8 * SAMPLE_RATE_HZ:
                    clips.append(piece[i:j])
    return clips


def similar_voices(
    *, semitones: float = 0.0, narrowband: bool = True, noise_dbfs: float = -45.0
) -> tuple[Samples, tuple[Turn, ...]]:
    """The mono mix of :func:`similar_voice_parties` (see there)."""
    parties = similar_voice_parties(
        semitones=semitones, narrowband=narrowband, noise_dbfs=noise_dbfs
    )
    return parties.first + parties.second, parties.reference


def similar_voice_parties(
    *, semitones: float = 0.0, narrowband: bool = True, noise_dbfs: float = -45.0
) -> Parties:
    """A dialogue of one espeak voice with itself (``B`` pitch-shifted by ``semitones``).

    Clips alternate between ``A`` and ``B`` so that each gets about half the
    talk time (truth 47/53); with ``narrowband`` each party goes through 8 kHz
    and back, and hiss at ``noise_dbfs`` is added (half on each party's track,
    so the mono mix has it once).
    """
    tracks: dict[str, list[Samples]] = {"A": [], "B": []}
    lead = np.zeros(SAMPLE_RATE_HZ // 2, np.float32)
    gap = np.zeros(int(0.4 * SAMPLE_RATE_HZ), np.float32)
    tracks["A"].append(lead)
    tracks["B"].append(lead)
    turns, t, totals = [], 0.5, {"A": 0.0, "B": 0.0}
    for clip in counselor_clips():
        who = "A" if totals["A"] <= totals["B"] else "B"
        voice = clip
        if who == "B" and semitones:
            voice = librosa.effects.pitch_shift(clip, sr=SAMPLE_RATE_HZ, n_steps=semitones)
        duration = len(voice) / SAMPLE_RATE_HZ
        silent = "B" if who == "A" else "A"
        tracks[who] += [voice.astype(np.float32), gap]
        tracks[silent] += [np.zeros(len(voice), np.float32), gap]
        turns.append(Turn(round(t, 3), round(t + duration, 3), who))
        totals[who] += duration
        t += duration + 0.4
    out = []
    for who in ("A", "B"):
        samples = np.concatenate(tracks[who])
        if narrowband:
            samples = resample_poly(resample_poly(samples, 1, 2), 2, 1).astype(np.float32)
        hiss = 0.5 * _noise(len(samples), noise_dbfs, 0)  # the mix carries it once
        out.append((samples + hiss).astype(np.float32))
    return Parties(f"one voice twice (+{semitones:g} st)", out[0], out[1], tuple(turns))


def phone_call() -> Parties:
    """The sample call gated onto two channels, each through :func:`phone_line`."""
    call = sample_call()
    return Parties(
        "sample_call phone line",
        phone_line(call.first, seed=10),
        phone_line(call.second, seed=11),
        call.reference,
    )


def _mu_law(samples: Samples, *, mu: float = 255.0) -> Samples:
    """G.711 μ-law: compand, quantise to 8 bits, expand."""
    companded = np.sign(samples) * np.log1p(mu * np.abs(samples)) / np.log1p(mu)
    quantised = np.round(companded * 127) / 127
    expanded: Samples = (np.sign(quantised) * ((1 + mu) ** np.abs(quantised) - 1) / mu).astype(
        np.float32
    )
    return expanded


def phone_line(samples: Samples, *, noise_dbfs: float = -40.0, seed: int = 0) -> Samples:
    """A phone line: 8 kHz, 300-3400 Hz band, G.711 μ-law, hiss; back at 16 kHz."""
    from scipy.signal import butter, sosfilt

    narrow = resample_poly(samples, 1, 2)
    band = butter(4, [300, 3400], btype="band", fs=8000, output="sos")
    narrow = sosfilt(band, narrow)
    narrow = _mu_law(np.clip(2 * narrow, -1, 1).astype(np.float32)) / 2
    wide = resample_poly(narrow, 2, 1)[: len(samples)]
    line: Samples = (wide + _noise(len(wide), noise_dbfs, seed)).astype(np.float32)
    return line


# ------------------------------------------------------------------- report


def _share_error(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> float:
    from bench.degraded import share_error

    return float(share_error(reference, hypothesis))


def measure_stereo(cases: Sequence[StereoCase], *, with_models: bool) -> list[dict[str, object]]:
    """Decision per case; with models, talk-share error of ``mix`` and ``auto`` on split cases."""
    from pipeline.channels import decide_channels
    from pipeline.session import SpeechOptions, diarize_with

    rows: list[dict[str, object]] = []
    for case in cases:
        decision = decide_channels(case.audio)
        row: dict[str, object] = {
            "case": case.name,
            "expected": case.expected,
            "decided": decision.mode,
            "bleed_db": decision.evidence.get("bleed_db"),
            "reason": decision.reason,
        }
        wanted = case.expected == "split" and (case.name.endswith("separate") or "-25" in case.name)
        if with_models and wanted:
            reference = case.parties.reference
            for option in ("mix", "auto"):
                started = time.perf_counter()
                found = diarize_with(case.audio, SpeechOptions(channels=option, device="cpu"))
                row[f"share_error_{option}"] = round(_share_error(reference, found.exclusive), 3)
                row[f"quality_{option}"] = None if found.quality is None else found.quality.level
                row[f"seconds_{option}"] = round(time.perf_counter() - started, 1)
        rows.append(row)
    return rows


def measure_quality(
    recordings: Sequence[tuple[str, Samples, Sequence[Turn], str]],
) -> list[dict[str, object]]:
    """Quality level and measures of the default diarization of each recording."""
    from pipeline.diarize import diarize

    rows: list[dict[str, object]] = []
    for name, samples, reference, expected in recordings:
        audio = _audio(name, np.stack([samples, samples]))
        audio = replace(audio, channel_samples=samples[None])
        found = diarize(audio, device="cpu")
        quality = found.quality
        assert quality is not None
        rows.append(
            {
                "recording": name,
                "expected": expected,
                "level": quality.level,
                "kept": quality.tried[-1],
                "share_error": round(_share_error(reference, found.exclusive), 3),
                **quality.measures,
            }
        )
    return rows


def quality_recordings(which: str) -> list[tuple[str, Samples, Sequence[Turn], str]]:
    """Clean recordings (expected ``good``) and collapse-prone ones (expected not ``good``)."""
    out: list[tuple[str, Samples, Sequence[Turn], str]] = []
    if which in ("all", "clean"):
        folder = pyannote_sample_dir()
        sample, _ = sf.read(folder / "sample.wav", dtype="float32")
        out.append(("sample call", sample, read_rttm((folder / "sample.rttm").read_text()), "good"))
        for name in ("dialogue_client_led", "dialogue_counselor_led"):
            samples, _ = sf.read(FIXTURES / f"{name}.wav", dtype="float32")
            out.append((name, samples, read_rttm((FIXTURES / f"{name}.rttm").read_text()), "good"))
        stereo = stereo_fixture()
        out.append(
            ("dialogue_stereo (mixed)", stereo.first + stereo.second, stereo.reference, "good")
        )
    if which in ("all", "collapse"):
        folder = pyannote_sample_dir()
        sample, _ = sf.read(folder / "sample.wav", dtype="float32")
        call = read_rttm((folder / "sample.rttm").read_text())
        out.append(("sample call, phone line (8 kHz μ-law)", phone_line(sample), call, "any"))
        for semitones in (0.0, 1.0, 2.0):
            samples, reference = similar_voices(semitones=semitones)
            label = f"one voice twice{f', +{semitones:g} semitone' if semitones else ''}, 8 kHz"
            out.append((label, samples, reference, "doubtful/poor"))
    return out


def _table(rows: Sequence[dict[str, object]]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stereo", description=__doc__)
    parser.add_argument("--part", choices=["decisions", "shares", "quality", "all"], default="all")
    parser.add_argument("--quality-set", choices=["clean", "collapse", "all"], default="all")
    parser.add_argument(
        "--sources",
        nargs="+",
        default=[
            "dialogue_stereo",
            "sample_call",
            "dialogue_client_led",
            "phone_call",
            "one_voice_twice",
        ],
        help="stereo sources to build cases from",
    )
    args = parser.parse_args(argv)
    makers: dict[str, Callable[[], Parties]] = {
        "dialogue_stereo": stereo_fixture,
        "sample_call": sample_call,
        "dialogue_client_led": client_led,
        "phone_call": phone_call,
        "one_voice_twice": lambda: similar_voice_parties(semitones=1.0),
    }
    if args.part in ("decisions", "shares", "all"):
        cases = stereo_cases([makers[name]() for name in args.sources])
        rows = measure_stereo(cases, with_models=args.part != "decisions")
        right = sum(r["expected"] == r["decided"] for r in rows)
        print(f"stereo decisions: {right}/{len(rows)} as expected\n")
        print(_table(rows), "\n", flush=True)
    if args.part in ("quality", "all"):
        print(_table(measure_quality(quality_recordings(args.quality_set))), flush=True)


if __name__ == "__main__":
    main()
