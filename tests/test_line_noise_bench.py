"""The line-noise bench's construction: where the noise goes, how loud, and where zeros go."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from bench.line_noise import (
    DTX_MIN_SILENCE_S,
    NOISE_BELOW_SPEECH_DB,
    NOISE_SPREAD_DB,
    Stereo,
    line_noise,
    silences,
    stereo_fixtures,
    summary,
    with_line_noise,
)
from tests.conftest import tone

RATE = 16_000


def test_silences_are_the_gaps_between_and_around_the_spans() -> None:
    assert silences([(1.0, 2.0), (2.5, 4.0)], 6.0) == [(0.0, 1.0), (2.0, 2.5), (4.0, 6.0)]
    assert silences([], 3.0) == [(0.0, 3.0)]
    assert silences([(0.0, 3.0)], 3.0) == []


def test_line_noise_sits_under_the_speech_and_zeros_only_long_silences() -> None:
    speech = [(1.0, 3.0), (3.5, 5.0)]  # a 0.5 s pause (kept) and 5 s of silence after
    channel = np.zeros(10 * RATE, dtype=np.float32)
    for start, end in speech:
        channel[int(start * RATE) : int(end * RATE)] = tone(end - start, frequency_hz=200)
    level = float(np.sqrt(np.mean(channel[RATE : 3 * RATE] ** 2)))
    found = line_noise(channel, speech, rng=random.Random(0))
    pause = found[int(3.1 * RATE) : int(3.4 * RATE)]
    below = 20 * np.log10(level / float(np.sqrt(np.mean(pause**2))))
    assert (
        NOISE_BELOW_SPEECH_DB - NOISE_SPREAD_DB - 1
        < below
        < NOISE_BELOW_SPEECH_DB + NOISE_SPREAD_DB + 1
    )
    assert 0.5 < DTX_MIN_SILENCE_S < 5.0  # the pause keeps its noise; the silence after may not
    # whatever the draw, the first 0.2 s after the party stops keep their noise
    assert np.all(found[int(5.0 * RATE) : int(5.2 * RATE)] != 0.0)
    # over draws, long silences get zeros in about half the recordings, short ones never
    zeroed = [
        bool(np.all(line_noise(channel, speech, rng=random.Random(seed))[6 * RATE : 9 * RATE] == 0))
        for seed in range(40)
    ]
    assert 10 < sum(zeroed) < 30
    assert not np.any(found[int(3.05 * RATE) : int(3.45 * RATE)] == 0.0)


def test_the_noisy_channel_is_the_only_one_changed_and_the_truth_stays() -> None:
    truth = {
        "stereo_channels": {"left": "counselor", "right": "client"},
        "segments": [
            {"start": 0.5, "end": 1.5, "role": "counselor"},
            {"start": 2.0, "end": 3.5, "role": "client"},
        ],
    }
    channels = np.stack([tone(4.0, frequency_hz=200), tone(4.0, frequency_hz=300)])
    built = with_line_noise(Stereo("s", channels, truth), 1)
    assert built.samples.shape == (4 * RATE, 2)
    assert np.array_equal(built.samples[:, 0], channels[0])
    assert not np.array_equal(built.samples[:, 1], channels[1])
    assert built.reference == ((0.5, 1.5, "counselor"), (2.0, 3.5, "client"))


def test_the_summary_splits_the_fixtures_as_made_from_the_noisy_lines() -> None:
    rows = [
        {"line": "none", "share_error": 0.02, "level": "good"},
        {"line": "noisy left", "share_error": 0.15, "level": "good"},
        {"line": "noisy right", "share_error": 0.05, "level": "doubtful"},
    ]
    assert summary(rows)[2:] == [
        "| as made | 1 | 0.020 (0.020) | 1 / 0 / 0 | 0 |",
        "| line noise on one channel | 2 | 0.100 (0.150) | 1 / 1 / 0 | 1 |",
    ]


def test_a_line_whose_party_never_speaks_is_refused() -> None:
    with pytest.raises(ValueError, match="never speaks"):
        line_noise(np.zeros(RATE, dtype=np.float32), [], rng=random.Random(0))


@pytest.mark.parametrize("module", ["bench.line_noise", "bench.music", "bench.third_voice"])
def test_the_bench_runs_as_a_module(module: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and f"python -m {module}" in done.stdout


@pytest.mark.parametrize("name", ["kokoro_gambling", "kokoro_spending"])
def test_line_noise_on_a_real_dialogue_is_not_counted_as_talk(name: str) -> None:
    """Two Kokoro dialogues with the bench's noise on the counselor's (left) line: by loudness
    the client's share was 0.16-0.20 low; near voicing it is within 0.09 (docs/diarization.md,
    "Noise that is not a voice")."""
    from pipeline.channels import VOICING_REACH_S, channel_activity
    from pipeline.types import Audio, AudioInfo

    folder = Path(__file__).parent / "fixtures" / "realistic_heldout"
    if not (folder / f"{name}.truth.json").exists():
        folder = folder.with_name("realistic_fresh")
    (stereo,) = [s for s in stereo_fixtures([folder]) if s.name == name]
    assert stereo.truth["stereo_channels"]["left"] == "counselor"
    built = with_line_noise(stereo, 0)
    channels = np.ascontiguousarray(built.samples.T)
    info = AudioInfo("s.wav", "0" * 64, channels.shape[1] / RATE, RATE, 2, "wav", "pcm_s16le")
    audio = Audio(info, channels.mean(axis=0), channels)
    planted = {
        role: sum(end - start for start, end, r in built.reference if r == role)
        for role in ("counselor", "client")
    }
    truth = planted["client"] / sum(planted.values())

    def client_share(voicing_reach_s: float | None = VOICING_REACH_S) -> float:
        runs = channel_activity(audio, voicing_reach_s=voicing_reach_s)
        left, right = (sum(e - s for s, e in side) for side in runs)
        return right / (left + right)

    assert client_share(voicing_reach_s=None) - truth < -0.15
    assert abs(client_share() - truth) < 0.09
