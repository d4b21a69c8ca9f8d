"""Diarization on narrowband and codec-degraded copies of recordings with known truth.

Telephone and telehealth recordings reach us as 8 kHz PCM, G.711, AMR or
low-bitrate Opus and MP3. This builds such copies of the real sample call and
of the synthesized dialogues with PyAV's own encoders (no system FFmpeg),
decodes each copy through the product's path (:func:`pipeline.audio.load_audio`,
which resamples to 16 kHz), diarizes it with the product's defaults
(:func:`pipeline.diarize.diarize`, two speakers as the CLI assumes) and scores it
against the reference RTTM:

- DER (pyannote.metrics) without collar and with a 0.25 s collar, and the
  change against the clean copy (target: at most 5 points worse);
- the largest speaker's share of talk time, and the talk-share error against
  the truth (half the summed absolute share differences under the optimal
  speaker mapping; for two speakers, the error of either one's share);
- collapse: one speaker above 75 % of talk time when the truth is 40-60 %;
- the diarization's own quality check (``good`` / ``doubtful`` / ``poor``,
  :mod:`pipeline.diarization_quality`), and *confidently wrong*: a share error
  above :data:`CONFIDENT_WRONG_SHARE_ERROR` that the check called ``good``,
  the failure a user cannot see.

Sources: the real sample call and the two espeak dialogues by default;
``--realistic dev heldout fresh`` adds the mono mixes of the neural-voice
dialogues in ``tests/fixtures/realistic*`` (their planted segments are the
reference), which are harder: more voices, same-gender pairs, room acoustics;
``recast`` to ``recast4`` are the same twelve scripts with other voice pairs
(``tests/fixtures/realistic_recast*``), never used to choose a diarization setting.

Run ``python -m bench.degraded`` (``--help`` for options). Results are cached
per source, condition, recipe and reference in ``--cache-dir`` so reruns are cheap.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy import signal

from bench.truth import reference_turns
from pipeline.accuracy import diarization_error_rate, pyannote_sample_dir, read_rttm
from pipeline.types import SAMPLE_RATE_HZ, Diarization, Turn

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
DEFAULT_CACHE_DIR = Path(tempfile.gettempdir()) / "bench_degraded"
NARROWBAND_RATE_HZ = 8_000
PHONE_BAND_HZ = (300.0, 3400.0)
DEFAULT_SNR_DB = 15.0
COLLAPSE_SHARE = 0.75
BALANCED_SHARES = (0.40, 0.60)
MAX_DER_INCREASE = 0.05
CONFIDENT_WRONG_SHARE_ERROR = 0.10
"""A talk-share error above this can move a session across the talk-time norm
(docs/evidence.md); when the quality check says ``good`` the user is not warned."""
REALISTIC_SETS = {
    "dev": FIXTURES / "realistic",
    "heldout": FIXTURES / "realistic_heldout",
    "fresh": FIXTURES / "realistic_fresh",
    "recast": FIXTURES / "realistic_recast",
    "recast2": FIXTURES / "realistic_recast2",
    "recast3": FIXTURES / "realistic_recast3",
    "recast4": FIXTURES / "realistic_recast4",
}

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Source:
    """A clean recording with its reference turns."""

    name: str
    samples: Samples
    reference: tuple[Turn, ...]


@dataclass(frozen=True)
class Condition:
    """One way of degrading a recording: a PyAV encoding, optionally after filtering."""

    name: str
    description: str
    codec: str | None
    container: str
    sample_rate_hz: int
    bit_rate_bps: int | None = None
    phone_band_noise_snr_db: float | None = None


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "16 kHz PCM (reference)", None, "wav", SAMPLE_RATE_HZ),
    Condition("pcm_8k", "8 kHz 16-bit PCM", "pcm_s16le", "wav", NARROWBAND_RATE_HZ),
    Condition("mulaw_8k", "G.711 mu-law, 8 kHz", "pcm_mulaw", "wav", NARROWBAND_RATE_HZ),
    Condition("alaw_8k", "G.711 A-law, 8 kHz", "pcm_alaw", "wav", NARROWBAND_RATE_HZ),
    Condition("opus_8k", "Opus 8 kbit/s", "libopus", "ogg", 16_000, 8_000),
    Condition("opus_12k", "Opus 12 kbit/s", "libopus", "ogg", 16_000, 12_000),
    Condition("opus_16k", "Opus 16 kbit/s", "libopus", "ogg", 16_000, 16_000),
    Condition("mp3_32k", "MP3 32 kbit/s", "libmp3lame", "mp3", 16_000, 32_000),
    Condition(
        "amr_nb_12k2", "AMR-NB 12.2 kbit/s", "libopencore_amrnb", "amr", NARROWBAND_RATE_HZ, 12_200
    ),
    Condition(
        "phone_band_noise",
        "300-3400 Hz band, pink noise at 15 dB SNR, 8 kHz mu-law",
        "pcm_mulaw",
        "wav",
        NARROWBAND_RATE_HZ,
        phone_band_noise_snr_db=DEFAULT_SNR_DB,
    ),
)
CONDITIONS_BY_NAME = {c.name: c for c in CONDITIONS}


def pink_noise(num_samples: int, *, seed: int = 0) -> Samples:
    """Unit-RMS pink (1/f power) noise, shaped in the frequency domain from white noise."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    bins = np.arange(spectrum.shape[0], dtype=np.float64)
    bins[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(bins), n=num_samples)
    unit: Samples = (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)
    return unit


def active_power(samples: Samples, *, sample_rate_hz: int, floor_db: float = 30.0) -> float:
    """Mean power of the 20 ms frames within ``floor_db`` of the loudest one (speech, not pauses)."""
    frame = int(0.02 * sample_rate_hz)
    usable = samples[: samples.shape[0] // frame * frame].astype(np.float64)
    powers = np.mean(usable.reshape(-1, frame) ** 2, axis=1)
    active = powers[powers >= powers.max() * 10 ** (-floor_db / 10)]
    return float(np.mean(active))


def phone_band_with_noise(
    samples: Samples,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    snr_db: float = DEFAULT_SNR_DB,
    band_hz: tuple[float, float] = PHONE_BAND_HZ,
    seed: int = 0,
) -> Samples:
    """Add pink noise at ``snr_db`` below the active speech power, then keep only ``band_hz``.

    An AMR-like telephone channel: noise at the talker's end, then the
    300-3400 Hz band of narrowband telephony (4th-order Butterworth band-pass,
    applied forwards and backwards so that timing does not shift).
    """
    noise = pink_noise(samples.shape[0], seed=seed)
    gain = np.sqrt(active_power(samples, sample_rate_hz=sample_rate_hz) / 10 ** (snr_db / 10))
    noisy = samples.astype(np.float64) + gain * noise
    sos = signal.butter(4, band_hz, btype="bandpass", fs=sample_rate_hz, output="sos")
    filtered = signal.sosfiltfilt(sos, noisy)
    peak = float(np.max(np.abs(filtered)))
    if peak > 0.99:
        filtered *= 0.99 / peak
    result: Samples = filtered.astype(np.float32)
    return result


def encode(
    samples: Samples,
    path: Path,
    *,
    codec: str,
    container: str,
    sample_rate_hz: int,
    bit_rate_bps: int | None = None,
    input_rate_hz: int = SAMPLE_RATE_HZ,
) -> Path:
    """Encode mono float samples with a PyAV (FFmpeg) encoder; PyAV resamples to ``sample_rate_hz``."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)[None]
    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=sample_rate_hz, layout="mono")
        assert isinstance(stream, av.AudioStream)
        if bit_rate_bps is not None:
            stream.bit_rate = bit_rate_bps
        hop = input_rate_hz  # one-second frames
        for start in range(0, pcm.shape[1], hop):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + hop]), format="s16", layout="mono"
            )
            frame.sample_rate = input_rate_hz
            frame.pts = start
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def degrade(samples: Samples, condition: Condition, directory: Path, *, stem: str) -> Path:
    """Write ``samples`` (16 kHz mono) degraded by ``condition`` into ``directory``."""
    path = directory / f"{stem}.{condition.name}.{condition.container}"
    if condition.codec is None:
        sf.write(path, samples, SAMPLE_RATE_HZ, subtype="PCM_16")
        return path
    if condition.phone_band_noise_snr_db is not None:
        samples = phone_band_with_noise(samples, snr_db=condition.phone_band_noise_snr_db)
    return encode(
        samples,
        path,
        codec=condition.codec,
        container=condition.container,
        sample_rate_hz=condition.sample_rate_hz,
        bit_rate_bps=condition.bit_rate_bps,
    )


def _annotation(turns: Iterable[Turn]) -> Any:
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for index, turn in enumerate(turns):
        annotation[Segment(turn.start, turn.end), index] = turn.speaker
    return annotation


def talk_shares(turns: Iterable[Turn]) -> dict[str, float]:
    """Each speaker's share of the summed talk time (overlapping speech counts for both)."""
    annotation = _annotation(turns)
    totals = {str(label): float(annotation.label_duration(label)) for label in annotation.labels()}
    whole = sum(totals.values())
    return {label: value / whole for label, value in totals.items()} if whole else {}


def speaker_mapping(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> dict[str, str]:
    """DER's optimal mapping of hypothesis speakers onto reference speakers (some may stay unmapped)."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    mapping = DiarizationErrorRate().optimal_mapping(
        _annotation(reference), _annotation(hypothesis)
    )
    return {str(found): str(truth) for found, truth in mapping.items()}


def share_error(
    reference: Sequence[Turn],
    hypothesis: Sequence[Turn],
    *,
    mapping: Mapping[str, str] | None = None,
) -> float:
    """Half the summed absolute talk-share differences under DER's optimal speaker mapping.

    ``mapping`` (hypothesis speaker → reference speaker) when the caller already has it.
    """
    if mapping is None:
        mapping = speaker_mapping(reference, hypothesis)
    truth = talk_shares(reference)
    found = talk_shares(hypothesis)
    mapped = {ref: 0.0 for ref in truth}
    unmapped = 0.0
    for label, share in found.items():
        if label in mapping:
            mapped[mapping[label]] = mapped.get(mapping[label], 0.0) + share
        else:
            unmapped += share
    return 0.5 * (sum(abs(truth[r] - mapped[r]) for r in truth) + unmapped)


@dataclass(frozen=True)
class Score:
    """How one diarized copy compares with the truth."""

    source: str
    condition: str
    der: float
    der_collar: float
    largest_share: float
    truth_largest_share: float
    share_error: float
    speakers: int
    seconds: float
    quality: str | None = None
    """The diarization's own quality level (None: not checked)."""

    @property
    def collapsed(self) -> bool:
        low, high = BALANCED_SHARES
        balanced = low <= 1 - self.truth_largest_share and self.truth_largest_share <= high
        return balanced and self.largest_share > COLLAPSE_SHARE

    @property
    def confidently_wrong(self) -> bool:
        """Talk shares off by more than :data:`CONFIDENT_WRONG_SHARE_ERROR` with a ``good`` check."""
        return self.quality == "good" and self.share_error > CONFIDENT_WRONG_SHARE_ERROR


def score_turns(
    source: Source,
    condition: str,
    turns: Sequence[Turn],
    *,
    duration_s: float,
    seconds: float,
    quality: str | None = None,
) -> Score:
    """DER (no collar and 0.25 s collar), largest share and share error of ``turns``."""
    reference = list(source.reference)
    return Score(
        source=source.name,
        condition=condition,
        der=diarization_error_rate(reference, turns, duration_s=duration_s),
        der_collar=diarization_error_rate(reference, turns, duration_s=duration_s, collar_s=0.25),
        largest_share=max(talk_shares(turns).values(), default=0.0),
        truth_largest_share=max(talk_shares(reference).values()),
        share_error=share_error(reference, turns),
        speakers=len({t.speaker for t in turns}),
        seconds=seconds,
        quality=quality,
    )


BUILTIN_SOURCES = ("sample_call", "dialogue_client_led", "dialogue_counselor_led")
"""The recordings :func:`sources` knows, in its order."""


def sources(names: Sequence[str] | None = None) -> list[Source]:
    """The real sample call and the two synthesized mono dialogues (16 kHz): all of them
    by default, those in ``names`` otherwise (none for an empty sequence)."""
    sample = pyannote_sample_dir()
    paths = {
        "sample_call": (sample / "sample.wav", sample / "sample.rttm"),
        "dialogue_client_led": (
            FIXTURES / "dialogue_client_led.wav",
            FIXTURES / "dialogue_client_led.rttm",
        ),
        "dialogue_counselor_led": (
            FIXTURES / "dialogue_counselor_led.wav",
            FIXTURES / "dialogue_counselor_led.rttm",
        ),
    }
    chosen = BUILTIN_SOURCES if names is None else names
    result = []
    for name in chosen:
        wav, rttm = paths[name]
        samples, rate = sf.read(wav, dtype="float32")
        if rate != SAMPLE_RATE_HZ or samples.ndim != 1:
            raise ValueError(f"{wav}: expected 16 kHz mono")
        result.append(Source(name, samples, tuple(read_rttm(rttm.read_text()))))
    return result


def realistic_sources(sets: Sequence[str], names: Sequence[str] | None = None) -> list[Source]:
    """The mono mixes of the neural-voice dialogues of ``sets`` (keys of :data:`REALISTIC_SETS`),
    only those named in ``names`` when given.

    The reference is every planted segment (speech, cut-offs, attempts,
    backchannels) under its role.
    """
    from pipeline.audio import load_audio

    result = []
    for set_name in sets:
        folder = REALISTIC_SETS[set_name]
        for truth_path in sorted(folder.glob("*.truth.json")):
            name = truth_path.name.removesuffix(".truth.json")
            if names is not None and name not in names:
                continue
            truth = json.loads(truth_path.read_text())
            reference = reference_turns(truth)
            samples = load_audio(folder / truth["audio_files"]["mono"]).samples
            result.append(Source(name, samples, reference))
    return result


Diarizer = Callable[[Any], Diarization]


def default_diarizer(**options: Any) -> Diarizer:
    """The product's diarization with its defaults (two speakers) plus ``options``.

    ``count_ties_down=False`` gives pyannote's own speaker-count rounding
    everywhere: the "before" of docs/benchmarks.md.
    """
    from pipeline.diarize import diarize

    def run(audio: Any) -> Diarization:
        return diarize(audio, **{"num_speakers": 2, "device": "cpu", **options})

    return run


CODE_FILES = ("diarize.py", "diarization_quality.py", "speaker_count.py", "narrowband.py")


def code_digest() -> str:
    """Digest of the diarization code, so cached results follow code changes."""
    digest = hashlib.sha256()
    for name in CODE_FILES:
        path = Path(__file__).resolve().parent.parent / "pipeline" / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _recipe_key(recipe: str) -> str:
    return f"{recipe}-{code_digest()}"


def evaluate(
    source_list: Sequence[Source],
    conditions: Sequence[Condition],
    *,
    diarizer: Diarizer,
    recipe: str,
    cache_dir: Path | None = DEFAULT_CACHE_DIR,
    progress: Callable[[Score], None] | None = None,
) -> list[Score]:
    """Degrade, decode, diarize and score every source under every condition."""
    from pipeline.audio import load_audio

    key = _recipe_key(recipe)
    scores = []
    with tempfile.TemporaryDirectory() as work:
        for source in source_list:
            for condition in conditions:
                truth = hashlib.sha256(repr(source.reference).encode()).hexdigest()[:8]
                cached = (
                    cache_dir / f"{source.name}.{condition.name}.{key}.{truth}.json"
                    if cache_dir
                    else None
                )
                stored = json.loads(cached.read_text()) if cached and cached.is_file() else {}
                if "quality" in stored:  # scores cached before the quality column are redone
                    result = Score(**stored)
                else:
                    path = degrade(source.samples, condition, Path(work), stem=source.name)
                    audio = load_audio(path)
                    start = time.perf_counter()
                    diarization = diarizer(audio)
                    seconds = time.perf_counter() - start
                    result = score_turns(
                        source,
                        condition.name,
                        diarization.turns,
                        duration_s=audio.duration_s,
                        seconds=seconds,
                        quality=None if diarization.quality is None else diarization.quality.level,
                    )
                    if cached is not None:
                        cached.parent.mkdir(parents=True, exist_ok=True)
                        cached.write_text(json.dumps(asdict(result)))
                scores.append(result)
                if progress is not None:
                    progress(result)
    return scores


def table(scores: Sequence[Score]) -> str:
    """Markdown table: DER and shares per source and condition, with the change from clean."""
    clean = {s.source: s for s in scores if s.condition == "clean"}
    header = (
        "| source | condition | DER | Δ vs clean | DER collar 0.25 | largest share (truth) "
        "| share error | quality check | verdict |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for s in scores:
        base = clean.get(s.source)
        delta = s.der - base.der if base else float("nan")
        bad = []
        if base is not None and delta > MAX_DER_INCREASE:
            bad.append("DER bound")
        if s.collapsed:
            bad.append("collapse")
        if s.confidently_wrong:
            bad.append("**confidently wrong**")
        lines.append(
            f"| {s.source} | {s.condition} | {s.der:.1%} | {delta * 100:+.1f} | "
            f"{s.der_collar:.1%} | {s.largest_share:.2f} ({s.truth_largest_share:.2f}) | "
            f"{s.share_error:.3f} | {s.quality or '—'} | {', '.join(bad) or 'ok'} |"
        )
    return "\n".join(lines)


def summary(scores: Sequence[Score]) -> Mapping[str, float]:
    """Worst DER increase over clean, worst share error, collapses, and confidently wrong runs."""
    clean = {s.source: s.der for s in scores if s.condition == "clean"}
    degraded = [s for s in scores if s.condition != "clean"]
    return {
        "worst DER increase (points)": max(
            ((s.der - clean[s.source]) * 100 for s in degraded if s.source in clean), default=0.0
        ),
        "mean DER clean": float(np.mean(list(clean.values()))) if clean else float("nan"),
        "mean DER degraded": float(np.mean([s.der for s in degraded]))
        if degraded
        else float("nan"),
        "worst share error": max((s.share_error for s in degraded), default=0.0),
        "collapses": float(sum(s.collapsed for s in degraded)),
        "runs over the DER bound": float(
            sum(s.der - clean[s.source] > MAX_DER_INCREASE for s in degraded if s.source in clean)
        ),
        "confidently wrong (clean copies included)": float(
            sum(s.confidently_wrong for s in scores)
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sources",
        nargs="*",
        choices=BUILTIN_SOURCES,
        help="subset of the built-in recordings (default: all; none if given without names)",
    )
    parser.add_argument(
        "--realistic",
        nargs="*",
        default=[],
        choices=list(REALISTIC_SETS),
        help="add the neural-voice dialogues of these sets (mono mixes)",
    )
    parser.add_argument(
        "--conditions", nargs="*", choices=list(CONDITIONS_BY_NAME), help="default: all"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--recipe-label", default="default", help="cache label for the diarization recipe"
    )
    parser.add_argument(
        "--pyannote-count",
        action="store_true",
        help="round speaker-count ties as pyannote does (the 'before' measurement)",
    )
    parser.add_argument("--json", type=Path, help="also write the scores here")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    conditions = [CONDITIONS_BY_NAME[n] for n in args.conditions] if args.conditions else CONDITIONS
    if "clean" not in [c.name for c in conditions]:
        conditions = [CONDITIONS_BY_NAME["clean"], *conditions]

    def show(score: Score) -> None:
        print(
            f"{score.source:24s} {score.condition:18s} DER {score.der:6.1%} "
            f"largest {score.largest_share:.2f} err {score.share_error:.3f} "
            f"quality {score.quality} ({score.seconds:.1f} s)",
            flush=True,
        )

    scores = evaluate(
        [*sources(args.sources), *realistic_sources(args.realistic)],
        conditions,
        diarizer=default_diarizer(count_ties_down=False)
        if args.pyannote_count
        else default_diarizer(),
        recipe=f"{args.recipe_label}{'-rint' if args.pyannote_count else ''}",
        cache_dir=None if args.no_cache else args.cache_dir,
        progress=show,
    )
    print()
    print(table(scores))
    print()
    for name, value in summary(scores).items():
        print(f"{name}: {value:.3f}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(s) for s in scores], indent=1))


if __name__ == "__main__":
    main()
