"""One recording end to end, and ``session.json``, the contract every reader relies on.

``analyze_speech`` runs the model stages (decode → transcribe → diarize →
attribute, plus the enrollment comparison when asked); ``score`` (from
:mod:`pipeline.document`) runs the cheap stages (roles → measures →
evidence) on their results; ``session_document`` writes both into one
versioned JSON document. The document functions are re-exported here;
:mod:`pipeline.document` holds them without any model import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pipeline.attribute import build_utterances
from pipeline.audio import DEFAULT_MAX_DURATION_S, load_audio
from pipeline.channels import (
    CHANNEL_MODEL,
    ChannelsOption,
    channel_activity,
    channel_audio,
    channel_quality,
    choose_channels,
    clip_words,
    diarize_by_channel,
    merge_channel_transcripts,
)
from pipeline.diarization_quality import with_transcript_measure
from pipeline.diarize import (
    DEFAULT_EMBEDDING_BATCH_SIZE,
    DEFAULT_SEGMENTATION_BATCH_SIZE,
    DEFAULT_SEGMENTATION_STEP,
    diarize,
)
from pipeline.document import (
    SCHEMA_VERSION,
    Channel,
    Scored,
    build_document,
    rescore_document,
    role_hint,
    score,
    speech_from_document,
    swap_roles,
)
from pipeline.metrics_config import DEFAULT_METRICS_CONFIG, MetricsConfig
from pipeline.transcribe import choose_device, transcribe
from pipeline.transcript_gaps import merge_words, untranscribed_speech
from pipeline.types import (
    Audio,
    AudioInfo,
    ChannelDecision,
    Diarization,
    SpeakerWord,
    Transcript,
    Turn,
    Utterance,
)

__all__ = [
    "SCHEMA_VERSION",
    "SPEAKERS_OPTIONS",
    "Scored",
    "SpeakersOption",
    "SpeechOptions",
    "SpeechResult",
    "StageProgress",
    "analyze_document",
    "analyze_speech",
    "diarize_with",
    "enrollment_with",
    "overlapped_stages",
    "rescore_document",
    "role_hint",
    "score",
    "session_document",
    "speaker_bounds",
    "speech_from_document",
    "swap_roles",
    "transcribe_channels",
    "transcribe_with",
]

StageProgress = Callable[[str, float, float], None]
"""Called as ``progress(stage, done_s, total_s)``."""


SpeakersOption = Literal["2", "2-3"]
"""Who speaks: ``2`` the two parties only; ``2-3`` the two parties and perhaps one more voice."""
SPEAKERS_OPTIONS: tuple[SpeakersOption, ...] = ("2", "2-3")


def speaker_bounds(speakers: SpeakersOption) -> dict[str, int | None]:
    """The speaker-count fields of :class:`SpeechOptions` for a ``speakers`` choice.

    ``2-3`` is the rerun the extra-voice cue advises (an introduction read by
    someone else, an interpreter, a relative in the room): the clustering may
    set a third voice apart, which then gets the role ``other`` and leaves the
    parties' talk shares. It is the command line's ``--min-speakers 2
    --max-speakers 3``, offered by name to the web upload and the cohort
    manifest.
    """
    if speakers == "2-3":
        return {"num_speakers": None, "min_speakers": 2, "max_speakers": 3}
    if speakers == "2":
        return {"num_speakers": 2, "min_speakers": None, "max_speakers": None}
    raise ValueError(f"speakers {speakers!r}: use one of {', '.join(SPEAKERS_OPTIONS)}")


@dataclass(frozen=True)
class SpeechOptions:
    """Settings of the model stages; part of every cache key."""

    model: str = "base"
    language: str | None = None
    device: str = "auto"
    compute_type: str = "auto"
    cpu_threads: int = 0
    num_speakers: int | None = 2
    min_speakers: int | None = None
    max_speakers: int | None = None
    pipeline_dir: str | None = None
    segmentation_step: float = DEFAULT_SEGMENTATION_STEP
    segmentation_batch_size: int = DEFAULT_SEGMENTATION_BATCH_SIZE
    embedding_batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    counselor_channel: Channel | None = None
    """Diarize a stereo recording by channel energy; this channel is the counselor."""
    channels: ChannelsOption = "auto"
    """Stereo: ``auto`` diarizes by channel when each party has its own, ``mix``/``split`` force it."""
    enrollment: str | None = None
    """A recording of the counselor's voice alone, to find them by voice."""


@dataclass(frozen=True)
class SpeechResult:
    """What the model stages produce for one recording."""

    audio: AudioInfo
    transcript: Transcript
    diarization: Diarization
    words: tuple[SpeakerWord, ...]
    utterances: tuple[Utterance, ...]
    options: SpeechOptions = field(default_factory=SpeechOptions)
    enrollment_similarities: Mapping[str, float] | None = None


def _ignore(_stage: str, _done: float, _total: float) -> None:
    """Default progress callback."""


def _channel_decision(audio: Audio, options: SpeechOptions) -> tuple[bool, ChannelDecision | None]:
    """Whether the session goes by channel, and the stereo decision (None when none was made)."""
    decision = None
    if audio.channel_samples.shape[0] > 1 or options.channels == "split":
        decision = choose_channels(
            audio, channels=options.channels, counselor_channel=options.counselor_channel
        )
    split = options.counselor_channel is not None or (
        decision is not None and decision.mode == "split"
    )
    return split, decision


def transcribe_with(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> Transcript:
    """The transcription stage with a session's settings.

    A stereo recording that :func:`diarize_with` diarizes by channel (the same
    decision, made again from the same audio and options) is transcribed one
    channel at a time (:func:`transcribe_channels`), so that overlapped speech
    is heard one voice at a time and each word carries its channel.
    """
    if _channel_decision(audio, options)[0]:
        return transcribe_channels(audio, options, progress=progress)
    return transcribe(
        audio,
        model=options.model,
        language=options.language,
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
        progress=partial(progress, "transcribe"),
    )


def fill_transcript_gaps(
    audio: Audio, transcript: Transcript, diarization: Diarization, options: SpeechOptions
) -> Transcript:
    """``transcript`` with the diarized speech its voice-activity pass skipped transcribed too.

    :mod:`pipeline.transcript_gaps` says why. A diarization by stereo channel
    is left as it is: :func:`transcribe_channels` fills each channel's gaps.
    """
    if diarization.model == CHANNEL_MODEL:
        return transcript
    return _second_pass(audio, transcript, diarization.exclusive, options)


def _second_pass(
    audio: Audio, transcript: Transcript, speech: Sequence[Turn], options: SpeechOptions
) -> Transcript:
    """``transcript`` with the stretches of ``speech`` that hold no word transcribed again.

    The language is the options' or, when words were heard, the transcript's
    (a language detected on silence is not passed on).
    """
    words = transcript.words
    gaps = untranscribed_speech(speech, words)
    if not gaps:
        return transcript
    extra = transcribe(
        audio,
        model=options.model,
        language=options.language or (transcript.language if words else None),
        device=options.device,
        compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
        speech_spans_s=gaps,
    )
    return merge_words(transcript, extra)


def transcribe_channels(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> Transcript:
    """Each channel of a stereo recording transcribed on its own, the words tagged with it.

    Each channel is silenced outside its own speech (:func:`pipeline.channels.channel_audio`),
    so the other party's leak is not transcribed and the speech detector skips
    it: about one transcription of the recording's speech in all; words are
    kept inside the kept audio (:func:`pipeline.channels.clip_words`). The channel
    with more speech goes first; when no language is set, the one detected
    there (from words) is used for the other channel too. A channel's active
    stretches that the speech detector skipped (a soft or breathy voice) are
    transcribed in a second pass, as :func:`fill_transcript_gaps` does for a
    mix. The two transcripts are merged with
    :func:`pipeline.channels.merge_channel_transcripts`.
    """
    runs = channel_activity(audio)
    order = sorted(range(2), key=lambda c: -sum(end - start for start, end in runs[c]))
    total = audio.duration_s
    language = options.language
    found: dict[int, Transcript] = {}
    for step, channel in enumerate(order):

        def report(done: float, _total: float, step: int = step) -> None:
            progress("transcribe", (step * total + done) / 2, total)

        heard = channel_audio(audio, channel, runs=runs[channel])
        transcript = transcribe(
            heard,
            model=options.model,
            language=language,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=options.cpu_threads,
            progress=report,
        )
        active = [Turn(start, end, str(channel)) for start, end in runs[channel]]
        transcript = _second_pass(heard, transcript, active, replace(options, language=language))
        found[channel] = clip_words(transcript, runs[channel])
        language = language or (found[channel].language if found[channel].words else None)
    return merge_channel_transcripts([found[0], found[1]])


def diarize_with(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> Diarization:
    """The diarization stage with a session's settings: by channel energy or by pyannote.

    A stereo recording is diarized by channel when the channels carry different
    parties (:func:`pipeline.channels.choose_channels`: measured, or forced by
    ``channels``/``counselor_channel``); the decision is kept on the result.
    """
    split, decision = _channel_decision(audio, options)
    if split:
        diarization = diarize_by_channel(audio)
        progress("diarize", audio.duration_s, audio.duration_s)
        quality = channel_quality(diarization)
        warnings = quality.cues if quality.level != "good" else ()
        return replace(diarization, quality=quality, warnings=warnings, channels=decision)
    diarization = diarize(
        audio,
        num_speakers=options.num_speakers,
        min_speakers=options.min_speakers,
        max_speakers=options.max_speakers,
        pipeline_dir=options.pipeline_dir,
        device=options.device,
        segmentation_step=options.segmentation_step,
        segmentation_batch_size=options.segmentation_batch_size,
        embedding_batch_size=options.embedding_batch_size,
        progress=partial(progress, "diarize"),
    )
    return replace(diarization, channels=decision)


def enrollment_with(
    audio: Audio, diarization: Diarization, options: SpeechOptions
) -> dict[str, float] | None:
    """Each speaker's voice similarity to the enrollment recording, when one is given."""
    if options.enrollment is None:
        return None
    from pipeline.enroll import enrollment_similarities

    return enrollment_similarities(
        audio,
        diarization.exclusive,
        diarization.speakers,
        options.enrollment,
        device=choose_device(options.device),
    )


def split_cores(cpu_threads: int) -> tuple[int, int]:
    """``(whisper_cores, torch_threads)`` when both stages run at once.

    ``cpu_threads`` (0: every core): Whisper gets them all, as that many
    windows decoded at once with one thread each (:func:`pipeline.transcribe.transcribe`),
    torch half, rounded up. The threads outnumber the cores while diarization
    runs; once it ends, Whisper has every core to itself, where a fixed split
    left one idle (docs/benchmarks.md, "Windows decoded side by side").
    """
    cores = cpu_threads or os.cpu_count() or 1
    return cores, max(1, cores - cores // 2)


@contextmanager
def torch_thread_limit(threads: int) -> Iterator[None]:
    """Set torch's intra-op threads to ``threads`` while the block runs (0: leave them).

    The setting is process-wide; it is restored afterwards.
    """
    if threads <= 0:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _diarize_with_threads(
    audio: Audio, options: SpeechOptions, torch_threads: int, progress: StageProgress
) -> Diarization:
    with torch_thread_limit(torch_threads):
        return diarize_with(audio, options, progress=progress)


def overlapped_stages(
    audio: Audio, options: SpeechOptions, *, progress: StageProgress = _ignore
) -> tuple[Transcript, Diarization]:
    """Transcribe and diarize at the same time on the CPU, the cores split between them.

    Each stage alone scales poorly past one core (CTranslate2's decoder and
    pyannote's small convolutions leave cores idle), so running both side by
    side finishes sooner than one after the other. The cores are shared as
    :func:`split_cores` says. The progress callback is called from both
    worker threads.
    """
    whisper_threads, torch_threads = split_cores(options.cpu_threads)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stage") as pool:
        transcript = pool.submit(
            transcribe_with, audio, replace(options, cpu_threads=whisper_threads), progress=progress
        )
        diarization = pool.submit(_diarize_with_threads, audio, options, torch_threads, progress)
        return transcript.result(), diarization.result()


def analyze_speech(
    path: str | Path,
    *,
    options: SpeechOptions = SpeechOptions(),
    progress: StageProgress = _ignore,
    overlap: bool = False,
) -> SpeechResult:
    """Decode, transcribe, diarize and attribute one recording.

    ``overlap`` runs transcription and diarization side by side on the CPU
    (:func:`overlapped_stages`); on CUDA the stages run one after the other.
    """
    audio = load_audio(path, max_duration_s=options.max_duration_s)
    progress("decode", audio.duration_s, audio.duration_s)
    if overlap and choose_device(options.device) == "cpu":
        transcript, diarization = overlapped_stages(audio, options, progress=progress)
    else:
        transcript = transcribe_with(audio, options, progress=progress)
        diarization = diarize_with(audio, options, progress=progress)
    transcript = fill_transcript_gaps(audio, transcript, diarization, options)
    words, utterances = build_utterances(transcript, diarization.exclusive)
    diarization = with_transcript_measure(diarization, words)
    similarities = enrollment_with(audio, diarization, options)
    progress("attribute", audio.duration_s, audio.duration_s)
    return SpeechResult(
        audio.info, transcript, diarization, words, utterances, options, similarities
    )


def analyze_document(
    path: str | Path,
    *,
    options: SpeechOptions = SpeechOptions(),
    counselor: str | None = None,
    counselor_first: bool = False,
    config: MetricsConfig = DEFAULT_METRICS_CONFIG,
    progress: StageProgress = _ignore,
    overlap: bool = False,
) -> dict[str, Any]:
    """One recording end to end: model stages, then roles → measures → evidence, as a document.

    The pipeline without orchestration (the web app's direct mode, the
    benches); the Prefect flow that ``session-analyzer analyze`` runs does the
    same stages as separate, cached tasks. ``overlap``: see :func:`analyze_speech`.
    """
    result = analyze_speech(path, options=options, progress=progress, overlap=overlap)
    hint = role_hint(
        counselor=counselor,
        counselor_first=counselor_first,
        counselor_channel=options.counselor_channel,
        similarities=result.enrollment_similarities,
    )
    scored = score(
        result.diarization.turns,
        result.utterances,
        duration_s=result.audio.duration_s,
        hint=hint,
        warnings=result.diarization.warnings,
        quality=result.diarization.quality,
        config=config,
        language=result.transcript.language,
    )
    return session_document(result, scored, config=config)


def session_document(
    result: SpeechResult, scored: Scored, *, config: MetricsConfig = DEFAULT_METRICS_CONFIG
) -> dict[str, Any]:
    """The ``session.json`` document (times in seconds, millisecond precision)."""
    info = result.audio
    return build_document(
        audio={
            "file_name": Path(info.path).name,
            "sha256": info.sha256,
            "duration_s": round(info.duration_s, 3),
            "original_sample_rate_hz": info.original_sample_rate_hz,
            "channels": info.channels,
            "container": info.container,
            "codec": info.codec,
        },
        models={"transcription": result.transcript.model, "diarization": result.diarization.model},
        settings=asdict(result.options),
        language=result.transcript.language,
        diarization=result.diarization,
        utterances=result.utterances,
        scored=scored,
        config=config,
    )
