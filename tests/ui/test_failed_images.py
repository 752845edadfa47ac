"""Images without a picture, on the real daemon in real Chromium: a file that failed to index
shows an intentional "can't read" placeholder with its reason (tile and viewer), and one still
waiting to be indexed gets an "indexing" placeholder thumbnail instead of a broken image."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.fake_api import FakeDaemon, serve_fake
from tests.ui.images import colour_folder, write_png
from tests.ui.live import LiveDaemon, serve_live, tiny_model_config
from tests.ui.pages import open_gallery

pytestmark = pytest.mark.browser

BROKEN_IMAGES = """() => [...document.querySelectorAll('.tile img[src]')]
    .filter((img) => img.complete && img.naturalWidth === 0).map((img) => img.src)"""


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_clip: tuple[Path, Path]
) -> Iterator[LiveDaemon]:
    base = tmp_path_factory.mktemp("failed-ui")
    folder = colour_folder(base / "images", 2, prefix="good")
    # A PNG cut short, as a crashed export leaves it; there before the daemon starts, so the
    # first scan records it as failed at once (a live write would get a grace period).
    whole = write_png(folder / "whole.png", (200, 40, 40), size=256).read_bytes()
    (folder / "whole.png").unlink()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    config = tiny_model_config(base / "data", tiny_clip, folder)
    with serve_live(config, indexed=3) as live:
        yield live


def test_failed_image_shows_a_placeholder_and_the_reason(daemon: LiveDaemon, page: Page) -> None:
    open_gallery(page, daemon.url)
    tile = page.locator(".tile[aria-label^='truncated.png']")
    expect(tile).to_have_class(re.compile(r"\btile--error\b"))
    image = page.request.get(daemon.url + f"/api/images/{tile.get_attribute('data-id')}").json()
    assert image["status"] == "error" and "truncated" in image["error"], image
    reason = image["error"].strip()
    # An icon and a label instead of the browser's broken-image icon; no request for pixels.
    placeholder = tile.locator(".tile-placeholder")
    expect(placeholder).to_be_visible()
    expect(placeholder).to_have_text("can't read")
    expect(placeholder.locator("svg")).to_be_visible()
    expect(tile.locator("img")).not_to_have_attribute("src", re.compile("."))
    # The reason is in the tooltip and in what a screen reader announces.
    expect(tile).to_have_attribute("title", f"Can't read truncated.png: {reason}.")
    expect(tile).to_have_attribute("aria-label", f"truncated.png, can't read: {reason}.")
    expect(page.locator(".tile[aria-label^='good_0.png'] img")).to_have_js_property(
        "naturalWidth", 96
    )
    assert page.evaluate(BROKEN_IMAGES) == []

    # The viewer says what happened and what to do instead of showing a broken image.
    tile.click()
    problem = page.locator("#viewer-problem")
    expect(problem).to_be_visible()
    expect(problem.locator("h2")).to_have_text("Can't read this file")
    expect(problem.locator(".viewer-problem-reason")).to_have_text(
        reason[0].upper() + reason[1:] + "."
    )
    expect(problem.locator(".viewer-problem-advice")).to_contain_text(
        "re-save or re-export the file"
    )
    expect(problem.locator("code")).to_have_text(str(daemon.folder / "truncated.png"))
    expect(page.locator("#viewer-image")).not_to_have_attribute("src", re.compile("."))
    expect(page.locator("#viewer-copy")).to_be_disabled()
    # The next image is a good one: the panel goes and the picture shows.
    page.keyboard.press("ArrowRight")
    expect(problem).to_be_hidden()
    expect(page.locator("#viewer-image")).to_have_attribute("src", re.compile(r"/file$"))
    expect(page.locator("#viewer-copy")).to_be_enabled()


def test_failed_files_list_opens_the_file_in_the_viewer(daemon: LiveDaemon, page: Page) -> None:
    open_gallery(page, daemon.url)
    page.keyboard.press("a")
    page.locator("#albums-dialog button", has_text="Failed files").click()
    failure = page.locator(".failure-list li", has_text="truncated.png")
    expect(failure.locator(".error-text")).to_contain_text("Truncated or corrupt image data")
    failure.get_by_role("button", name="Show truncated.png in the viewer").click()
    expect(page.locator("#albums-dialog")).to_be_hidden()
    expect(page.locator("#viewer-problem h2")).to_have_text("Can't read this file")
    expect(page.locator("#viewer-caption")).to_have_text("truncated.png")
    expect(page).to_have_url(re.compile(r"image=\d+"))


def test_thumbnail_endpoint_answers_placeholders(daemon: LiveDaemon, page: Page) -> None:
    failed = daemon.run(
        daemon.daemon.store.fetch_one("SELECT id FROM images WHERE status = 'error'")
    )
    response = page.request.get(daemon.url + f"/api/images/{failed['id']}/thumbnail")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["x-photomapd-placeholder"] == "unreadable"
    assert response.headers["cache-control"] == "no-store"
    assert "can&#x27;t read" in response.text()

    # A file still being written that the folder scan already listed ('pending' row): its
    # thumbnail cannot be made yet, so it looks intentional ("indexing") rather than broken.
    partial = daemon.folder / "half_written.png"
    partial.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    now = time.time()
    daemon.run(
        daemon.daemon.store.write_many(
            "INSERT INTO images (album, path, size, mtime, created_at, status) "
            "VALUES ('album0', ?, 48, ?, ?, 'pending')",
            [(str(partial), now, now + 3600)],
        )
    )
    pending = daemon.run(
        daemon.daemon.store.fetch_one("SELECT id FROM images WHERE status = 'pending'")
    )
    response = page.request.get(daemon.url + f"/api/images/{pending['id']}/thumbnail")
    assert response.status == 200
    assert response.headers["x-photomapd-placeholder"] == "pending"
    open_gallery(page, daemon.url)
    tile = page.locator("#tile-0")  # newest first
    expect(tile).to_have_attribute("aria-label", "half_written.png, indexing")
    expect(tile.locator(".tile-state")).to_have_text("indexing")
    expect(tile.locator("img")).to_have_js_property("naturalWidth", 256)
    assert page.evaluate(BROKEN_IMAGES) == []


def test_viewer_follows_an_image_that_fails_then_is_fixed(page: Page) -> None:
    """Live status changes of the image on screen (fake API: it can send any status)."""
    fake = FakeDaemon()
    fake.seed(3)
    with serve_fake(fake) as base:
        page.goto(base + "/")
        page.locator("#tile-0").click()
        expect(page.locator("#viewer-image")).to_have_attribute("src", re.compile(r"/file$"))
        image = fake.images[int(page.locator("#tile-0").get_attribute("data-id"))].to_json()
        reason = "truncated or corrupt image data (image file is truncated); it is retried"
        fake.call(
            fake.publish, "image_updated", {"image": {**image, "status": "error", "error": reason}}
        )
        problem = page.locator("#viewer-problem")
        expect(problem.locator(".viewer-problem-reason")).to_have_text(
            "Truncated or corrupt image data (image file is truncated); it is retried."
        )
        expect(page.locator("#viewer-image")).not_to_have_attribute("src", re.compile("."))
        expect(page.locator("#tile-0")).to_have_class(re.compile(r"\btile--error\b"))
        # Re-exported: the daemon indexes it and says so; the picture comes back by itself.
        fake.call(fake.publish, "image_updated", {"image": image})
        expect(problem).to_be_hidden()
        expect(page.locator("#viewer-image")).to_have_attribute("src", re.compile(r"/file$"))
        expect(page.locator("#tile-0")).not_to_have_class(re.compile(r"\btile--error\b"))
        expect(page.locator("#tile-0 img")).to_have_attribute("src", re.compile(r"/thumbnail$"))
