"""Who spoke when: pyannote.audio's speaker diarization, fully offline.

The default pipeline is pyannote's ``SpeakerDiarization`` built from the
packaged segmentation-3.0 model and a CAM++ embedding adapter, with
agglomerative clustering (pyannote's community-1 PLDA is fit to a different
embedding and is not available offline, so VBx is not used). A user may pass
their own pyannote pipeline directory (``config.yaml`` with its models)
instead.

The result holds both pyannote outputs: the overlap-aware diarization (for
overlap and interruptions) and the exclusive one (for attributing words).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from models.campplus import CampplusEmbedding
from models.loaders import load_campplus, load_segmentation
from models.registry import resolve_embedding, resolve_pyannote_pipeline, resolve_segmentation
from pipeline.blas_threads import single_threaded_blas
from pipeline.diarization_quality import Artifacts, check_pyannote
from pipeline.errors import DiarizationError
from pipeline.narrowband import is_narrowband
from pipeline.speaker_count import speaker_count
from pipeline.transcribe import ProgressCallback, choose_device
from pipeline.types import SAMPLE_RATE_HZ, Audio, Diarization, Turn
from pipeline.voice_levels import level_measures, speaker_levels_db

# Defaults chosen by measurement (bench/bench_speech.py, docs/benchmarks.md): a 0.5
# step (5 s hop over 10 s windows) and batches of 32 run ~5x faster than
# pyannote's 0.1 step with batch 1, at nearly the same DER.
DEFAULT_SEGMENTATION_STEP = 0.5
DEFAULT_SEGMENTATION_BATCH_SIZE = 32
DEFAULT_EMBEDDING_BATCH_SIZE = 32

# Agglomerative clustering for CAM++ cosine distances. With a known speaker
# count (the default, 2) the threshold only matters for which small clusters
# are merged; with min/max bounds it decides how many speakers are found.
# 0.67 was measured with min 1 / max 4 speakers: it finds 2 speakers in the
# real sample call and in both 2-voice dialogues and 3 in the 3-voice one
# (0.60-0.62 split the sample call into 4; 0.70 merged the 3 voices into 2).
DEFAULT_PARAMETERS: dict[str, Any] = {
    "segmentation": {"min_duration_off": 0.0},
    "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.67},
}


def _offline_pipeline_class() -> type:
    from pyannote.audio.core.inference import Inference
    from pyannote.audio.pipelines.clustering import Clustering
    from pyannote.audio.pipelines.speaker_diarization import SpeakerDiarization
    from pyannote.pipeline.parameter import ParamDict, Uniform

    class OfflineSpeakerDiarization(SpeakerDiarization):
        """``SpeakerDiarization`` wired to local models, never asking for a PLDA.

        pyannote's constructor always resolves a PLDA and an embedding by
        name, which reaches for the hub; this sets up the same attributes from
        already-loaded objects instead.
        """

        def __init__(
            self,
            *,
            segmentation: Any,
            embedding: CampplusEmbedding,
            segmentation_step: float,
            segmentation_batch_size: int,
            embedding_batch_size: int,
        ) -> None:
            # skip SpeakerDiarization's hub-bound constructor
            super(SpeakerDiarization, self).__init__()  # type: ignore[no-untyped-call]
            self.legacy = False
            self.segmentation_model = "pyannote/segmentation-3.0"
            self.segmentation_step = segmentation_step
            self.embedding = "campplus"
            self.embedding_batch_size = embedding_batch_size
            self.embedding_exclude_overlap = True
            self.plda = None  # type: ignore[assignment]
            self._plda = None
            self.klustering = "AgglomerativeClustering"
            self.der_variant = {"collar": 0.0, "skip_overlap": False}
            duration = segmentation.specifications.duration
            self._segmentation = Inference(
                segmentation,
                duration=duration,
                step=segmentation_step * duration,
                skip_aggregation=True,
                batch_size=segmentation_batch_size,
            )
            self.segmentation = ParamDict(min_duration_off=Uniform(0.0, 1.0))
            self._embedding = embedding
            from pyannote.audio.core.io import Audio as PyannoteAudio

            self._audio = PyannoteAudio(sample_rate=embedding.sample_rate, mono="downmix")
            self.clustering = Clustering.AgglomerativeClustering.value(metric=embedding.metric)
            self._expects_num_speakers = self.clustering.expects_num_clusters

        # True: ties between segmentation windows count as fewer speakers, not
        # as overlap (pipeline/speaker_count.py); False: pyannote's rint
        round_count_ties_down = False

        def speaker_count(  # type: ignore[override]
            self, binarized: Any, frames: Any, warm_up: tuple[float, float] = (0.1, 0.1)
        ) -> Any:
            if not self.round_count_ties_down:
                return SpeakerDiarization.speaker_count(binarized, frames, warm_up=warm_up)
            return speaker_count(binarized, frames, warm_up=warm_up)

    return OfflineSpeakerDiarization


@functools.lru_cache(maxsize=4)
def _default_pipeline(
    device: str,
    segmentation_step: float,
    segmentation_batch_size: int,
    embedding_batch_size: int,
    count_ties_down: bool = False,
) -> Any:
    pipeline = _offline_pipeline_class()(
        segmentation=load_segmentation(device),
        embedding=CampplusEmbedding(load_campplus(device), device=device),
        segmentation_step=segmentation_step,
        segmentation_batch_size=segmentation_batch_size,
        embedding_batch_size=embedding_batch_size,
    )
    pipeline.round_count_ties_down = count_ties_down
    return pipeline.instantiate(DEFAULT_PARAMETERS)


@functools.lru_cache(maxsize=2)
def _user_pipeline(directory: str, device: str) -> Any:
    from pyannote.audio import Pipeline

    resolved = resolve_pyannote_pipeline(directory)
    pipeline = Pipeline.from_pretrained(resolved.path)
    if pipeline is None:
        raise DiarizationError(f"pyannote could not load the pipeline in {resolved.path}")
    return pipeline.to(torch.device(device))


def _turns(annotation: Any) -> tuple[Turn, ...]:
    turns = [
        Turn(start=round(float(s.start), 3), end=round(float(s.end), 3), speaker=str(label))
        for s, _, label in annotation.itertracks(yield_label=True)
    ]
    return tuple(sorted(turns, key=lambda t: (t.start, t.end, t.speaker)))


def _progress_hook(progress: ProgressCallback, duration_s: float) -> Callable[..., None]:
    """Map pyannote's ``hook(step, artifact, completed=, total=)`` calls to seconds done."""
    weights = {"segmentation": (0.0, 0.2), "embeddings": (0.2, 0.95)}

    def hook(
        step_name: str,
        _artifact: Any,
        *,
        completed: int | None = None,
        total: int | None = None,
        **_: Any,
    ) -> None:
        if step_name in weights and completed is not None and total:
            low, high = weights[step_name]
            progress(duration_s * (low + (high - low) * completed / total), duration_s)

    return hook


def diarize(
    audio: Audio,
    *,
    num_speakers: int | None = 2,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    pipeline_dir: str | None = None,
    device: str = "auto",
    segmentation_step: float = DEFAULT_SEGMENTATION_STEP,
    segmentation_batch_size: int = DEFAULT_SEGMENTATION_BATCH_SIZE,
    embedding_batch_size: int = DEFAULT_EMBEDDING_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    count_ties_down: bool | None = None,
) -> Diarization:
    """Diarize a decoded recording.

    Parameters
    ----------
    num_speakers
        Known number of speakers (2 for a counseling session). Pass ``None``
        and use ``min_speakers``/``max_speakers`` to let clustering decide.
    pipeline_dir
        A user's own pyannote pipeline directory (e.g. speaker-diarization-community-1).
    segmentation_step
        Hop between 10 s segmentation windows, as a fraction of the window.
    segmentation_batch_size, embedding_batch_size
        Inference batch sizes; larger is faster up to memory limits.
    count_ties_down
        Count a frame where the segmentation windows tie (e.g. one hears one
        speaker, the other two) as the smaller number of speakers rather than
        pyannote's round-half-to-even. ``None`` (default) does so for
        telephone-band recordings only (:func:`pipeline.narrowband.is_narrowband`),
        where it removes spurious overlap; on wideband meetings pyannote's
        rounding keeps more of the real overlap (docs/benchmarks.md).
    """
    single_threaded_blas()
    chosen_device = choose_device(device)
    if pipeline_dir is not None:
        pipeline = _user_pipeline(pipeline_dir, chosen_device)
        model_id = resolve_pyannote_pipeline(pipeline_dir).id
    else:
        if count_ties_down is None:
            count_ties_down = is_narrowband(audio.samples)
        pipeline = _default_pipeline(
            chosen_device,
            segmentation_step,
            segmentation_batch_size,
            embedding_batch_size,
            count_ties_down,
        )
        model_id = f"{resolve_segmentation().id}+{resolve_embedding().id}"
    waveform = torch.from_numpy(np.ascontiguousarray(audio.samples))[None]
    hook = _progress_hook(progress, audio.duration_s) if progress is not None else None
    # the quality check re-clusters the embeddings the pipeline hands its hook
    artifacts = Artifacts(progress=hook)
    options: dict[str, Any] = {"hook": artifacts.hook}
    if num_speakers is not None:
        options["num_speakers"] = num_speakers
    else:
        options.update(min_speakers=min_speakers, max_speakers=max_speakers)
    with warnings.catch_warnings():
        # pyannote warns (on stderr) when it finds fewer speakers than asked for;
        # the roles stage reports that in the session's own warnings instead.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pyannote\..*")
        output = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE_HZ}, **options)
    if progress is not None:
        progress(audio.duration_s, audio.duration_s)
    turns = _turns(output.speaker_diarization)
    if not turns:
        raise DiarizationError("no speech was found in the recording")
    exclusive = _turns(output.exclusive_speaker_diarization)
    checked = check_pyannote(
        pipeline,
        artifacts,
        num_speakers=num_speakers,
        min_speakers=min_speakers,
        max_speakers=max_speakers,
    )
    if checked is None:
        return Diarization(turns=turns, exclusive=exclusive, model=model_id)
    quality, replacement = checked
    if replacement is not None:
        turns, exclusive = replacement
    # how loud each voice is: a far quieter one is undercounted (pipeline.voice_levels)
    levels = level_measures(speaker_levels_db(audio.samples, exclusive))
    quality = replace(quality, measures={**quality.measures, **levels})
    return Diarization(
        turns=turns,
        exclusive=exclusive,
        model=model_id,
        warnings=quality.cues if quality.level != "good" else (),
        quality=quality,
    )
