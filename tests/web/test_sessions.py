"""What a supervisor does: upload, follow, read, correct, download, list, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.conftest import FIXTURES, User, api_token_in, files_under, make_app
from web.models import Recording
from web.processing import Job, write_status
from web.settings import Settings

WAV = FIXTURES / "dialogue_client_led.wav"


def test_upload_analyze_and_read_the_report(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    response = alice.upload(WAV, fields={"trainee": "Alex Kim", "session_date": "2025-03-01"})
    assert response.status_code == 201
    body = response.json()
    assert body["duplicate"] is False and body["url"] == f"/sessions/{body['id']}"
    state = alice.client.get(body["status_url"]).json()
    assert state["status"] == "done" and state["client_led"] == "inconclusive"
    assert state["trainee"] == "Alex Kim" and state["session_date"] == "2025-03-01"
    assert state["client_share"] == pytest.approx(0.66, abs=0.05)
    page = alice.client.get(body["url"]).text
    assert 'id="talk-time"' in page and 'id="timeline"' in page and 'id="transcript"' in page
    assert (
        f'<audio id="player" controls preload="metadata" src="/sessions/{body["id"]}/audio">'
        in page
    )
    assert 'data-start="' in page and "What brings you here today?" in page
    assert "Client-led: inconclusive" in page
    assert "dialogue_client_led.wav" in page  # the name as uploaded, not as stored


def test_a_form_post_without_javascript_redirects_to_the_session(
    make_user: Callable[..., User],
) -> None:
    alice = make_user("alice")
    response = alice.client.post(
        "/sessions",
        data={"csrf_token": alice.csrf, "hint": "auto"},
        files={"recording": ("a.wav", WAV.read_bytes())},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sessions/")


def test_the_same_recording_twice_links_to_the_first_session(
    make_user: Callable[..., User], settings: Settings
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    first = alice.upload_done()
    again = alice.upload(WAV, name="renamed copy.wav")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first
    assert "uploaded this recording before" in again.json()["message"]
    assert len(list((settings.data_dir / "sessions").iterdir())) == 1
    assert files_under(settings.data_dir / "tmp") == []
    # Another supervisor's upload of the same bytes is their own session.
    assert bob.upload_done() != first


def test_bearer_token_upload_answers_json(app: FastAPI, make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    token = alice.client.post("/tokens", data={"csrf_token": alice.csrf, "name": "script"})
    secret = api_token_in(token.text)
    script = TestClient(app, headers={"authorization": f"Bearer {secret}"})
    response = script.post("/api/sessions", files={"recording": ("x.wav", WAV.read_bytes())})
    assert response.status_code == 201
    assert script.get(response.json()["status_url"]).json()["status"] == "done"


def test_the_report_can_be_corrected_without_rerunning_models(
    app: FastAPI, settings: Settings, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    session_json = settings.data_dir / "sessions" / public_id / "out" / "session.json"
    before = json.loads(session_json.read_text())
    response = alice.client.post(
        f"/sessions/{public_id}/swap", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert response.headers["location"] == f"/sessions/{public_id}?notice=swapped"
    after = json.loads(session_json.read_text())
    assert after["roles"]["counselor"] == before["roles"]["client"]
    assert after["roles"]["method"] == "explicit"

    def timed_words(document: dict[str, Any]) -> list[tuple[float, float, str]]:
        return [(w["start"], w["end"], w["text"]) for w in document["words"]]

    assert timed_words(after) == timed_words(before)  # same transcript, no model ran
    state = alice.client.get(f"/api/sessions/{public_id}").json()
    assert state["client_share"] == pytest.approx(
        1 - before["metrics"]["client"]["share"], abs=0.01
    )
    assert state["client_led"] == "no"
    notice = alice.client.get(response.headers["location"]).text
    assert "Counselor and client were swapped" in notice
    srt = alice.client.get(f"/sessions/{public_id}/download/transcript.srt").text
    assert "[Client] Hi, thanks for coming in" in srt
    # Name the counselor explicitly: back to the first assignment.
    alice.client.post(
        f"/sessions/{public_id}/roles",
        data={"csrf_token": alice.csrf, "counselor": before["roles"]["counselor"]},
    )
    assert (
        json.loads(session_json.read_text())["roles"]["counselor"] == before["roles"]["counselor"]
    )
    assert alice.client.get(f"/api/sessions/{public_id}").json()["client_led"] == "inconclusive"
    bad = alice.client.post(
        f"/sessions/{public_id}/roles",
        data={"csrf_token": alice.csrf, "counselor": "SPEAKER_99"},
        follow_redirects=False,
    )
    assert bad.headers["location"].endswith("?error=speaker")


@pytest.mark.parametrize(
    ("name", "media_type", "needle"),
    [
        ("session.json", "application/json", '"schema_version"'),
        ("measures.csv", "text/csv", "metrics.client.share,"),
        ("transcript.srt", "application/x-subrip", "-->"),
        ("transcript.vtt", "text/vtt", "WEBVTT"),
        ("diarization.rttm", "text/plain", "SPEAKER session-"),
        ("report.html", "text/html", "Session report"),
        ("report.md", "text/markdown", "# Session report"),
    ],
)
def test_downloads(make_user: Callable[..., User], name: str, media_type: str, needle: str) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done(name="My session (March).wav")
    response = alice.client.get(f"/sessions/{public_id}/download/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert needle in response.text
    if name == "session.json":
        assert response.json()["audio"]["file_name"] == "My session (March).wav"
    if name == "measures.csv":
        assert "trainee,Alex" in response.text and "client_led,inconclusive" in response.text
    assert alice.client.get(f"/sessions/{public_id}/download/secret_key").status_code == 404


def test_the_audio_streams_with_range_requests(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    whole = alice.client.get(f"/sessions/{public_id}/audio")
    assert whole.status_code == 200 and whole.content == WAV.read_bytes()
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    part = alice.client.get(f"/sessions/{public_id}/audio", headers={"range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == WAV.read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{WAV.stat().st_size}"
    tail = alice.client.get(f"/sessions/{public_id}/audio", headers={"range": "bytes=-10"})
    assert tail.content == WAV.read_bytes()[-10:]
    beyond = alice.client.get(f"/sessions/{public_id}/audio", headers={"range": f"bytes={10**9}-"})
    assert beyond.status_code == 416


def test_lists_filter_by_trainee_date_verdict_and_status(
    make_user: Callable[..., User], tmp_path: Path
) -> None:
    alice = make_user("alice")
    variants = []
    for n in range(3):
        path = tmp_path / f"s{n}.wav"
        path.write_bytes(WAV.read_bytes() + bytes(2 * (n + 1)))
        variants.append(path)
    a = alice.upload_done(variants[0], fields={"trainee": "Ann", "session_date": "2025-01-10"})
    b = alice.upload_done(variants[1], fields={"trainee": "Ben", "session_date": "2025-02-10"})
    c = alice.upload_done(variants[2], fields={"trainee": "Ann", "session_date": "2025-03-10"})
    alice.client.post(f"/sessions/{c}/swap", data={"csrf_token": alice.csrf})
    silent = alice.upload(FIXTURES / "silence.wav", fields={"session_date": "2024-12-01"})
    failed = silent.json()["id"]

    def ids(query: str) -> set[str]:
        return {s["id"] for s in alice.client.get(f"/api/sessions?{query}").json()["sessions"]}

    assert ids("") == {a, b, c, failed}
    assert ids("trainee=Ann") == {a, c}
    assert ids("from=2025-02-01") == {b, c}
    assert ids("from=2025-02-01&to=2025-02-28") == {b}
    assert ids("verdict=inconclusive") == {a, b}
    assert ids("verdict=no") == {c}
    assert ids("status=failed") == {failed}
    assert ids("status=done") == {a, b, c}
    assert ids("status=running") == set()
    page = alice.client.get("/sessions?trainee=Ann").text
    assert a in page and c in page and b not in page
    csv = alice.client.get("/sessions.csv?trainee=Ann").text
    assert csv.count("\r\n") == 3 and csv.startswith("session_id,trainee,")


def test_trainee_summary(make_user: Callable[..., User], tmp_path: Path) -> None:
    alice = make_user("alice")
    for n, trainee in enumerate(["Ann", "Ann", "Ben"]):
        path = tmp_path / f"s{n}.wav"
        path.write_bytes(WAV.read_bytes() + bytes(2 * (n + 1)))
        alice.upload_done(path, fields={"trainee": trainee, "session_date": f"2025-0{n + 1}-01"})
    page = alice.client.get("/trainees").text
    assert "/sessions?trainee=Ann" in page and "/sessions?trainee=Ben" in page
    assert page.count('class="spark"') == 1  # Ann has a trend line (two sessions)


def test_failed_analysis_shows_the_reason_and_can_be_retried(
    make_user: Callable[..., User],
) -> None:
    alice = make_user("alice")
    response = alice.upload(FIXTURES / "silence.wav")
    assert response.status_code == 201  # sniffing passes: it is audio
    public_id = response.json()["id"]
    state = alice.client.get(f"/api/sessions/{public_id}").json()
    assert state["status"] == "failed"
    assert state["error"].startswith("silence.wav: recording is silent")
    page = alice.client.get(f"/sessions/{public_id}").text
    assert "The analysis failed" in page and "silent" in page and "Try again" in page
    retry = alice.client.post(
        f"/sessions/{public_id}/retry", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert retry.status_code == 303
    assert alice.client.get(f"/api/sessions/{public_id}").json()["status"] == "failed"


def test_delete_removes_audio_results_and_row(
    app: FastAPI, settings: Settings, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    assert (settings.data_dir / "sessions" / public_id / "upload" / "recording.wav").is_file()
    response = alice.client.post(
        f"/sessions/{public_id}/delete", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert response.headers["location"] == "/sessions?notice=deleted"
    assert files_under(settings.data_dir / "sessions") == []
    assert alice.client.get(f"/sessions/{public_id}").status_code == 404
    assert alice.client.get(f"/sessions/{public_id}/audio").status_code == 404
    with app.state.db.session() as db:
        assert db.scalar(select(Recording)) is None
    # The same recording can be uploaded again afterwards.
    assert alice.upload_done() != public_id


def test_delete_through_the_api(settings: Settings, make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    public_id = alice.upload_done()
    response = alice.client.delete(
        f"/api/sessions/{public_id}", headers={"x-csrf-token": alice.csrf}
    )
    assert response.status_code == 204
    assert files_under(settings.data_dir / "sessions") == []


def test_retention_keeps_only_the_measures(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"retention": "measures"})
    app = make_app(settings)
    with TestClient(app):
        alice = User(app, "alice")
        public_id = alice.upload_done()
        assert files_under(settings.data_dir / "sessions") == []
        state = alice.client.get(f"/api/sessions/{public_id}").json()
        assert state["audio_deleted"] is True and state["client_led"] == "inconclusive"
        page = alice.client.get(f"/sessions/{public_id}").text
        assert 'id="talk-time"' in page and 'id="timeline"' in page
        assert "<audio" not in page and "What brings you here" not in page
        assert "were deleted after the analysis" in page
        assert alice.client.get(f"/sessions/{public_id}/audio").status_code == 410
        for name in ("transcript.srt", "transcript.vtt", "report.md"):
            assert alice.client.get(f"/sessions/{public_id}/download/{name}").status_code == 404
        measures = alice.client.get(f"/sessions/{public_id}/download/session.json").json()
        assert measures["words"] == [] and measures["utterances"] == []
        text = json.dumps(measures)
        assert "What brings you here" not in text and "reflections" in text
        csv = alice.client.get(f"/sessions/{public_id}/download/measures.csv").text
        assert "metrics.client.share" in csv
        html = alice.client.get(f"/sessions/{public_id}/download/report.html").text
        assert "What brings you here" not in html
        swap = alice.client.post(
            f"/sessions/{public_id}/swap", data={"csrf_token": alice.csrf}, follow_redirects=False
        )
        assert swap.headers["location"].endswith("?error=no-transcript")


def test_channel_hint_needs_a_stereo_recording(make_user: Callable[..., User]) -> None:
    alice = make_user("alice")
    response = alice.upload(WAV, fields={"hint": "left"})
    assert response.status_code == 400
    assert "needs a stereo recording" in response.json()["error"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"channels": "split"}, "one person per channel needs a two-channel recording"),
        ({"channels": "both"}, "unknown stereo channel setting"),
        ({"channels": "mix", "hint": "right"}, "cannot go with mixing the channels"),
    ],
)
def test_stereo_settings_are_checked(
    make_user: Callable[..., User], fields: dict[str, str], message: str
) -> None:
    response = make_user("alice").upload(WAV, fields=fields)
    assert response.status_code == 400
    assert message in response.json()["error"]


class RecordingExecutor(Executor):
    """Keeps jobs without running them (an analysis still queued)."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs.append(args[0])
        return Future()


def test_hints_become_speech_options(settings: Settings) -> None:
    executor = RecordingExecutor()
    app = make_app(settings, executor_factory=lambda: executor)
    with TestClient(app):
        alice = User(app, "alice")
        stereo = FIXTURES / "dialogue_stereo.wav"
        assert alice.upload(stereo, fields={"hint": "right"}).status_code == 201
        mixed = FIXTURES / "realistic" / "kokoro_drinking_stereo.ogg"
        assert alice.upload(mixed, fields={"channels": "mix"}).status_code == 201
        assert alice.upload(WAV, fields={"hint": "first"}).status_code == 201
        missing = alice.upload(
            FIXTURES / "dialogue_counselor_led.wav", fields={"hint": "enrollment"}
        )
        assert missing.status_code == 400 and "voice sample" in missing.json()["error"]
        sample = FIXTURES / "enroll_counselor.wav"
        enrolled = alice.upload(
            FIXTURES / "dialogue_counselor_led.wav",
            fields={"hint": "enrollment"},
            extra_files={"enrollment": ("me.wav", sample.read_bytes())},
        )
        assert enrolled.status_code == 201
        channel, mix, first, enrollment = executor.jobs
        assert channel.speech["counselor_channel"] == "right" and not channel.counselor_first
        assert "channels" not in channel.speech and mix.speech["channels"] == "mix"
        assert first.counselor_first and "counselor_channel" not in first.speech
        assert Path(enrollment.speech["enrollment"]).read_bytes() == sample.read_bytes()
        assert Path(enrollment.speech["enrollment"]).name == "enrollment.wav"
        # The status page shows the live stage from status.json.
        write_status(enrollment.out_dir, "diarizing")
        public_id = enrolled.json()["id"]
        state = alice.client.get(f"/sessions/{public_id}/status").json()
        assert state["status"] == "queued" and state["stage"] == "diarizing"
        page = alice.client.get(f"/sessions/{public_id}").text
        assert "Telling the speakers apart" in page and 'class="now"' in page


def test_a_full_queue_refuses_uploads_cleanly(settings: Settings) -> None:
    app = make_app(settings, executor_factory=RecordingExecutor, max_queue=1)
    with TestClient(app):
        alice = User(app, "alice")
        assert alice.upload(WAV).status_code == 201
        busy = alice.upload(FIXTURES / "dialogue_counselor_led.wav")
        assert busy.status_code == 503 and "try again later" in busy.json()["error"]
        assert len(list((settings.data_dir / "sessions").iterdir())) == 1
        assert files_under(settings.data_dir / "tmp") == []


class NoProcesses:
    """A worker pool the machine cannot start (fork refused: too many processes)."""

    def submit(self, *_args: object) -> object:
        raise OSError(11, "Resource temporarily unavailable")

    def shutdown(self, **_kw: object) -> None:
        pass


def test_a_worker_pool_that_cannot_start_refuses_the_upload_and_keeps_nothing(
    settings: Settings,
) -> None:
    app = make_app(settings, executor_factory=NoProcesses)
    with TestClient(app):
        alice = User(app, "alice")
        refused = alice.upload(WAV)
        assert refused.status_code == 503
        assert refused.json()["error"] == (
            "the analysis could not be started (BlockingIOError); try again later"
        )
        assert list((settings.data_dir / "sessions").iterdir()) == []
        assert files_under(settings.data_dir / "tmp") == []
        assert alice.client.get("/api/sessions").json()["sessions"] == []


def test_unfinished_analyses_are_resubmitted_at_start(settings: Settings) -> None:
    first = make_app(settings, executor_factory=RecordingExecutor)
    with TestClient(first):
        alice = User(first, "alice")
        public_id = alice.upload(WAV).json()["id"]
        assert alice.client.get(f"/api/sessions/{public_id}").json()["status"] == "queued"
    second = make_app(settings)  # runs jobs at once
    with TestClient(second) as client:
        from tests.web.conftest import log_in

        log_in(client, "alice")
        assert client.get(f"/api/sessions/{public_id}").json()["status"] == "done"
