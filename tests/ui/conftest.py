"""Fixtures for the browser UI tests: one Chromium per session, the fake API, and a real daemon
running on its own loop thread (Playwright's sync API drives the page from the test thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from photomapd.config import AlbumConfig, Config, ModelConfig
from tests.ui.fake_api import FakeDaemon, serve_fake
from tests.ui.live import LiveDaemon, start_live

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

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


@pytest.fixture
def live_factory(tmp_path: Path, tiny_clip: tuple[Path, Path]) -> Iterator[Any]:
    """Start real daemons on temp folders with the tiny CLIP model; all are stopped after."""
    running: list[tuple[LiveDaemon, threading.Thread, asyncio.Event]] = []

    def start(*folders: Path) -> LiveDaemon:
        config_path, checkpoint = tiny_clip
        config = Config(
            data_dir=tmp_path / f"data{len(running)}",
            host="127.0.0.1",
            port=0,
            model=ModelConfig(
                name=str(config_path), pretrained=str(checkpoint), device="cpu", batch_size=8
            ),
        )
        for number, folder in enumerate(folders):
            folder.mkdir(parents=True, exist_ok=True)
            config.albums.append(AlbumConfig(f"album{number}", f"Album {number}", [folder]))
        entry = start_live(config)
        running.append(entry)
        return entry[0]

    yield start
    for live, thread, stop in running:
        live.loop.call_soon_threadsafe(stop.set)
        thread.join(60)
