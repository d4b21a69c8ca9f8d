"""Analyze an uploaded recording again with other choices, and the "who speaks" choice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import FIXTURES, User, files_under, make_app
from tests.web.fake_analysis import fake_runner
from web.models import Recording
from web.processing import Job, Result
from web.settings import Settings
from web.uploads import ReceivedForm, UploadError

WAV = FIXTURES / "dialogue_client_led.wav"
SAMPLE = FIXTURES / "enroll_counselor.wav"


class Runs:
    """The fake analysis, keeping every job it was given (and failing when told to)."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.fail = False

    def __call__(self, job: Job) -> Result:
        self.jobs.append(job)
        if self.fail:
            return {"status": "failed", "error": "decoder crashed", "sha256": None}
        return fake_runner(job)


@pytest.fixture
def runs() -> Runs:
    return Runs()


@pytest.fixture
def app_with_runs(settings: Settings, runs: Runs) -> Iterator[FastAPI]:
    app = make_app(settings, runner=runs)
    with TestClient(app):
        yield app


def _row(app: FastAPI, public_id: str) -> Recording:
    with app.state.db.session() as db:
        recording: Recording | None = db.scalar(
            select(Recording).where(Recording.public_id == public_id)
        )
        assert recording is not None
        return recording


def _again(
    user: User,
    public_id: str,
    fields: dict[str, str],
    *,
    files: dict[str, tuple[str, bytes]] | None = None,
    json: bool = False,
) -> Any:
    """Post the form as a browser does (multipart, an empty file field when none is chosen)."""
    return user.client.post(
        f"/sessions/{public_id}/analyze-again",
        data={"csrf_token": user.csrf} | fields,
        files=files or {"enrollment": ("", b"")},
        follow_redirects=False,
        headers={"accept": "application/json"} if json else {},
    )


def test_the_upload_passes_who_speaks_to_the_analysis(app_with_runs: FastAPI, runs: Runs) -> None:
    alice = User(app_with_runs, "alice")
    page = alice.client.get("/upload").text
    assert 'name="speakers" value="2" checked' in page and 'name="speakers" value="2-3"' in page
    alice.upload_done(fields={"speakers": "2-3"})
    speech = runs.jobs[-1].speech
    assert (speech["num_speakers"], speech["min_speakers"], speech["max_speakers"]) == (None, 2, 3)
    other = FIXTURES / "dialogue_counselor_led.wav"
    alice.upload_done(other)
    assert "max_speakers" not in runs.jobs[-1].speech  # the default: SpeechOptions' two speakers
    refused = alice.upload(other, fields={"speakers": "4"})
    assert refused.status_code == 400 and "unknown speakers setting" in refused.json()["error"]


def test_the_report_offers_to_analyze_again_and_the_new_choices_run(
    app_with_runs: FastAPI, runs: Runs, settings: Settings
) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    page = alice.client.get(f"/sessions/{public_id}").text
    assert "Client-led: inconclusive" in page
    assert '<details class="card again" id="analyze-again">' in page
    assert f'action="/sessions/{public_id}/analyze-again"' in page
    assert (
        'name="speakers" value="2" checked' in page and 'name="hint" value="auto" checked' in page
    )
    response = _again(alice, public_id, {"hint": "first", "channels": "auto", "speakers": "2-3"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/sessions/{public_id}"
    job = runs.jobs[-1]
    assert job.counselor_first and job.speech["max_speakers"] == 3
    assert job.speech["min_speakers"] == 2 and job.speech["num_speakers"] is None
    row = _row(app_with_runs, public_id)
    assert (row.status, row.hint, row.speakers) == ("done", "first", "2-3")
    page = alice.client.get(f"/sessions/{public_id}").text
    assert (
        'name="speakers" value="2-3" checked' in page
        and 'name="hint" value="first" checked' in page
    )
    assert len(list((settings.data_dir / "sessions").iterdir())) == 1  # the same session


def test_a_voice_sample_given_later_is_stored_replaced_and_reused(
    app_with_runs: FastAPI, runs: Runs, settings: Settings
) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    missing = _again(alice, public_id, {"hint": "enrollment"}, json=True)
    assert missing.status_code == 400
    assert "voice sample" in missing.json()["error"]
    sample = {"enrollment": ("me.wav", SAMPLE.read_bytes())}
    given = _again(alice, public_id, {"hint": "enrollment"}, files=sample, json=True)
    assert given.status_code == 202
    assert given.json()["status_url"] == f"/api/sessions/{public_id}"
    stored = Path(runs.jobs[-1].speech["enrollment"])
    assert stored.name == "enrollment.wav" and stored.read_bytes() == SAMPLE.read_bytes()
    page = alice.client.get(f"/sessions/{public_id}").text
    assert "a sample is stored" in page
    reused = _again(alice, public_id, {"hint": "enrollment", "speakers": "2-3"})
    assert reused.status_code == 303
    assert Path(runs.jobs[-1].speech["enrollment"]) == stored
    not_audio = {"enrollment": ("me.wav", b"not audio at all" * 100)}
    refused = _again(alice, public_id, {"hint": "enrollment"}, files=not_audio, json=True)
    assert refused.status_code == 415 and "voice sample me.wav" in refused.json()["error"]
    assert Path(runs.jobs[-1].speech["enrollment"]).read_bytes() == SAMPLE.read_bytes()
    uploads = settings.data_dir / "sessions" / public_id
    assert len([p for p in files_under(uploads) if p.name.startswith("enrollment.")]) == 1
    assert files_under(settings.data_dir / "tmp") == []


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"hint": "left"}, 400, "needs a stereo recording"),
        ({"channels": "split"}, 400, "one person per channel needs a two-channel recording"),
        ({"speakers": "3"}, 400, "unknown speakers setting"),
        ({"hint": "right", "channels": "mix"}, 400, "cannot go with mixing the channels"),
        ({"channels": "split", "speakers": "2-3"}, 400, "a third voice cannot be set apart"),
    ],
)
def test_choices_the_recording_cannot_take_are_refused_and_change_nothing(
    app_with_runs: FastAPI, runs: Runs, fields: dict[str, str], status: int, message: str
) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    response = _again(alice, public_id, fields, json=True)
    assert response.status_code == status
    assert message in response.json()["error"]
    row = _row(app_with_runs, public_id)
    assert (row.status, row.hint, row.channel_mode, row.speakers) == ("done", "auto", "auto", "2")
    assert len(runs.jobs) == 1


def test_without_the_form_token_or_for_another_user_nothing_happens(
    app_with_runs: FastAPI, runs: Runs
) -> None:
    alice, bob = User(app_with_runs, "alice"), User(app_with_runs, "bob")
    public_id = alice.upload_done()
    forged = alice.client.post(
        f"/sessions/{public_id}/analyze-again",
        data={"speakers": "2-3"},
        files={"enrollment": ("", b"")},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert (
        bob.client.post(
            f"/sessions/{public_id}/analyze-again",
            data={"csrf_token": bob.csrf, "speakers": "2-3"},
            files={"enrollment": ("", b"")},
        ).status_code
        == 404
    )
    assert _row(app_with_runs, public_id).speakers == "2" and len(runs.jobs) == 1


def test_a_failed_new_analysis_shows_nothing_of_the_old_one_and_offers_the_choices(
    app_with_runs: FastAPI, runs: Runs, settings: Settings
) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    assert alice.client.get(f"/api/sessions/{public_id}").json()["client_share"] is not None
    runs.fail = True
    _again(alice, public_id, {"speakers": "2-3"})
    state = alice.client.get(f"/api/sessions/{public_id}").json()
    assert state["status"] == "failed" and "decoder crashed" in state["error"]
    assert state["client_share"] is None and state["client_led"] is None
    assert state["speakers"] == "2-3"
    out = settings.data_dir / "sessions" / public_id / "out"
    assert not (out / "session.json").exists() and not (out / "report.html").exists()
    for name in ("measures.csv", "session.json", "report.html"):
        assert alice.client.get(f"/sessions/{public_id}/download/{name}").status_code == 404
    page = alice.client.get(f"/sessions/{public_id}").text
    assert "The analysis failed" in page and 'id="talk-time"' not in page
    # the choices can be changed from the failed session's page, not only retried
    assert '<details class="card again" id="analyze-again" open>' in page
    assert 'name="speakers" value="2-3" checked' in page
    runs.fail = False
    assert _again(alice, public_id, {"speakers": "2"}).status_code == 303
    assert alice.client.get(f"/api/sessions/{public_id}").json()["status"] == "done"


def test_a_field_left_out_keeps_the_session_s_choice(app_with_runs: FastAPI, runs: Runs) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done(fields={"hint": "first"})
    response = alice.client.post(
        f"/api/sessions/{public_id}/analyze-again",
        data={"csrf_token": alice.csrf, "speakers": "2-3"},
        files={"enrollment": ("", b"")},
    )
    assert response.status_code == 202
    assert runs.jobs[-1].counselor_first and runs.jobs[-1].speech["max_speakers"] == 3
    assert (_row(app_with_runs, public_id).hint, _row(app_with_runs, public_id).speakers) == (
        "first",
        "2-3",
    )


def test_a_form_without_its_token_and_without_a_file_is_refused(
    app_with_runs: FastAPI, runs: Runs
) -> None:
    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    # multipart with text fields only: the token is checked after the body, not before a file
    body = b'--b\r\ncontent-disposition: form-data; name="speakers"\r\n\r\n2-3\r\n--b--\r\n'
    response = alice.client.post(
        f"/sessions/{public_id}/analyze-again",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 403
    assert len(runs.jobs) == 1 and _row(app_with_runs, public_id).speakers == "2"


def test_two_requests_at_once_queue_the_session_once(
    app_with_runs: FastAPI, runs: Runs, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.routes.upload as upload_routes
    from web.models import User as UserRow

    alice = User(app_with_runs, "alice")
    public_id = alice.upload_done()
    checked = upload_routes._requeueable

    def another_request_claims_it_meanwhile(*args: Any) -> Recording:
        recording = checked(*args)  # this request has seen the session "done"...
        with app_with_runs.state.db.session() as other:  # ...and another one queues it now
            row = other.scalar(select(Recording).where(Recording.public_id == public_id))
            assert row is not None
            row.status = "queued"
        return recording

    monkeypatch.setattr(upload_routes, "_requeueable", another_request_claims_it_meanwhile)
    with app_with_runs.state.db.session() as db:
        owner = db.scalar(select(UserRow).where(UserRow.username == "alice"))
    assert owner is not None
    out = settings.data_dir / "sessions" / public_id / "out"
    with pytest.raises(UploadError) as refused:
        upload_routes._requeue(
            database=app_with_runs.state.db,
            storage=app_with_runs.state.storage,
            user=owner,
            public_id=public_id,
            form=ReceivedForm(fields={"speakers": "2-3"}),
        )
    assert refused.value.status_code == 409
    assert (out / "session.json").exists()  # the other request's run owns the folder now
    assert _row(app_with_runs, public_id).speakers == "2" and len(runs.jobs) == 1


def test_the_web_choices_are_the_pipeline_s() -> None:
    from pipeline.session import SPEAKERS_OPTIONS, speaker_bounds
    from web.models import SPEAKERS
    from web.recordings import speech_options

    assert SPEAKERS_OPTIONS == SPEAKERS
    for choice in SPEAKERS_OPTIONS:
        recording = Recording(hint="auto", channel_mode="auto", speakers=choice, public_id="x")
        options = speech_options(Settings(), recording, None)  # type: ignore[arg-type]
        wanted = speaker_bounds(choice)
        assert {k: options.get(k, wanted[k] if choice == "2" else None) for k in wanted} == wanted


def test_a_session_is_claimed_for_a_new_analysis_once(app_with_runs: FastAPI) -> None:
    from web.recordings import claim_for_analysis

    alice = User(app_with_runs, "alice")
    public_id = alice.upload(FIXTURES / "silence.wav").json()["id"]  # fails: silent
    with app_with_runs.state.db.session() as db:
        row = db.scalar(select(Recording).where(Recording.public_id == public_id))
        assert row is not None and row.status == "failed"
        assert claim_for_analysis(db, row, from_status=("failed",)) is True
        assert row.status == "queued"
        assert claim_for_analysis(db, row, from_status=("failed",)) is False
        assert claim_for_analysis(db, row, from_status=("done", "failed")) is False
