"""Stereo recordings with one party per channel: recognising them, and diarizing them by channel.

Telehealth platforms and many call recorders put each party on its own
channel. There, who speaks when is read off the channels' loudness more
reliably than by clustering voices: a channel is speaking where its level is
well above its own noise floor, it is voiced nearby (line noise is not) and
it is not merely the other party's crosstalk (a leak is several dB quieter
than the direct voice on the other channel).

:func:`decide_channels` tells such recordings from dual-mono copies, room
stereo and recordings with one silent channel, from the channels' levels
alone (:class:`~pipeline.types.ChannelDecision`); :func:`choose_channels`
applies the user's ``--channels``/``--counselor-channel`` on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from pipeline.audio import channel_correlation
from pipeline.errors import DiarizationError
from pipeline.transcript_gaps import in_time_order
from pipeline.types import CHANNEL_LABELS as CHANNEL_LABELS  # noqa: PLC0414 (re-exported)
from pipeline.types import (
    SAMPLE_RATE_HZ,
    Audio,
    ChannelDecision,
    Diarization,
    DiarizationQuality,
    QualityLevel,
    Transcript,
    Turn,
    Word,
)
from pipeline.voice_levels import frame_levels_db
from pipeline.voicing import near_voicing

CHANNEL_MODEL = "channel-energy"
ChannelsOption = Literal["auto", "mix", "split"]
"""``--channels``: decide from the audio, always mix down, or always diarize by channel."""

FRAME_S = 0.02
FLOOR_MARGIN_DB = 15.0
"""For the stereo decision, a channel sounds where it is this much above its own noise floor
(10th percentile)."""
ACTIVITY_MARGIN_DB = 6.0
"""Once split, a channel speaks where it is this much above its own noise floor.

Lower than :data:`FLOOR_MARGIN_DB`: at 15 dB a soft or breathy voice in a
20 dB SNR room lost a quarter to a third of its speech (client share 0.04-0.08
low) and a voice 10-16 dB above a phone line's hiss most of it; at 6 dB those
share errors are 16-87 % smaller, while frames of noise alone above the floor
stay near 1 % (docs/diarization.md, "Channel activity").
"""
ACTIVITY_RANGE_DB = 38.0
"""...and no more than this much below its loud frames (its 99th-percentile level).

The noise floor alone fails on a VoIP line whose silence suppression sends
digital zeros: the floor reads as silence and the line's background noise,
20-60 dB under its party's speech, counted as talk in every pause. On a
real call (SpokenWOZ MUL1011) one line got 60 % of the talk time against
46 %; within 38 dB of the loud frames it gets 46 % (share error 0.006; the
95th percentile and 35 dB, the first version, gave 0.000, 40 dB 0.024).
The 99th percentile holds while the line's party speaks in at least 1 % of
the recording (the 95th needed 5 %). Where the floor is real noise, floor +
6 dB is the higher bound and nothing changes; on clean synthetic voices over
digital silence the rule trims quiet word edges (client shares moved by up
to 0.012) (docs/diarization.md, "Noise counted as talk").
"""
VOICED_APERIODICITY = 0.4
"""Once split, a channel speaks only near frames at most this aperiodic (YIN's measure,
:func:`pipeline.voicing.aperiodicity`: near 0 for a voice's vowels, 0.55 and more for hiss),
within :data:`VOICING_REACH_S` of one."""
VOICING_REACH_S = 0.3
"""Once split, a channel speaks only within this many seconds of a voiced frame of its own
(:func:`pipeline.voicing.near_voicing`, :data:`VOICED_APERIODICITY`).

Loudness alone counts a noisy line's background as talk wherever it stands
far enough above the line's floor and within :data:`ACTIVITY_RANGE_DB` of
its speech: with pink noise 22-38 dB under the speech on one line of the
stereo fixtures (``bench.line_noise``), client shares were up to 0.20 off,
two of them 0.15-0.16 with the check ``good``. Noise is not periodic; speech
is periodic in its vowels, never more than a few hundred milliseconds apart.
Near voicing, those shares are at most 0.08 off (mean 0.083 -> 0.042, whole
pipeline), the fixtures as made and the real VoIP call move by at most
0.004, and a breathy voice, whose weakly periodic speech loses some frames,
costs its party 0.004 of share on average (six sessions, at most 0.011 off)
(docs/diarization.md, "Noise that is not a voice").
"""
DOMINANCE_DB = 15.0
"""A channel holds the floor where it is at least this much louder than the other."""
MIN_DOMINANT_FRACTION = 0.05
"""Each channel must hold the floor in at least this fraction of the sounding frames..."""
MIN_DOMINANT_S = 1.0
"""...and for at least this many seconds, for the channels to count as two parties."""
SILENT_DBFS = -60.0
"""A channel whose loudest frame stays below this level is silent."""
DUAL_MONO_CORRELATION = 0.9
"""Channels whose waveforms correlate at least this much (in absolute value) are one signal."""


def _runs(mask: npt.NDArray[np.bool_], *, frame_s: float) -> list[tuple[float, float]]:
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [
        (float(a * frame_s), float(b * frame_s))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _clean(
    runs: list[tuple[float, float]], *, min_gap_s: float, min_speech_s: float
) -> list[tuple[float, float]]:
    """Bridge short pauses, then drop blips."""
    merged: list[tuple[float, float]] = []
    for start, end in runs:
        if merged and start - merged[-1][1] < min_gap_s:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return [(s, e) for s, e in merged if e - s >= min_speech_s]


def _require_stereo(audio: Audio) -> None:
    if audio.channel_samples.shape[0] != 2:
        raise DiarizationError(
            f"channel diarization needs a stereo recording; this one has "
            f"{audio.channel_samples.shape[0]} channel(s): drop --counselor-channel and --channels split"
        )


def _activity(
    audio: Audio,
    *,
    frame_s: float,
    floor_margin_db: float,
    range_db: float,
    crosstalk_margin_db: float,
    voicing_reach_s: float | None,
    min_gap_s: float,
    min_speech_s: float,
) -> tuple[list[list[tuple[float, float]]], npt.NDArray[np.float64]]:
    """Each channel's active runs ``(start_s, end_s)``, and the frame levels (dBFS, channel × frame)."""
    _require_stereo(audio)
    hop = round(frame_s * SAMPLE_RATE_HZ)
    levels = np.stack([frame_levels_db(channel, hop=hop) for channel in audio.channel_samples])
    floors = np.percentile(levels, 10, axis=1, keepdims=True)
    loud = np.percentile(levels, 99, axis=1, keepdims=True)
    threshold = np.maximum(floors + floor_margin_db, loud - range_db)
    active = (levels > threshold) & (levels >= levels[::-1] - crosstalk_margin_db)
    if voicing_reach_s is not None:
        active = np.stack(
            [
                near_voicing(
                    channel,
                    hop=hop,
                    max_aperiodicity=VOICED_APERIODICITY,
                    reach_s=voicing_reach_s,
                    frames=candidates,
                )
                for channel, candidates in zip(audio.channel_samples, active, strict=True)
            ]
        )
    per_channel = [
        _clean(_runs(active[c], frame_s=frame_s), min_gap_s=min_gap_s, min_speech_s=min_speech_s)
        for c in range(2)
    ]
    return per_channel, levels


def channel_activity(
    audio: Audio,
    *,
    frame_s: float = 0.02,
    floor_margin_db: float = ACTIVITY_MARGIN_DB,
    range_db: float = ACTIVITY_RANGE_DB,
    crosstalk_margin_db: float = 10.0,
    voicing_reach_s: float | None = VOICING_REACH_S,
    min_gap_s: float = 0.3,
    min_speech_s: float = 0.2,
) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
    """Where each channel of a two-channel recording speaks: ``(left runs, right runs)``.

    The same activity :func:`diarize_by_channel` turns into turns (same
    options, same defaults): runs ``(start_s, end_s)`` where the channel is
    ``floor_margin_db`` above its noise floor, no more than ``range_db``
    below its loud frames, no more than ``crosstalk_margin_db`` below the
    other channel and within ``voicing_reach_s`` of voicing (None: loudness
    only), pauses under ``min_gap_s`` bridged, runs under ``min_speech_s``
    dropped.
    """
    runs, _levels = _activity(
        audio,
        frame_s=frame_s,
        floor_margin_db=floor_margin_db,
        range_db=range_db,
        crosstalk_margin_db=crosstalk_margin_db,
        voicing_reach_s=voicing_reach_s,
        min_gap_s=min_gap_s,
        min_speech_s=min_speech_s,
    )
    return tuple(runs[0]), tuple(runs[1])


def diarize_by_channel(
    audio: Audio,
    *,
    frame_s: float = 0.02,
    floor_margin_db: float = ACTIVITY_MARGIN_DB,
    range_db: float = ACTIVITY_RANGE_DB,
    crosstalk_margin_db: float = 10.0,
    voicing_reach_s: float | None = VOICING_REACH_S,
    min_gap_s: float = 0.3,
    min_speech_s: float = 0.2,
) -> Diarization:
    """Turns from a two-channel recording: ``LEFT`` and ``RIGHT`` are the speakers.

    Parameters
    ----------
    frame_s
        Analysis frame hop.
    floor_margin_db
        A channel speaks where it is this much above its noise floor (its 10th percentile level),
    range_db
        ...no more than this much below its loud frames (its 99th percentile level),
    crosstalk_margin_db
        ...no more than this much below the other channel (quieter is a leak),
    voicing_reach_s
        ...and within this many seconds of a voiced frame of its own (:data:`VOICED_APERIODICITY`;
        noise is not voiced). None judges by loudness alone.
    min_gap_s, min_speech_s
        Pauses shorter than ``min_gap_s`` are bridged; speech shorter than ``min_speech_s`` is dropped.
    """
    per_channel, levels = _activity(
        audio,
        frame_s=frame_s,
        floor_margin_db=floor_margin_db,
        range_db=range_db,
        crosstalk_margin_db=crosstalk_margin_db,
        voicing_reach_s=voicing_reach_s,
        min_gap_s=min_gap_s,
        min_speech_s=min_speech_s,
    )
    duration = audio.duration_s
    turns = sorted(
        (
            Turn(round(s, 3), round(min(e, duration), 3), CHANNEL_LABELS[c])
            for c in range(2)
            for s, e in per_channel[c]
        ),
        key=lambda t: (t.start, t.end, t.speaker),
    )
    if not turns:
        raise DiarizationError("no speech was found on either channel")
    return Diarization(
        turns=tuple(turns),
        exclusive=exclusive_turns(turns, levels, frame_s=frame_s),
        model=CHANNEL_MODEL,
    )


CHANNEL_PAD_S = 0.2
"""Seconds of a channel kept either side of its active runs when it is transcribed alone
(:func:`channel_audio`): the activity misses a voice's faint onset and fading end."""


def mask_outside(
    samples: npt.NDArray[np.float32],
    runs: Sequence[tuple[float, float]],
    *,
    pad_s: float = CHANNEL_PAD_S,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> npt.NDArray[np.float32]:
    """A copy of ``samples`` with everything outside ``runs`` (each widened by ``pad_s``) zeroed.

    Parameters
    ----------
    samples
        One channel, shape ``(n,)``.
    runs
        ``(start_s, end_s)`` spans to keep, in any order; they may overlap.
    pad_s
        Seconds kept before each start and after each end (clipped to the signal).

    Examples
    --------
    >>> mask_outside(np.ones(10, np.float32), [(0.4, 0.5)], pad_s=0.1, sample_rate_hz=10)
    array([0., 0., 0., 1., 1., 1., 0., 0., 0., 0.], dtype=float32)
    """
    n = samples.shape[0]
    keep = np.zeros(n, dtype=bool)
    for start, end in runs:
        first = max(0, round((start - pad_s) * sample_rate_hz))
        last = min(n, round((end + pad_s) * sample_rate_hz))
        keep[first:last] = True
    return np.where(keep, samples, np.float32(0.0)).astype(np.float32)


def channel_audio(
    audio: Audio,
    channel: int,
    *,
    runs: Sequence[tuple[float, float]] | None = None,
    pad_s: float = CHANNEL_PAD_S,
) -> Audio:
    """One channel of a stereo recording as mono :class:`Audio`, silent outside its own speech.

    Zeroing everything outside the channel's active runs (:func:`channel_activity`,
    or ``runs`` when given) widened by ``pad_s`` keeps the other party's leak
    (20-30 dB quieter) out of the transcript, and lets the speech detector skip
    it, so transcribing both channels costs about one transcription of the
    speech. Same length and times as the recording.
    """
    _require_stereo(audio)
    if runs is None:
        runs = channel_activity(audio)[channel]
    samples = mask_outside(audio.channel_samples[channel], runs, pad_s=pad_s)
    return Audio(info=audio.info, samples=samples, channel_samples=samples[np.newaxis])


def clip_words(
    transcript: Transcript, runs: Sequence[tuple[float, float]], *, pad_s: float = CHANNEL_PAD_S
) -> Transcript:
    """Words of a channel transcribed alone (:func:`channel_audio`), kept inside its kept audio.

    Whisper's word timing may stretch a word over the silenced stretch next to
    it (a cut-off fragment's last word running on through the other party's
    turn, the first word after a pause starting seconds early). A word that
    reaches outside the padded ``runs`` is clipped to the padded run it
    overlaps most; a word inside none is left as it is. Segment bounds follow
    their words.

    Examples
    --------
    >>> from pipeline.types import TranscriptSegment, Word
    >>> long = Word(1.0, 4.0, "most", 0.9)
    >>> t = Transcript("en", 1.0, (TranscriptSegment(1.0, 4.0, "most", (long,)),), "m")
    >>> clip_words(t, [(3.0, 5.0)], pad_s=0.2).words
    (Word(start=2.8, end=4.0, text='most', probability=0.9, channel=None),)
    """
    kept: list[tuple[float, float]] = []
    for run_start, run_end in sorted(runs):
        start, end = run_start - pad_s, run_end + pad_s
        if kept and start <= kept[-1][1]:
            kept[-1] = (kept[-1][0], max(kept[-1][1], end))
        else:
            kept.append((start, end))

    def clipped(word: Word) -> Word:
        best, best_overlap = None, 0.0
        for start, end in kept:
            overlap = min(end, word.end) - max(start, word.start)
            if overlap > best_overlap:
                best, best_overlap = (start, end), overlap
        if best is None or (best[0] <= word.start and word.end <= best[1]):
            return word
        return replace(
            word, start=round(max(word.start, best[0]), 3), end=round(min(word.end, best[1]), 3)
        )

    segments = []
    for segment in transcript.segments:
        words = tuple(clipped(w) for w in segment.words)
        segments.append(
            replace(segment, start=words[0].start, end=words[-1].end, words=words)
            if words
            else segment
        )
    return replace(transcript, segments=tuple(segments))


def merge_channel_transcripts(transcripts: Sequence[Transcript]) -> Transcript:
    """One transcript in time order from each channel's own (``transcripts[c]`` from channel ``c``).

    Every word is tagged with its channel (:attr:`Word.channel`), so that it is
    attributed to that channel's speaker, not by time. A channel's Whisper
    segment can span the other party's turns (its channel is silent there):
    :func:`pipeline.transcript_gaps.in_time_order` cuts it there (ties: lower
    channel first). The language is that of the transcript with the most words.
    """
    if not transcripts:
        raise ValueError("no transcript to merge")
    tagged = [
        [replace(s, words=tuple(replace(w, channel=c) for w in s.words)) for s in t.segments]
        for c, t in enumerate(transcripts)
    ]
    main = max(transcripts, key=lambda t: len(t.words))
    return Transcript(
        language=main.language,
        language_probability=main.language_probability,
        segments=in_time_order(tagged),
        model=main.model,
    )


def exclusive_turns(
    turns: list[Turn], levels: npt.NDArray[np.float64], *, frame_s: float
) -> tuple[Turn, ...]:
    """One speaker per instant: where both channels speak, the louder one holds the frame."""
    n_frames = levels.shape[1]
    owner = np.full(n_frames, -1)
    for turn in turns:
        channel = CHANNEL_LABELS.index(turn.speaker)
        a, b = round(turn.start / frame_s), min(round(turn.end / frame_s), n_frames)
        span = slice(a, b)
        free = owner[span] == -1
        louder = levels[channel, span] > levels[1 - channel, span]
        owner[span] = np.where(free | louder, channel, owner[span])
    result = []
    for channel in range(2):
        result += [
            Turn(round(s, 3), round(e, 3), CHANNEL_LABELS[channel])
            for s, e in _runs(owner == channel, frame_s=frame_s)
        ]
    return tuple(sorted(result, key=lambda t: (t.start, t.end)))


def channel_evidence(
    audio: Audio,
    *,
    frame_s: float = FRAME_S,
    floor_margin_db: float = FLOOR_MARGIN_DB,
    dominance_db: float = DOMINANCE_DB,
) -> dict[str, float]:
    """The measurements :func:`decide_channels` rests on, for a two-channel recording.

    Levels are RMS in dBFS over ``frame_s`` frames. A frame *sounds* on a
    channel when it is ``floor_margin_db`` above that channel's 10th-percentile
    level; a channel *dominates* a sounding frame when it is ``dominance_db``
    louder than the other while sounding itself.

    Returns
    -------
    dict
        ``correlation`` (waveforms), ``{left,right}_peak_dbfs``, ``{left,right}_sound_s``,
        ``{left,right}_dominant_s`` and ``..._fraction`` (of sounding frames),
        ``both_sound_fraction`` and ``median_difference_both_db`` (|left − right|
        where both sound), ``bleed_db`` (median level of the quiet channel relative
        to the dominant one; nan when no channel dominates), ``sound_s``.
    """
    hop = round(frame_s * SAMPLE_RATE_HZ)
    levels = np.stack([frame_levels_db(channel, hop=hop) for channel in audio.channel_samples[:2]])
    floors = np.percentile(levels, 10, axis=1, keepdims=True)
    sounding = levels > floors + floor_margin_db
    anywhere = sounding.any(axis=0)
    both = sounding.all(axis=0)
    difference = levels[0] - levels[1]
    # a channel holds the floor where it sounds itself and is much louder than the other
    # (a channel of hiss alone never sounds, so it never holds the floor)
    left = sounding[0] & (difference >= dominance_db)
    right = sounding[1] & (difference <= -dominance_db)
    frames = max(int(anywhere.sum()), 1)
    dominant = left | right
    evidence = {
        "correlation": channel_correlation(audio.channel_samples[0], audio.channel_samples[1]),
        "left_peak_dbfs": float(levels[0].max()),
        "right_peak_dbfs": float(levels[1].max()),
        "sound_s": float(anywhere.sum() * frame_s),
        "left_sound_s": float(sounding[0].sum() * frame_s),
        "right_sound_s": float(sounding[1].sum() * frame_s),
        "left_dominant_s": float(left.sum() * frame_s),
        "right_dominant_s": float(right.sum() * frame_s),
        "left_dominant_fraction": float(left.sum() / frames),
        "right_dominant_fraction": float(right.sum() / frames),
        "both_sound_fraction": float(both.sum() / frames),
        "median_difference_both_db": (
            float(np.median(np.abs(difference[both]))) if both.any() else float("nan")
        ),
        "bleed_db": float(np.median(-np.abs(difference[dominant])))
        if dominant.any()
        else float("nan"),
    }
    # unknown values (nan) are left out: session.json stays strict JSON
    return {k: round(v, 3) for k, v in evidence.items() if np.isfinite(v)}


def decide_channels(
    audio: Audio,
    *,
    frame_s: float = FRAME_S,
    floor_margin_db: float = FLOOR_MARGIN_DB,
    dominance_db: float = DOMINANCE_DB,
    min_dominant_fraction: float = MIN_DOMINANT_FRACTION,
    min_dominant_s: float = MIN_DOMINANT_S,
    silent_dbfs: float = SILENT_DBFS,
    dual_mono_correlation: float = DUAL_MONO_CORRELATION,
) -> ChannelDecision:
    """Whether a recording's two channels carry two different parties.

    ``split`` only when each channel, in turn, holds the floor clearly
    (``dominance_db`` louder than the other) for at least
    ``min_dominant_fraction`` of the sounding time and ``min_dominant_s``
    seconds: that is what one party per channel looks like, crosstalk of
    -20 to -30 dB included. Everything else is ``mix``: a mono file, a silent
    channel (the mix is then the other channel), the same signal on both
    channels (dual mono, at any gain), and room stereo where both parties
    reach both microphones at similar levels.

    Parameters
    ----------
    frame_s, floor_margin_db, dominance_db
        See :func:`channel_evidence`.
    min_dominant_fraction, min_dominant_s
        How much each channel must hold the floor alone.
    silent_dbfs
        A channel never louder than this is silent.
    dual_mono_correlation
        Waveforms correlated at least this much are one signal twice.
    """
    count = int(audio.channel_samples.shape[0])
    if count != 2:
        reason = (
            "mono recording"
            if count == 1
            else f"{count} channels: only two-channel recordings are split by channel"
        )
        return ChannelDecision("mix", reason, {"channels": float(count)})
    evidence = {
        "channels": 2.0,
        **channel_evidence(
            audio, frame_s=frame_s, floor_margin_db=floor_margin_db, dominance_db=dominance_db
        ),
    }
    for side, other in (("left", "right"), ("right", "left")):
        if evidence[f"{side}_peak_dbfs"] < silent_dbfs:
            return ChannelDecision(
                "mix",
                f"the {side} channel is silent (never above {silent_dbfs:g} dBFS): "
                f"the {other} channel is analyzed by voice",
                evidence,
            )
    if abs(evidence["correlation"]) >= dual_mono_correlation:
        return ChannelDecision(
            "mix",
            f"both channels carry the same signal (correlation {evidence['correlation']:.2f}): "
            "analyzed by voice",
            evidence,
        )
    quiet = [
        side
        for side in ("left", "right")
        if evidence[f"{side}_dominant_fraction"] < min_dominant_fraction
        or evidence[f"{side}_dominant_s"] < min_dominant_s
    ]
    if quiet:
        if len(quiet) == 2:
            reason = (
                f"neither channel is ever {dominance_db:g} dB louder than the other for long: "
                "both parties reach both channels, analyzed by voice"
            )
        else:
            reason = (
                f"only the {'right' if quiet == ['left'] else 'left'} channel holds a voice of "
                f"its own ({quiet[0]} channel: {evidence[f'{quiet[0]}_dominant_s']:.1f} s "
                f"alone): analyzed by voice"
            )
        return ChannelDecision("mix", reason, evidence)
    bleed = evidence.get("bleed_db", float("nan"))
    meanwhile = (
        "silent meanwhile" if not bleed > silent_dbfs else f"{-bleed:.0f} dB quieter meanwhile"
    )
    return ChannelDecision(
        "split",
        f"each channel carries its own voice (left alone in "
        f"{evidence['left_dominant_fraction']:.0%}, right alone in "
        f"{evidence['right_dominant_fraction']:.0%} of the sounding time; the other channel "
        f"{meanwhile}): diarized by channel",
        evidence,
    )


def choose_channels(
    audio: Audio, *, channels: ChannelsOption = "auto", counselor_channel: str | None = None
) -> ChannelDecision:
    """The decision the session follows: the user's override, else :func:`decide_channels`.

    ``counselor_channel`` (a named channel) and ``channels="split"`` force a
    split; ``channels="mix"`` forces the mix. The measured evidence is kept
    either way, so a forced choice against the audio can be seen.
    """
    measured = decide_channels(audio)
    if counselor_channel is not None:
        return ChannelDecision(
            "split", "the counselor's channel was named (--counselor-channel)", measured.evidence
        )
    if channels == "split":
        return ChannelDecision("split", "split by request (--channels split)", measured.evidence)
    if channels == "mix":
        return ChannelDecision("mix", "mixed down by request (--channels mix)", measured.evidence)
    return measured


MAX_CHANNEL_SHARE = 0.9
"""A channel diarization where one channel has more than this share of the talk is doubtful."""
MAX_BOTH_SHARE = 0.3
"""...and so is one where both channels speak at once for more than this share of the speech."""


def channel_quality(diarization: Diarization) -> DiarizationQuality:
    """Cues for a diarization by channel: one channel nearly silent, or both talking throughout."""
    totals = {label: 0.0 for label in CHANNEL_LABELS}
    for turn in diarization.exclusive:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + turn.duration_s
    speech = sum(totals.values())
    top = max(totals.values()) / speech if speech > 0 else 1.0
    overlap = sum(t.duration_s for t in diarization.turns) - speech
    both = overlap / speech if speech > 0 else 0.0
    measures = {"top_share": round(top, 3), "both_share": round(max(both, 0.0), 3)}
    cues: list[str] = []
    if top > MAX_CHANNEL_SHARE:
        cues.append(
            f"one channel has {top:.0%} of the talk time: check the recording (is the other "
            "party on this file?), or analyze the mix with --channels mix"
        )
    if both > MAX_BOTH_SHARE:
        cues.append(
            f"both channels sound at once for {both:.0%} of the speech, as when each party "
            "reaches both microphones: analyze the mix with --channels mix"
        )
    level: QualityLevel = "good" if not cues else "doubtful"
    return DiarizationQuality(level, tuple(cues), ("channel",), measures)
