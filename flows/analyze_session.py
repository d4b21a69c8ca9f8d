"""One recording as a Prefect flow: decode → transcribe → diarize → fill → attribute → score → report.

Each task is a thin call into :mod:`pipeline`. Model tasks decode the audio
themselves from its path (about a second per 10 minutes) so no waveform ever
crosses a task boundary; every result is a small JSON dict, persisted under
the data directory (:func:`flows.settings.results_dir`) and keyed by content
(:class:`flows.caching.ContentKey`): the audio's sha256, the resolved model
ids, the settings that change a result, and the code that produces it. A
rerun, in this process or another, skips every finished stage, and a renamed
copy of a recording is not analyzed again.

Task parameters that reach Prefect's API are references to upstream results,
ids and numbers; task run names carry the first 12 hex digits of the audio
hash. Transcript text stays in the result files on this machine.

:func:`run_session` is the plain-Python door the CLI and the web app use.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)
from prefect.utilities.annotations import quote

from flows import records
from flows.caching import ContentKey, retry_transient
from flows.prefect_internals import (
    check_loopback,
    ephemeral_servers,
    own_local_server,
    quiet_console,
    stop_ephemeral_server_with_process,
    strip_tracebacks_from_prefect_logs,
)
from flows.settings import results_dir
from flows.status import MODEL_STAGES, Stage, one_line, read_status, write_status
from models.registry import (
    ResolvedModel,
    resolve_embedding,
    resolve_pyannote_pipeline,
    resolve_segmentation,
    resolve_whisper,
)
from pipeline.attribute import build_utterances
from pipeline.audio import file_sha256, load_audio
from pipeline.channels import CHANNEL_MODEL, ChannelsOption
from pipeline.diarization_quality import with_transcript_measure
from pipeline.document import Channel
from pipeline.enroll import enrollment_similarities
from pipeline.errors import AudioError
from pipeline.norms import NORMS_PATH
from pipeline.outputs import (
    HTML_FILE,
    MARKDOWN_FILE,
    RTTM_FILE,
    SESSION_FILE,
    SRT_FILE,
    VTT_FILE,
    write_outputs,
)
from pipeline.session import (
    SpeechOptions,
    SpeechResult,
    StageProgress,
    diarize_with,
    fill_transcript_gaps,
    role_hint,
    score,
    session_document,
    split_cores,
    torch_thread_limit,
    transcribe_with,
)
from pipeline.transcribe import choose_compute_type, choose_device
from pipeline.types import Audio

Record = dict[str, Any]

RETRIES = 2
RETRY_DELAYS_S: list[float] = [10.0, 60.0]
"""Waits before the retries of a transient failure (read when a flow starts)."""

MODEL_TASKS = MODEL_STAGES
"""The stages whose results are reused across sessions with the same audio and settings."""

_progress: ContextVar[StageProgress | None] = ContextVar("session_progress", default=None)
"""A per-call progress callback (``run_session(progress=...)``); never a task parameter."""


def _stage_progress(stage: str) -> Callable[[float, float], None] | None:
    callback = _progress.get()
    return None if callback is None else partial(callback, stage)


class DecodedOnce:
    """The recording of one flow run, decoded by the first task that needs it and shared.

    The decode, transcribe and diarize tasks each need the samples; decoding
    them once (the others wait on the lock rather than decode a second copy
    at the same time) saves the decoding time of the two model tasks and
    keeps one copy in memory instead of two (docs/benchmarks.md).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str, float] | None = None
        self._audio: Audio | None = None

    def get(self, audio_path: str, sha256: str, max_duration_s: float) -> Audio:
        """The decoded recording (decoded now when no task of this run has)."""
        key = (audio_path, sha256, max_duration_s)
        with self._lock:
            if self._audio is None or self._key != key:
                self._audio = _decode_checked(audio_path, sha256, max_duration_s)
                self._key = key
            return self._audio


_decoded: ContextVar[DecodedOnce | None] = ContextVar("session_decoded", default=None)
"""Set by the session flow for its tasks (threads of this process); never a task parameter."""


def _decode(audio_path: str, sha256: str, max_duration_s: float) -> Audio:
    """The recording, decoded once per flow run when the flow shares it (:class:`DecodedOnce`)."""
    shared = _decoded.get()
    if shared is None:
        return _decode_checked(audio_path, sha256, max_duration_s)
    return shared.get(audio_path, sha256, max_duration_s)


def _decode_checked(audio_path: str, sha256: str, max_duration_s: float) -> Audio:
    """Decode the recording and check it is still the file the run started with."""
    audio = load_audio(audio_path, max_duration_s=max_duration_s)
    if audio.info.sha256 != sha256:
        raise AudioError(
            f"{Path(audio_path).name}: the file changed while it was being analyzed; run again"
        )
    return audio


# ----------------------------------------------------------------------------- tasks

_common: dict[str, Any] = {
    "retries": RETRIES,
    "retry_condition_fn": retry_transient,
    "persist_result": True,
    "result_serializer": "json",
}


@task(
    name="decode",
    task_run_name="decode-{sha256:.12}",
    cache_policy=ContentKey(
        ignore=("audio_path",), modules=("pipeline.audio",), packages=("av", "librosa")
    ),
    **_common,
)
def decode_audio(audio_path: str, *, sha256: str, max_duration_s: float) -> Record:
    """Decode and check the recording (raises ``AudioError`` for bad audio); return its facts."""
    audio = _decode(audio_path, sha256, max_duration_s)
    report = _stage_progress("decode")
    if report is not None:
        report(audio.duration_s, audio.duration_s)
    return records.to_record(audio.info)


@task(
    name="transcribe",
    task_run_name="transcribe-{sha256:.12}",
    cache_policy=ContentKey(
        ignore=("audio_path", "model", "cpu_threads", "max_duration_s"),
        modules=(
            "pipeline.audio",
            "pipeline.transcribe",
            "pipeline.blas_threads",
            "pipeline.channels",
            "pipeline.voicing",
            "pipeline.session",
            "pipeline.transcript_gaps",
            "pipeline.intervals",
        ),
        packages=("faster-whisper", "ctranslate2", "av"),
    ),
    **_common,
)
def transcribe_audio(
    audio_path: str,
    *,
    sha256: str,
    model: str,
    model_id: str,
    language: str | None,
    device: str,
    compute_type: str,
    cpu_threads: int,
    max_duration_s: float,
    counselor_channel: Channel | None = None,
    channels: ChannelsOption = "auto",
) -> Record:
    """Words with timings from faster-whisper (a stereo recording split by channel: per channel)."""
    audio = _decode(audio_path, sha256, max_duration_s)
    options = SpeechOptions(
        model=model,
        language=language,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        counselor_channel=counselor_channel,
        channels=channels,
    )
    progress = _progress.get() or _no_progress  # called with "transcribe"/"diarize"
    return records.to_record(transcribe_with(audio, options, progress=progress))


@task(
    name="diarize",
    task_run_name="diarize-{sha256:.12}",
    cache_policy=ContentKey(
        ignore=("audio_path", "pipeline_dir", "max_duration_s", "torch_threads"),
        modules=(
            "pipeline.audio",
            "pipeline.diarize",
            "pipeline.diarization_quality",
            "pipeline.narrowband",
            "pipeline.speaker_count",
            "pipeline.channels",
            "pipeline.voicing",
            "models.campplus",
        ),
        packages=("pyannote.audio", "torch", "av"),
    ),
    **_common,
)
def diarize_audio(
    audio_path: str,
    *,
    sha256: str,
    counselor_channel: Channel | None,
    channels: ChannelsOption,
    model_id: str,
    pipeline_dir: str | None,
    num_speakers: int | None,
    min_speakers: int | None,
    max_speakers: int | None,
    device: str,
    segmentation_step: float,
    segmentation_batch_size: int,
    embedding_batch_size: int,
    max_duration_s: float,
    torch_threads: int = 0,
) -> Record:
    """Who spoke when: pyannote, or channel energy (stereo, one party per channel: named or found).

    ``torch_threads`` > 0 caps torch's threads while this task runs (when it
    shares the cores with transcription); 0 leaves them as they are.
    """
    audio = _decode(audio_path, sha256, max_duration_s)
    options = SpeechOptions(
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
        pipeline_dir=pipeline_dir,
        device=device,
        segmentation_step=segmentation_step,
        segmentation_batch_size=segmentation_batch_size,
        embedding_batch_size=embedding_batch_size,
        counselor_channel=counselor_channel,
        channels=channels,
    )
    progress = _progress.get() or _no_progress  # called with "transcribe"/"diarize"
    with torch_thread_limit(torch_threads):
        result = diarize_with(audio, options, progress=progress)
    return records.to_record(result)


@task(
    name="fill-transcript",
    task_run_name="fill-transcript-{sha256:.12}",
    cache_policy=ContentKey(
        ignore=("audio_path", "max_duration_s"),
        modules=(
            "pipeline.audio",
            "pipeline.transcribe",
            "pipeline.session",
            "pipeline.transcript_gaps",
            "pipeline.intervals",
        ),
        packages=("faster-whisper", "ctranslate2", "av"),
    ),
    **_common,
)
def fill_transcript(
    audio_path: str,
    *,
    sha256: str,
    transcript: Record,
    diarization: Record,
    model_id: str,
    max_duration_s: float,
    whisper: Record,
) -> Record:
    """The transcript with the diarized speech that Whisper's VAD skipped transcribed too.

    ``whisper``: the transcription's :class:`SpeechOptions` fields (model,
    language, device, compute type, threads).
    """
    audio = _decode(audio_path, sha256, max_duration_s)
    filled = fill_transcript_gaps(
        audio,
        records.transcript(transcript),
        records.diarization(diarization),
        SpeechOptions(**whisper),
    )
    return records.to_record(filled)


def _no_progress(_stage: str, _done: float, _total: float) -> None:
    """No progress reporting."""


@task(
    name="enroll",
    task_run_name="enroll-{sha256:.12}",
    cache_policy=ContentKey(
        ignore=("audio_path", "enrollment_path", "max_duration_s"),
        modules=("pipeline.audio", "pipeline.enroll", "models.campplus"),
        packages=("torch", "av"),
    ),
    **_common,
)
def compare_enrollment(
    audio_path: str,
    *,
    sha256: str,
    diarization: Record,
    enrollment_path: str,
    enrollment_sha256: str,
    device: str,
    max_duration_s: float,
) -> dict[str, float]:
    """Similarity of each speaker's voice to the counselor's enrollment recording."""
    audio = _decode(audio_path, sha256, max_duration_s)
    found = records.diarization(diarization)
    return enrollment_similarities(
        audio, found.exclusive, found.speakers, enrollment_path, device=device
    )


@task(
    name="attribute",
    task_run_name="attribute-{sha256:.12}",
    cache_policy=ContentKey(modules=("pipeline.attribute",)),
    **_common,
)
def attribute_words(*, sha256: str, transcript: Record, diarization: Record) -> Record:
    """Give each word a speaker; split the transcript into one-speaker utterances."""
    _words, utterances = build_utterances(
        records.transcript(transcript), records.diarization(diarization).exclusive
    )
    return {"utterances": [asdict(u) for u in utterances]}


@task(
    name="score",
    task_run_name="score-{sha256:.12}",
    cache_policy=ContentKey(
        modules=(
            "pipeline.diarization_quality",
            "pipeline.transcript_gaps",
            "pipeline.intervals",
            "pipeline.roles",
            "pipeline.measures",
            "pipeline.evidence",
            "pipeline.metrics_config",
            "pipeline.document",
            "pipeline.session",
            "pipeline.norms",
            "pipeline.behaviour",
            "pipeline.mi_codes",
            "models.registry",
        ),
        files=(NORMS_PATH,),
    ),
    **_common,
)
def score_session(
    *,
    sha256: str,
    audio: Record,
    transcript: Record,
    diarization: Record,
    attributed: Record,
    settings: Record,
    similarities: dict[str, float] | None,
    counselor: str | None,
    counselor_first: bool,
) -> Record:
    """Roles → measures → evidence, as the ``session.json`` document."""
    options = SpeechOptions(**settings)
    utterances = records.utterances(attributed["utterances"])
    words = tuple(w for u in utterances for w in u.words)
    found = with_transcript_measure(records.diarization(diarization), words)
    result = SpeechResult(
        audio=records.audio_info(audio),
        transcript=records.transcript(transcript),
        diarization=found,
        words=words,
        utterances=utterances,
        options=options,
        enrollment_similarities=similarities,
    )
    hint = role_hint(
        counselor=counselor,
        counselor_first=counselor_first,
        counselor_channel=options.counselor_channel,
        similarities=similarities,
    )
    scored = score(
        found.turns,
        utterances,
        duration_s=result.audio.duration_s,
        hint=hint,
        warnings=found.warnings,
        quality=found.quality,
        language=result.transcript.language,
    )
    document: Record = json.loads(json.dumps(session_document(result, scored)))
    return document


OUTPUT_FILES = (SESSION_FILE, SRT_FILE, VTT_FILE, RTTM_FILE, HTML_FILE, MARKDOWN_FILE)


def _unchanged(document: Mapping[str, Any], out: Path) -> bool:
    """Whether ``out`` already holds every output of exactly this document."""
    if not all((out / name).is_file() for name in OUTPUT_FILES):
        return False
    try:
        existing = json.loads((out / SESSION_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(existing == document)


@task(
    name="report",
    task_run_name="report-{sha256:.12}",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=RETRIES,
    retry_condition_fn=retry_transient,
)
def write_report(*, sha256: str, document: Record, out_dir: str) -> Record:
    """Write session.json (last, atomically) and the reports; leave identical outputs untouched."""
    out = Path(out_dir)
    written = not _unchanged(document, out)
    if written:
        write_outputs(document, out)
    return {"session_json": str(out / SESSION_FILE), "written": written}


# ------------------------------------------------------------------------------ flow


@dataclass(frozen=True)
class ModelIds:
    """Resolved model identities: what the cache keys name instead of user-given paths."""

    whisper: str
    diarization: str
    device: str
    compute_type: str


def _local_fingerprint(resolved: ResolvedModel) -> str:
    """A local model's id plus the size and mtime of its files (hashing GBs per run is too slow)."""
    if resolved.source != "local":
        return resolved.id
    root = Path(resolved.path)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    stamp = ",".join(
        f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files
    )
    return f"{resolved.id}#{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"


def resolve_models(speech: SpeechOptions) -> ModelIds:
    """Resolve and verify the models ``speech`` names, and the device they will run on."""
    device = choose_device(speech.device)
    if speech.counselor_channel is not None or speech.channels == "split":
        diarization = CHANNEL_MODEL
    elif speech.pipeline_dir is not None:
        diarization = _local_fingerprint(resolve_pyannote_pipeline(speech.pipeline_dir))
    else:
        diarization = f"{resolve_segmentation().id}+{resolve_embedding().id}"
    return ModelIds(
        whisper=_local_fingerprint(resolve_whisper(speech.model)),
        diarization=diarization,
        device=device,
        compute_type=choose_compute_type(device, speech.compute_type),
    )


def _flow_run_name() -> str:
    parameters = flow_run.parameters
    name = parameters.get("session_id") or Path(str(parameters.get("out_dir", ""))).name
    return f"session-{name}"


class _Stages:
    """Runs tasks, records which were cache hits, and keeps status.json current."""

    def __init__(self, out_dir: str, sha256: str, *, status_file: bool) -> None:
        self.out_dir = out_dir
        self.sha256 = sha256
        self.status_file = status_file
        self.cached: list[str] = []
        self.computed: list[str] = []
        self.options: dict[str, Any] = {
            "result_storage": results_dir(),  # a Path: Prefect's LocalFileSystem there
            "retry_delay_seconds": list(RETRY_DELAYS_S),
        }

    def status(self, stage: Stage) -> None:
        if self.status_file:
            write_status(self.out_dir, stage, sha256=self.sha256)

    def run(self, fn: Any, **kwargs: Any) -> Any:
        configured = fn.with_options(**self.options) if fn is not write_report else fn
        # Stage results are plain data, never futures: spare Prefect walking every word in them.
        inputs = {k: quote(v) if isinstance(v, dict | list) else v for k, v in kwargs.items()}
        state: State[Any] = configured(**inputs, return_state=True)
        (self.cached if state.name == "Cached" else self.computed).append(fn.name)
        return state.result()

    def run_together(self, *calls: tuple[Any, dict[str, Any]]) -> list[Any]:
        """Run tasks at the same time (Prefect's thread pool); wait for all, then return
        their results in order, or raise the first failure once none is still running."""
        futures = []
        for fn, kwargs in calls:
            inputs = {k: quote(v) if isinstance(v, dict | list) else v for k, v in kwargs.items()}
            futures.append((fn, fn.with_options(**self.options).submit(**inputs)))
        for _, future in futures:
            future.wait()
        for fn, future in futures:
            state = future.state
            (self.cached if state.name == "Cached" else self.computed).append(fn.name)
        return [future.result() for _, future in futures]


@flow(name="analyze-session", flow_run_name=_flow_run_name, persist_result=False)
def analyze_session(
    audio_path: str,
    out_dir: str,
    *,
    speech: SpeechOptions = SpeechOptions(),
    counselor: str | None = None,
    counselor_first: bool = False,
    session_id: str | None = None,
    status_file: bool = True,
) -> dict[str, Any]:
    """Analyze one recording into ``out_dir`` (session.json, reports, status.json).

    Parameters
    ----------
    audio_path
        The recording; any format :func:`pipeline.audio.load_audio` reads.
    out_dir
        Receives the outputs; ``status.json`` is rewritten at every stage.
    speech
        Model settings (part of every cache key).
    counselor, counselor_first
        Role hints: the counselor's speaker label, or "the counselor speaks first".
    session_id
        Only names the flow run (``session-<id>``; default: the name of ``out_dir``).
    status_file
        Keep ``OUT_DIR/status.json`` current (off for the CLI, which writes nothing on bad input).
    """
    sha256: str | None = None
    shared_audio = _decoded.set(DecodedOnce())
    try:
        if not Path(audio_path).is_file():
            raise AudioError(f"{audio_path}: no such file")
        sha256 = file_sha256(audio_path)
        stages = _Stages(out_dir, sha256, status_file=status_file)
        stages.status("decoding")
        models = resolve_models(speech)
        limit = speech.max_duration_s
        info = stages.run(decode_audio, audio_path=audio_path, sha256=sha256, max_duration_s=limit)
        transcribe_args: dict[str, Any] = {
            "audio_path": audio_path,
            "sha256": sha256,
            "model": speech.model,
            "model_id": models.whisper,
            "language": speech.language,
            "device": models.device,
            "compute_type": models.compute_type,
            "cpu_threads": speech.cpu_threads,
            "max_duration_s": limit,
            "counselor_channel": speech.counselor_channel,
            "channels": speech.channels,
        }
        diarize_args: dict[str, Any] = {
            "audio_path": audio_path,
            "sha256": sha256,
            "counselor_channel": speech.counselor_channel,
            "channels": speech.channels,
            "model_id": models.diarization,
            "pipeline_dir": speech.pipeline_dir,
            "num_speakers": speech.num_speakers,
            "min_speakers": speech.min_speakers,
            "max_speakers": speech.max_speakers,
            "device": models.device,
            "segmentation_step": speech.segmentation_step,
            "segmentation_batch_size": speech.segmentation_batch_size,
            "embedding_batch_size": speech.embedding_batch_size,
            "max_duration_s": limit,
        }
        stages.status("transcribing")
        if models.device == "cpu":
            # Side by side, the cores shared (pipeline.session.split_cores): each stage
            # alone leaves cores idle; docs/benchmarks.md has the measured gain.
            whisper_threads, torch_threads = split_cores(speech.cpu_threads)
            transcript, diarization = stages.run_together(
                (transcribe_audio, {**transcribe_args, "cpu_threads": whisper_threads}),
                (diarize_audio, {**diarize_args, "torch_threads": torch_threads}),
            )
        else:
            transcript = stages.run(transcribe_audio, **transcribe_args)
            stages.status("diarizing")
            diarization = stages.run(diarize_audio, **diarize_args)
        similarities = None
        if speech.enrollment is not None:
            enrollment = speech.enrollment
            if not Path(enrollment).is_file():
                raise AudioError(f"{enrollment}: no such file (the enrollment recording)")
            similarities = stages.run(
                compare_enrollment,
                audio_path=audio_path,
                sha256=sha256,
                diarization=diarization,
                enrollment_path=enrollment,
                enrollment_sha256=file_sha256(enrollment),
                device=models.device,
                max_duration_s=limit,
            )
        whisper = ("model", "language", "device", "compute_type", "cpu_threads")
        transcript = stages.run(
            fill_transcript,
            audio_path=audio_path,
            sha256=sha256,
            transcript=transcript,
            diarization=diarization,
            model_id=models.whisper,
            max_duration_s=limit,
            whisper={name: transcribe_args[name] for name in whisper},
        )
        stages.status("scoring")
        attributed = stages.run(
            attribute_words, sha256=sha256, transcript=transcript, diarization=diarization
        )
        document = stages.run(
            score_session,
            sha256=sha256,
            audio={**info, "path": Path(audio_path).name},
            transcript=transcript,
            diarization=diarization,
            attributed=attributed,
            settings=asdict(speech),
            similarities=similarities,
            counselor=counselor,
            counselor_first=counselor_first,
        )
        written = stages.run(write_report, sha256=sha256, document=document, out_dir=out_dir)
        stages.status("done")
    except BaseException as error:
        if status_file:
            write_status(out_dir, "failed", error=one_line(error), sha256=sha256)
        raise
    finally:
        _decoded.reset(shared_audio)
    return {
        "status": "done",
        "error": None,
        "sha256": sha256,
        "client_led": document["evidence"]["client_led"],
        "session_json": written["session_json"],
        "duration_s": info["duration_s"],
        "cached": stages.cached,
        "computed": stages.computed,
    }


def failed_summary(out_dir: str | Path, error: BaseException | str | None) -> dict[str, Any]:
    """The summary of a session that did not finish (``status.json`` has the reason)."""
    status = read_status(out_dir) or {}
    message = status.get("error") if status.get("stage") == "failed" else None
    if message is None and error is not None:
        message = one_line(error)
    return {
        "status": "failed",
        "error": message or "the session did not finish",
        "sha256": status.get("session_sha256"),
        "client_led": None,
        "session_json": None,
        "duration_s": None,
        "cached": [],
        "computed": [],
    }


def summary_of(state: State[Any], out_dir: str | Path) -> dict[str, Any]:
    """The flow's summary when it completed, else :func:`failed_summary` with its error."""
    if state.is_completed():
        summary: dict[str, Any] = state.result()
        return summary
    outcome = state.result(raise_on_failure=False)
    return failed_summary(out_dir, outcome if isinstance(outcome, BaseException) else state.message)


@contextmanager
def local_run_settings() -> Iterator[None]:
    """No flow-run heartbeats when Prefect runs in its local ephemeral mode.

    Heartbeats let a server notice a crashed run; an ephemeral server dies with
    this process, so nothing would read them, and stopping the heartbeat thread
    costs up to a second per flow run. With a server configured they stay on.
    """
    strip_tracebacks_from_prefect_logs()
    api_url = get_current_settings().api.url
    own = own_local_server(api_url)
    if api_url and own is None:
        yield
        return
    if own is not None:
        own.wait_ready()  # started early by the CLI (flows.prefect_internals.start_local_server)
    elif not ephemeral_servers():
        check_loopback()
    stop_ephemeral_server_with_process()
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def run_session(
    audio_path: str | Path,
    out_dir: str | Path,
    *,
    speech: SpeechOptions = SpeechOptions(),
    counselor: str | None = None,
    counselor_first: bool = False,
    session_id: str | None = None,
    progress: StageProgress | None = None,
    status_file: bool = True,
    quiet: bool = False,
) -> dict[str, Any]:
    """Analyze one recording through the session flow; never raises for a bad recording.

    Returns ``{status: "done"|"failed", error, sha256, client_led, session_json,
    duration_s, cached, computed}`` (``cached``/``computed``: task names).

    Parameters
    ----------
    progress
        Called as ``progress(stage, done_s, total_s)`` while model stages run.
    status_file
        Write ``OUT_DIR/status.json`` (``queued`` first, then every stage).
    quiet
        No Prefect log lines on the console (a CLI that prints its own summary).
    """
    out = Path(out_dir)
    audio = Path(audio_path)
    if status_file:
        write_status(out, "queued", sha256=file_sha256(audio) if audio.is_file() else None)
    token = _progress.set(progress)
    try:
        with local_run_settings(), quiet_console() if quiet else nullcontext():
            state = analyze_session(
                str(audio),
                str(out),
                speech=speech,
                counselor=counselor,
                counselor_first=counselor_first,
                session_id=session_id,
                status_file=status_file,
                return_state=True,
            )
    finally:
        _progress.reset(token)
    return summary_of(state, out)
