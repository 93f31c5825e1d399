"""The reviewer page end to end in a real headless Chromium: log in, open by keyboard, record a verdict.

Uses Debian's chromium through Playwright's ``executable_path`` (no browser downloads).
Skips locally when /usr/bin/chromium is missing; fails in CI (``CI`` set), where it must run.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright

from model.settings import Settings
from serve.app import create_app
from serve.services import Services
from serve.store import repository
from serve.store.views import StoredDecision
from tests.serve.conftest import KEYS, NOON_SF, SENDER

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROMO = "Winter sale: 40% off all coats this weekend at sendgate demo sender! Reply STOP to opt out"
REVIEWER_KEY = "reviewer-key-1"
REVIEWER = "reviewer:" + hashlib.sha256(REVIEWER_KEY.encode()).hexdigest()[:12]
SCREENSHOT = Path("/tmp/review-detail.png")
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    app: FastAPI

    def blocked_decision(self) -> dict[str, object]:
        """A promotion with no consent on file, created through the public API."""
        response = httpx.post(
            f"{self.base_url}/v1/check",
            headers=SENDER,
            json={"text": PROMO, "to": "+14155550123", "send_at": NOON_SF},
        )
        assert response.status_code == 200
        body: dict[str, object] = response.json()
        assert body["decision"] == "block"
        return body

    def stored(self, decision_id: str) -> StoredDecision:
        services: Services = self.app.state.services
        with services.session() as session:
            return repository.get_decision(session=session, decision_id=decision_id)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free 127.0.0.1 port, in a thread of this process."""
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("review-browser") / "state", api_keys=KEYS, model_path=model_dir
    )
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    ticks = threading.Event()
    for _ in range(int(STARTUP_SECONDS / 0.05)):  # a bound on waiting, not an assertion on time
        if server.started or not thread.is_alive():
            break
        ticks.wait(0.05)
    if not server.started:
        server.should_exit = True
        pytest.fail("uvicorn did not start")
    base_url = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    try:
        yield LiveServer(base_url=base_url, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _log_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/review/")
    expect(page).to_have_url(f"{server.base_url}/review/login")
    page.get_by_label("Reviewer key").press_sequentially(REVIEWER_KEY)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.base_url}/review/")
    expect(page.get_by_role("heading", name="Blocked and held decisions")).to_be_visible()


def _tab_to(page: Page, href: str, limit: int = 60) -> None:
    """Press Tab until the link to ``href`` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.getAttribute('href')") == href:
            return
    pytest.fail(f"no link to {href} reachable with Tab")


def test_reviewer_opens_an_item_by_keyboard_and_records_a_verdict(
    page: Page, live_server: LiveServer
) -> None:
    """Log in with a typed key, Tab/Enter to a blocked item, read why, confirm it; the review is stored."""
    body = live_server.blocked_decision()
    decision_id = str(body["decision_id"])
    _log_in(page, live_server)

    _tab_to(page, f"/review/{decision_id}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.base_url}/review/{decision_id}")

    marks = page.locator("blockquote.message mark")
    expect(marks.first).to_be_visible()
    words = {
        str(f["feature"]).lower()
        for f in body["explanation"]  # type: ignore[attr-defined]
        if "<" not in str(f["feature"])
    }
    assert words <= {text.lower() for text in marks.all_inner_texts()}
    expect(page.locator(".reason-code", has_text="PROMO_NO_WRITTEN_CONSENT")).to_be_visible()
    expect(page.get_by_text("None: no consent record was relied on.")).to_be_visible()
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_label("Correct message type").select_option("promotional")
    page.get_by_label("Note").fill("promotion sent without written consent")
    page.get_by_role("button", name="Confirm").press("Enter")

    expect(page.get_by_role("status")).to_have_text("Review saved.")
    review = live_server.stored(decision_id).reviews[-1]
    assert (review.verdict, review.correct_type, review.reviewer) == ("confirm", "promotional", REVIEWER)
    assert review.note == "promotion sent without written consent"


def test_shortcut_key_records_a_verdict_only_outside_text_fields(page: Page, live_server: LiveServer) -> None:
    """Typing 'b' in the note does nothing; pressing b with the focus elsewhere records override_block."""
    decision_id = str(live_server.blocked_decision()["decision_id"])
    _log_in(page, live_server)
    page.goto(f"{live_server.base_url}/review/{decision_id}")

    page.get_by_label("Note").press_sequentially("borderline")
    expect(page.get_by_label("Note")).to_have_value("borderline")
    assert live_server.stored(decision_id).reviews == ()

    page.get_by_role("heading", name="Your verdict").click()  # focus leaves the text field
    page.keyboard.press("b")

    expect(page.get_by_role("status")).to_have_text("Review saved.")
    review = live_server.stored(decision_id).reviews[-1]
    assert (review.verdict, review.note, review.reviewer) == ("override_block", "borderline", REVIEWER)
