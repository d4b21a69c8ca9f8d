"""Noise on one line of a two-channel call: is it counted as talk, and does the check say so?

A call recorder or telehealth export with one party per channel is split by
channel loudness (:mod:`pipeline.channels`). A VoIP line sends its
background (an office, a street) while its party is silent, and drops to
digital silence when the codec's silence suppression (DTX) cuts in; the
line's quietest frames are then zeros and its noise stands far above that
"floor". A real call of that kind (SpokenWOZ MUL1011, see
docs/diarization.md "Noise counted as talk") gave one line 60 % of the talk
time against 46 %.

This rebuilds that line on the stereo fixtures with planted truth
(``tests/fixtures/realistic*/*_stereo.ogg``): on one channel at a time, pink
noise whose level steps every 1-4 s between :data:`NOISE_BELOW_SPEECH_DB`
± :data:`NOISE_SPREAD_DB` under the speech level, replaced by zeros in
:data:`DTX_SHARE` of the stretches where that channel's party is silent for
more than :data:`DTX_MIN_SILENCE_S`. Each recording (and each fixture as it
is) runs through the whole pipeline with its defaults; reported per
recording: the client's talk-share error against the planted turns and the
check's level, and a table of both per line::

    python -m bench.line_noise [--cache DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.degraded import pink_noise
from bench.music import Built, Span, analyze
from bench.third_voice import Samples, _cut, _rms, add_common_arguments, report
from bench.truth import talk_spans
from pipeline.types import SAMPLE_RATE_HZ

NOISE_BELOW_SPEECH_DB = 30.0
"""The line noise's mean level under the party's speech (on the real call it sat 20-60 dB
under it, mostly 30-45)."""
NOISE_SPREAD_DB = 8.0
"""...stepping up and down by up to this much."""
DTX_MIN_SILENCE_S = 1.0
"""Silence suppression acts on pauses of the line's party longer than this..."""
DTX_SHARE = 0.5
"""...in this share of them, chosen at random."""


@dataclass(frozen=True)
class Stereo:
    """A stereo fixture: its two channels and truth."""

    name: str
    channels: Samples
    """Shape (2, samples)."""
    truth: Mapping[str, Any]

    @property
    def reference(self) -> tuple[Span, ...]:
        return talk_spans(self.truth)


def stereo_fixtures(folders: Sequence[Path]) -> list[Stereo]:
    """Every fixture with a stereo file in ``folders``, decoded as the product decodes it."""
    from pipeline.audio import load_audio

    out = []
    for folder in folders:
        for truth_path in sorted(folder.glob("*.truth.json")):
            truth = json.loads(truth_path.read_text("utf-8"))
            name = truth.get("audio_files", {}).get("stereo")
            if name is not None:
                channels = load_audio(folder / name).channel_samples
                out.append(Stereo(truth_path.name.removesuffix(".truth.json"), channels, truth))
    return out


def silences(spans: Sequence[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """The stretches of ``[0, duration_s]`` outside ``spans`` (which must not overlap)."""
    out, at = [], 0.0
    for start, end in sorted(spans):
        if start > at:
            out.append((at, start))
        at = max(at, end)
    if duration_s > at:
        out.append((at, duration_s))
    return out


def line_noise(
    channel: Samples, own_speech: Sequence[tuple[float, float]], *, rng: random.Random
) -> Samples:
    """``channel`` with VoIP line noise added and silence suppression applied (see module)."""
    from pipeline.intervals import union

    speech = union(own_speech)
    if not speech:
        raise ValueError("the line's party never speaks: no speech level to put the noise under")
    level = _rms(np.concatenate([_cut(channel, start, end) for start, end in speech]))
    noise = pink_noise(len(channel), seed=rng.randrange(2**31))
    gain = np.empty(len(channel), dtype=np.float32)
    at = 0
    while at < len(channel):
        step = round(rng.uniform(1.0, 4.0) * SAMPLE_RATE_HZ)
        below = NOISE_BELOW_SPEECH_DB + rng.uniform(-NOISE_SPREAD_DB, NOISE_SPREAD_DB)
        gain[at : at + step] = level * 10 ** (-below / 20)
        at += step
    out = (channel + noise * gain).astype(np.float32)
    duration_s = len(channel) / SAMPLE_RATE_HZ
    for start, end in silences(speech, duration_s):
        if end - start > DTX_MIN_SILENCE_S and rng.random() < DTX_SHARE:
            # the codec cuts in a little after the party stops and out a little before
            out[round((start + 0.2) * SAMPLE_RATE_HZ) : round((end - 0.2) * SAMPLE_RATE_HZ)] = 0.0
    return out


def with_line_noise(stereo: Stereo, channel: int, *, seed: int = 0) -> Built:
    """The fixture with line noise on ``channel`` (0 left, 1 right); planted turns unchanged."""
    role = stereo.truth["stereo_channels"]["left" if channel == 0 else "right"]
    own = [(start, end) for start, end, r in stereo.reference if r == role]
    channels = stereo.channels.copy()
    channels[channel] = line_noise(channels[channel], own, rng=random.Random(seed * 2 + channel))
    return Built(channels.T.copy(), stereo.reference)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.music import score

    parser = argparse.ArgumentParser(prog="python -m bench.line_noise", description=__doc__)
    add_common_arguments(parser, kept="each recording's document")
    args = parser.parse_args(argv)
    work_dir = (args.cache or Path("/tmp")) / "line-noise-audio"
    rows = []
    for stereo in stereo_fixtures(args.folders):
        versions = [("none", Built(stereo.channels.T.copy(), stereo.reference))] + [
            (f"noisy {side}", with_line_noise(stereo, channel))
            for channel, side in enumerate(("left", "right"))
        ]
        for line, built in versions:
            document = analyze(built, work_dir=work_dir, cache_dir=args.cache)
            rows.append(
                {"fixture": stereo.name, "line": line, "method": document["diarization"]["method"]}
                | score(document, built.reference)
            )
            print(json.dumps(rows[-1]), flush=True)
    return report(rows, json_path=args.json, table=summary(rows))


def summary(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown: the fixtures as made, and with line noise on one channel."""
    from bench.music import share_cells

    lines = [
        "| line | n | client share error, mean (largest) | level good / doubtful / poor | "
        "confidently wrong |",
        "|---|---|---|---|---|",
    ]
    for kind, title in (("none", "as made"), ("noisy", "line noise on one channel")):
        members = [r for r in rows if r["line"].startswith(kind)]
        if members:
            lines.append(f"| {title} | {len(members)} | {share_cells(members)} |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
