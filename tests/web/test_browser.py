"""The supervisor's path in a real headless Chromium, against a real server and real models.

Debian's ``/usr/bin/chromium`` driven by Playwright (no browser download).
Screenshots go to ``tests/web/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.web.conftest import FIXTURES, PASSWORD, add_user
from tests.web.live_server import serve
from web.app import create_app
from web.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ANALYSIS_TIMEOUT_MS = 240_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/services.sh)"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with real analyses (Whisper tiny.en, the direct pipeline) on a loopback port."""
    data = tmp_path_factory.mktemp("browser-data")
    settings = Settings(
        data_dir=data,
        secret_key=SecretStr("browser-test"),
        model="tiny.en",
        processing="direct",
        upload_limit_bytes=20_000_000,
    )
    app = create_app(settings)
    add_user(app, "alice")
    with serve(app) as url:
        yield url


@pytest.fixture
def page(site: str) -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site)
        page = context.new_page()
        page.console_errors = []
        page.on(
            "console",
            lambda m: m.type == "error" and page.console_errors.append(m.text),
        )
        yield page
        context.close()
        browser.close()


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page: Any) -> None:
    page.goto("/sessions")
    assert "/login" in page.url
    shot(page, "01-login")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/sessions")


def wait_until(page: Any, expression: str, *, timeout_s: float = 30.0) -> None:
    """Poll a JavaScript expression from here (``wait_for_function`` evaluates strings with
    ``eval``, which the app's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(100)


def current_time(page: Any) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def test_upload_wait_read_listen_and_correct(page: Any) -> None:
    log_in(page)
    page.click("text=Upload a recording")
    page.wait_for_url("**/upload")
    page.set_input_files("#recording", str(FIXTURES / "dialogue_client_led.wav"))
    page.fill("#trainee", "Alex Kim")
    page.fill("#session_date", "2025-03-14")
    assert "dialogue_client_led.wav" in page.inner_text("#chosen")
    shot(page, "02-upload")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/sessions/[A-Za-z0-9_-]{22}$"))
    page.wait_for_selector("#stages li.now")
    shot(page, "03-status")

    # The status page refreshes itself into the report when the analysis is done.
    page.wait_for_selector("#player", timeout=ANALYSIS_TIMEOUT_MS)
    wait_until(page, "document.getElementById('player').readyState >= 1")
    shot(page, "04-report")
    shot(page, "05-report-full", full_page=True)

    talk = page.inner_text("#talk-time")
    assert re.search(r"Counselor\s+\d+\.\d s · \d+\.\d%", talk), talk
    assert re.search(r"Client\s+\d+\.\d s · \d+\.\d%", talk), talk
    assert page.locator("#timeline svg rect.seg").count() >= 5
    assert page.locator("#transcript p[data-start]").count() >= 5
    assert "client-led" in page.inner_text(".page-head").lower()

    # Clicking an interruption marker plays from the interruption.
    marker = page.locator("#timeline g.intr").first
    start = float(marker.get_attribute("data-start"))
    marker.locator("path").click()
    wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {start}) < 1")
    # So does clicking a transcript line.
    line = page.locator("#transcript p[data-start]").nth(4)
    line_start = float(line.get_attribute("data-start"))
    line.click()
    wait_until(page, f"Math.abs(document.getElementById('player').currentTime - {line_start}) < 1")
    assert abs(current_time(page) - line_start) < 1.0
    page.wait_for_selector("#transcript p.playing")
    shot(page, "06-playing")

    # Swap counselor and client: the verdict flips, no model runs.
    verdict = page.get_attribute(".verdict", "data-verdict")
    page.click("#swap")
    page.wait_for_selector("text=Counselor and client were swapped")
    assert page.get_attribute(".verdict", "data-verdict") != verdict
    shot(page, "07-swapped")
    page.click("#swap")
    page.wait_for_selector("text=Counselor and client were swapped")
    assert page.get_attribute(".verdict", "data-verdict") == verdict

    # Analyze again, allowing a third voice: the status page, then the new report.
    session_url = page.url.split("?")[0]
    page.click("#analyze-again summary")
    page.check("#analyze-again input[name=speakers][value='2-3']")
    shot(page, "08-analyze-again")
    page.click("#analyze-again-button")
    page.wait_for_selector("#stages")
    page.wait_for_selector("#player", timeout=ANALYSIS_TIMEOUT_MS)
    assert page.url == session_url
    assert page.is_checked("#analyze-again input[name=speakers][value='2-3']")
    assert page.locator("#timeline svg rect.seg").count() >= 5

    page.click("nav >> text=Sessions")
    assert "Alex Kim" in page.inner_text("#sessions")
    shot(page, "09-sessions")
    page.click("nav >> text=Trainees")
    shot(page, "10-trainees")
    assert page.console_errors == []


def test_dropping_a_file_that_is_not_audio_shows_why(page: Any) -> None:
    log_in(page)
    page.goto("/upload")
    page.evaluate(
        """() => {
        const data = new DataTransfer();
        data.items.add(new File(["just some text, not a recording"], "notes.wav",
                                {type: "audio/wav"}));
        const drop = document.getElementById("drop");
        drop.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true}));
        drop.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
    }"""
    )
    assert "notes.wav" in page.inner_text("#chosen")
    page.click("#submit")
    page.wait_for_selector("#message.error")
    assert "not an audio or video file" in page.inner_text("#message")
    assert page.evaluate("document.getElementById('progress-bar').style.width") == "100%"
    shot(page, "11-upload-error")
    errors = page.console_errors
    assert [e for e in errors if "status of 415" not in e] == []
