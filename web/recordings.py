"""Recordings in the database: who may see which, creating, finishing, correcting, deleting.

Every query for a user goes through :func:`visible`, so a supervisor can only
ever reach their own recordings (an admin reaches all). A recording that is not
visible is reported exactly like one that does not exist.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from web.models import Recording, User, utcnow
from web.processing import SESSION_FILE, Job, Result, purge_cached_results
from web.settings import Settings
from web.storage import Storage

log = logging.getLogger(__name__)

FINAL_STATUSES = ("done", "failed")
_TEXT_KEYS = ("text",)


class NotFoundError(LookupError):
    """No such recording for this user."""


@dataclass(frozen=True)
class Filters:
    """What the list of recordings is narrowed to."""

    trainee: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    verdict: str = ""
    status: str = ""
    owner: str = ""
    """Admins only: a username."""


def visible(query: Select[Any], user: User) -> Select[Any]:
    """Restrict a recordings query to what ``user`` may see."""
    return query if user.is_admin else query.where(Recording.owner_id == user.id)


def get_visible(db: Session, user: User, public_id: str) -> Recording:
    """The recording with this public id if ``user`` may see it; else :class:`NotFoundError`."""
    query = visible(select(Recording), user).where(Recording.public_id == public_id)
    recording: Recording | None = db.scalar(query)
    if recording is None:
        raise NotFoundError(public_id)
    return recording


def list_visible(
    db: Session, user: User, filters: Filters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Recording], int]:
    """One page of the user's recordings, newest session first, and the total count."""
    query = visible(select(Recording), user)
    if filters.trainee:
        query = query.where(Recording.trainee == filters.trainee)
    if filters.date_from:
        query = query.where(Recording.session_date >= filters.date_from)
    if filters.date_to:
        query = query.where(Recording.session_date <= filters.date_to)
    if filters.verdict:
        query = query.where(Recording.verdict == filters.verdict)
    if filters.status:
        status = "queued" if filters.status == "running" else filters.status
        query = query.where(Recording.status == status)
    if filters.owner and user.is_admin:
        query = query.join(User, Recording.owner_id == User.id).where(
            User.username == filters.owner
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Recording.session_date.desc().nulls_last(), Recording.created_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def trainees(db: Session, user: User) -> list[str]:
    """Trainee names of the user's recordings, for the filter menu."""
    query = visible(select(Recording.trainee).distinct(), user).where(Recording.trainee != "")
    return sorted(db.scalars(query))


def trainee_summary(db: Session, user: User) -> list[dict[str, Any]]:
    """Per trainee: sessions, verdict counts, mean measures and the client-share trend."""
    recordings = db.scalars(
        visible(select(Recording), user).order_by(
            Recording.session_date.asc().nulls_first(), Recording.created_at.asc()
        )
    )
    groups: dict[str, list[Recording]] = {}
    for recording in recordings:
        groups.setdefault(recording.trainee, []).append(recording)
    summary = []
    for trainee, items in sorted(groups.items(), key=lambda kv: kv[0].lower()):
        done = [r for r in items if r.status == "done"]
        summary.append(
            {
                "trainee": trainee,
                "sessions": len(items),
                "done": len(done),
                "running": sum(r.status == "queued" for r in items),
                "failed": sum(r.status == "failed" for r in items),
                "verdicts": {v: sum(r.verdict == v for r in done) for v in VERDICT_ORDER},
                "client_share": _mean([r.client_share for r in done]),
                "interruptions": _mean([r.counselor_interruptions_per_10min for r in done]),
                "monologue_s": _mean([r.longest_counselor_monologue_s for r in done]),
                "trend": [r.client_share for r in done if r.client_share is not None],
                "last_date": max((r.session_date for r in items if r.session_date), default=None),
            }
        )
    return summary


VERDICT_ORDER = ("yes", "no", "inconclusive")


def _mean(values: Sequence[float | None]) -> float | None:
    numbers = [v for v in values if v is not None]
    return sum(numbers) / len(numbers) if numbers else None


def find_duplicate(db: Session, user: User, sha256: str) -> Recording | None:
    """The user's earlier upload of the same bytes, if any."""
    return db.scalar(
        select(Recording).where(Recording.owner_id == user.id, Recording.sha256 == sha256)
    )


# ------------------------------------------------------------------- analysis


def speech_options(settings: Settings, recording: Recording, storage: Storage) -> dict[str, Any]:
    """``SpeechOptions`` keyword arguments for this recording and the app's settings."""
    options: dict[str, Any] = {
        "model": settings.model,
        "language": settings.language,
        "device": settings.device,
        "cpu_threads": settings.cpu_threads,
    }
    if recording.channel_mode != "auto":
        options["channels"] = recording.channel_mode
    if recording.speakers == "2-3":  # the two parties and perhaps one more voice
        options.update(num_speakers=None, min_speakers=2, max_speakers=3)
    if recording.hint in ("left", "right"):
        options["counselor_channel"] = recording.hint
    if recording.hint == "enrollment":
        sample = next(storage.upload_dir(recording.public_id).glob("enrollment.*"), None)
        if sample is not None:
            options["enrollment"] = str(sample)
    return options


def job_for(settings: Settings, recording: Recording, storage: Storage) -> Job:
    """The analysis job of a recording."""
    return Job(
        public_id=recording.public_id,
        audio_path=str(storage.upload_dir(recording.public_id) / recording.audio_file),
        out_dir=str(storage.out_dir(recording.public_id)),
        speech=speech_options(settings, recording, storage),
        counselor_first=recording.hint == "first",
        mode=settings.processing,
    )


def measures_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without any transcript text: what retention keeps.

    Words and utterances go; so does the text of every counted question,
    reflection, advice cue and backchannel. Segments (who spoke when),
    measures, evidence and roles stay.
    """
    kept = {k: copy.deepcopy(v) for k, v in document.items() if k not in ("words", "utterances")}
    kept["words"], kept["utterances"] = [], []
    metrics = kept.get("metrics") or {}
    for value in metrics.values():
        if isinstance(value, dict):
            for key in ("items", "events"):
                for item in value.get(key) or []:
                    if isinstance(item, dict):
                        item.pop("text", None)
    kept["transcript_removed"] = True
    return kept


def apply_document(recording: Recording, document: Mapping[str, Any]) -> None:
    """Copy the summary measures of a (re)scored document into the recording."""
    metrics = document.get("metrics") or {}
    evidence = document.get("evidence") or {}
    roles = document.get("roles") or {}
    criteria = {c.get("name"): c.get("value") for c in evidence.get("criteria") or []}
    recording.verdict = evidence.get("client_led")
    recording.duration_s = (document.get("audio") or {}).get("duration_s")
    recording.client_share = (metrics.get("client") or {}).get("share")
    recording.counselor_interruptions_per_10min = (metrics.get("interruptions") or {}).get(
        "counselor_interrupts_client_per_10min"
    )
    recording.longest_counselor_monologue_s = metrics.get("longest_counselor_monologue_s")
    recording.reflection_to_question_ratio = criteria.get(
        "reflection_to_question_ratio", metrics.get("reflection_to_question_ratio")
    )
    recording.role_method = roles.get("method")
    recording.role_confidence = roles.get("confidence")
    recording.measures = json.dumps(measures_document(document), ensure_ascii=False)
    recording.updated_at = utcnow()


def claim_for_analysis(db: Session, recording: Recording, *, from_status: Sequence[str]) -> bool:
    """Queue ``recording`` again if its status is one of ``from_status``, in one conditional
    update, so that of two requests at once only one queues it; the row is reloaded."""
    claimed = db.execute(
        update(Recording)
        .where(Recording.id == recording.id, Recording.status.in_(tuple(from_status)))
        .values(status="queued")
    )
    db.refresh(recording)
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def clear_summary(recording: Recording) -> None:
    """Forget the summary measures of the last analysis (before analyzing again), so that
    no list, filter or download shows them as the new analysis' while it runs or if it fails."""
    recording.verdict = recording.client_share = None
    recording.counselor_interruptions_per_10min = None
    recording.longest_counselor_monologue_s = recording.reflection_to_question_ratio = None
    recording.role_method = recording.role_confidence = recording.measures = None


def finish(
    db: Session, storage: Storage, settings: Settings, public_id: str, result: Result
) -> None:
    """Record the end of an analysis; with ``retention=measures`` delete audio and transcript."""
    recording = db.scalar(select(Recording).where(Recording.public_id == public_id))
    if recording is None:  # deleted while it was being analyzed: remove what it wrote since
        storage.remove_session(public_id)
        sha256 = result.get("sha256")
        if isinstance(sha256, str) and not _sha256_in_use(db, sha256):
            purge_cached_results(sha256, storage.root)
        return
    now = utcnow()
    recording.finished_at = recording.updated_at = now
    session_json = storage.out_dir(public_id) / SESSION_FILE
    if result.get("status") != "done" or not session_json.is_file():
        recording.status = "failed"
        error = str(result.get("error") or "the analysis failed")
        if error.startswith(f"{recording.audio_file}: "):  # name the file as the user knows it
            error = recording.original_name + error[len(recording.audio_file) :]
        recording.error = error[:2000]
        return
    document = json.loads(session_json.read_text("utf-8"))
    apply_document(recording, document)
    recording.status, recording.error = "done", None
    if settings.retention == "measures":
        storage.remove_session(public_id)
        purge_cached_results(recording.sha256, storage.root)
        recording.audio_deleted = True


def read_document(storage: Storage, recording: Recording) -> dict[str, Any] | None:
    """The full session.json, or ``None`` after retention removed it."""
    path = storage.out_dir(recording.public_id) / SESSION_FILE
    if recording.status != "done" or not path.is_file():
        return None
    document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return document


def stored_measures(recording: Recording) -> dict[str, Any] | None:
    """The measures-only document kept in the database."""
    if not recording.measures:
        return None
    document: dict[str, Any] = json.loads(recording.measures)
    return document


def audio_path(storage: Storage, recording: Recording) -> Path | None:
    """The stored recording, if it still exists."""
    if recording.audio_deleted:
        return None
    path = storage.upload_dir(recording.public_id) / recording.audio_file
    return path if path.is_file() else None


def _sha256_in_use(db: Session, sha256: str, *, besides: int | None = None) -> bool:
    query = select(func.count()).select_from(Recording).where(Recording.sha256 == sha256)
    if besides is not None:
        query = query.where(Recording.id != besides)
    return bool(db.scalar(query))


def remove_orphans(db: Session, storage: Storage) -> list[str]:
    """Delete session folders without a recording (left by a deletion during a shutdown)."""
    removed = []
    for folder in storage.session_folders():
        if not db.scalar(select(Recording.id).where(Recording.public_id == folder.name)):
            storage.remove_session(folder.name)
            removed.append(folder.name)
    return removed


def delete(db: Session, storage: Storage, recording: Recording) -> None:
    """Remove the recording: its audio, every derived file, cached results and its row.

    Results the flows cached under the audio's sha256 go too, unless another
    recording (another user's upload of the same bytes) still needs them.
    """
    storage.remove_session(recording.public_id)
    if not _sha256_in_use(db, recording.sha256, besides=recording.id):
        purge_cached_results(recording.sha256, storage.root)
    db.delete(recording)
