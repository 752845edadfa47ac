"""Fixtures for the browser UI tests: one Chromium per module, a page that records its script
errors, and the fake API (real daemons start from tests.ui.live.serve_live)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.ui.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.ui.fake_api import FakeDaemon, serve_fake

pytestmark = pytest.mark.browser


# Module scope, not session: Playwright's sync API keeps an event loop running on this thread
# while it is open, and pytest-asyncio tests (here and in other folders) need it closed.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def fake() -> Iterator[tuple[FakeDaemon, str]]:
    daemon = FakeDaemon()
    daemon.seed(24)
    with serve_fake(daemon) as base:
        yield daemon, base
