"""Front-end behaviour on the fake API: the virtualized grid at 100,000 rows, the metadata
drawer, viewer keys / slideshow / swipe, hotkey help, empty and error states, phone layout."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.fake_api import FakeDaemon, serve_fake
from tests.ui.pages import open_app

pytestmark = pytest.mark.browser

HEAP_LIMIT_BYTES = 200 * 1024 * 1024
DOCS = Path(__file__).resolve().parents[2] / "docs" / "ui.md"


def js_heap(page: Page) -> int:
    session = page.context.new_cdp_session(page)
    try:
        session.send("HeapProfiler.collectGarbage")
        usage = session.send("Runtime.getHeapUsage")
        return int(usage["usedSize"])
    finally:
        session.detach()


def test_grid_with_100k_rows_scrolls_with_flat_heap(page: Page) -> None:
    daemon = FakeDaemon(big_album_size=100_000)
    daemon.albums["big"] = {
        "key": "big",
        "name": "Big",
        "folders": [{"path": "/big", "exists": True}],
        "state": "ready",
        "pending": 0,
        "failed": 0,
    }
    with serve_fake(daemon) as base:
        open_app(page, base, "?album=big")
        expect(page.locator("#result-title")).to_contain_text("100,000 images")
        expect(page.locator("#tile-0")).to_have_attribute("aria-label", re.compile("^099999.png"))
        baseline = js_heap(page)
        grid = page.locator("#grid")
        height = grid.evaluate("g => g.scrollHeight")
        # Sweep the whole list in 60 jumps (every page of it gets fetched and rendered), then
        # wheel-scroll for a while as a user would.
        for step in range(1, 61):
            grid.evaluate("(g, y) => { g.scrollTop = y; }", height * step // 60)
            page.wait_for_timeout(40)
        expect(page.locator(".tile[aria-posinset='100000']")).to_have_attribute(
            "aria-label", re.compile("^000000.png")
        )
        grid.evaluate("g => { g.scrollTop = g.scrollHeight / 2; }")
        grid.hover()
        for _ in range(40):
            page.mouse.wheel(0, 900)
            page.wait_for_timeout(15)
        page.wait_for_timeout(300)
        tiles = page.locator(".tile").count()
        heap = js_heap(page)
        loaded = page.evaluate("window.photomapd.set.loadedCount")
    assert tiles < 400, f"{tiles} tile elements: the grid is not recycling"
    assert loaded <= 6000, f"{loaded} entries kept in memory: eviction is not working"
    assert heap < HEAP_LIMIT_BYTES, f"JS heap {heap / 2**20:.0f} MB after scrolling 100k rows"
    print(f"heap baseline {baseline / 2**20:.1f} MB, after {heap / 2**20:.1f} MB, {tiles} tiles")


def test_metadata_drawer_values_copy_and_raw_json(page: Page, fake: tuple[FakeDaemon, str]) -> None:
    daemon, base = fake
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_app(page, base)
    page.locator("#tile-0").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    expect(page.locator("#viewer-position")).to_have_text("1 / 24")
    image = daemon.images[24]

    def row(label):
        return drawer.locator(
            ".meta-row", has=page.locator("dt", has_text=re.compile(f"^{label}$"))
        )

    expect(row("Prompt").locator(".meta-value")).to_have_text(image.prompt)
    expect(row("Negative prompt").locator(".meta-value")).to_have_text("blurry, low quality")
    expect(row("Model").locator(".meta-value")).to_have_text("Juggernaut XL v9 (sdxl)")
    expect(row("Seed").locator(".meta-value")).to_have_text("1024")
    expect(row("Steps").locator(".meta-value")).to_have_text("30")
    expect(row("CFG scale").locator(".meta-value")).to_have_text("6.5")
    expect(row("Scheduler").locator(".meta-value")).to_have_text("dpmpp_2m_k")
    expect(row("Size").locator(".meta-value")).to_have_text("1024 × 1024")
    expect(row("LoRAs").locator(".meta-value")).to_have_text("ink-scenery @ 0.75")
    expect(drawer.locator(".ref-list")).to_contain_text("ref-1.png @ 0.5")
    row("Seed").locator(".copy-btn").click()
    expect(page.locator(".toast", has_text="Copied: 1024")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "1024"
    row("Prompt").locator(".copy-btn").click()
    expect(page.locator(".toast", has_text=f"Copied: {image.prompt}")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == image.prompt
    # Full metadata: collapsed until asked, then a tree; JSON strings inside are parsed too.
    raw = drawer.locator("details.raw-json")
    expect(raw.locator(".json-node")).to_have_count(0)
    raw.locator("summary").first.click()
    expect(raw).to_contain_text("app_version")
    expect(raw).to_contain_text("noise")
    # InvokeAI actions post to the bridge.
    drawer.locator("button[data-action='remix']").click()
    # Its report's parts join as sentences, each ending with one full stop.
    expect(page.locator(".toast", has_text="remix sent to InvokeAI")).to_have_text(
        "Remix sent to InvokeAI. The reference image was uploaded first. "
        "InvokeAI does not have: Juggernaut XL v9."
    )
    assert daemon.invokeai_actions == [(24, "recall", {"mode": "remix"})]
    expect(drawer.locator("button[data-action]")).to_have_count(7)
    # "i" hides and shows the drawer.
    page.keyboard.press("i")
    expect(drawer).to_be_hidden()
    page.keyboard.press("i")
    expect(drawer).to_be_visible()


def test_keyboard_navigation_and_slideshow(page: Page, fake: tuple[FakeDaemon, str]) -> None:
    _, base = fake
    open_app(page, base)
    expect(page.locator("#tile-0")).to_be_visible()
    # Gallery keys: arrows move the cursor, Enter opens.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#grid")).to_have_attribute("aria-activedescendant", "tile-2")
    page.keyboard.press("Enter")
    position = page.locator("#viewer-position")
    expect(position).to_have_text("3 / 24")
    expect(page).to_have_url(re.compile(r"image=22"))
    page.keyboard.press("ArrowRight")
    expect(position).to_have_text("4 / 24")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(position).to_have_text("2 / 24")
    page.keyboard.press("End")
    expect(position).to_have_text("24 / 24")
    # Zoom keys.
    page.keyboard.press("+")
    expect(page.locator("#viewer-zoom-level")).to_have_text("150%")
    page.keyboard.press("0")
    expect(page.locator("#viewer-zoom-level")).to_have_text("100%")
    # Slideshow wraps from the last image to the first.
    page.select_option("#slideshow-interval", "2")
    started = time.monotonic()
    page.keyboard.press(" ")
    expect(page.locator("#viewer-play")).to_have_attribute("aria-pressed", "true")
    expect(position).to_have_text("1 / 24", timeout=4_000)
    assert time.monotonic() - started >= 1.9
    expect(position).to_have_text("2 / 24", timeout=4_000)
    page.keyboard.press(" ")
    expect(page.locator("#viewer-play")).to_have_attribute("aria-pressed", "false")
    # Without wrap, the slideshow stops at the end.
    page.keyboard.press("w")
    expect(page.locator("#slideshow-wrap")).not_to_be_checked()
    page.keyboard.press("End")
    page.keyboard.press(" ")
    expect(page.locator("#viewer-play")).to_have_attribute("aria-pressed", "false", timeout=4_000)
    expect(position).to_have_text("24 / 24")
    # Shuffle visits a permutation: 2 steps land on 2 different images.
    page.keyboard.press("s")
    expect(page.locator("#slideshow-shuffle")).to_be_checked()
    # Escape closes; the grid cursor follows the last image shown; the URL drops image=.
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    expect(page.locator("#grid")).to_have_attribute("aria-activedescendant", "tile-23")
    expect(page).not_to_have_url(re.compile(r"image="))
    # Back/forward and bookmarks: opening a URL with image= opens the viewer on that image.
    page.goto(base + "/?image=5")
    expect(page.locator("#viewer-caption")).to_have_text("img_00005.png")


def test_swipe_and_phone_layout(browser, fake: tuple[FakeDaemon, str]) -> None:  # type: ignore[no-untyped-def]
    _, base = fake
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    try:
        open_app(page, base)
        expect(page.locator("#btn-sidebar")).to_be_visible()
        sidebar = page.locator("#sidebar")
        assert sidebar.bounding_box()["x"] < 0  # off-canvas until the menu button opens it
        page.click("#btn-sidebar")
        page.wait_for_timeout(300)
        assert sidebar.bounding_box()["x"] >= 0
        page.click("#sidebar-close")
        page.wait_for_timeout(300)
        assert sidebar.bounding_box()["x"] < 0
        page.locator("#tile-0").tap()
        position = page.locator("#viewer-position")
        expect(position).to_have_text("1 / 24")
        stage = page.locator("#viewer-stage").bounding_box()
        y = stage["y"] + stage["height"] / 3
        page.mouse.move(stage["x"] + stage["width"] * 0.8, y)
        page.mouse.down()
        page.mouse.move(stage["x"] + stage["width"] * 0.2, y, steps=5)
        page.mouse.up()
        expect(position).to_have_text("2 / 24")
        # The drawer is a bottom sheet on phones, under the image, not beside it.
        drawer = page.locator("#drawer")
        if drawer.is_hidden():
            page.click("#viewer-info")
        box = drawer.bounding_box()
        assert box["width"] >= 380 and box["y"] > 300
    finally:
        context.close()


def test_help_overlay_lists_hotkeys(page: Page, fake: tuple[FakeDaemon, str]) -> None:
    _, base = fake
    open_app(page, base)
    page.keyboard.press("?")
    dialog = page.locator("#help-dialog")
    expect(dialog).to_be_visible()
    for text in (
        "More like this",
        "Start / pause the slideshow",
        "Star / unstar",
        "Focus the search box",
    ):
        expect(dialog).to_contain_text(text)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # docs/ui.md documents every shortcut the page registers (word for word).
    documented = DOCS.read_text(encoding="utf-8")
    descriptions = page.evaluate("window.photomapd.hotkeys.bindings.map(b => b.description)")
    missing = [text for text in descriptions if text not in documented]
    assert not missing, f"hotkeys missing from docs/ui.md: {missing}"
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()


def test_empty_and_error_states(page: Page) -> None:
    daemon = FakeDaemon()
    daemon.model = {
        "name": "ViT-B-32",
        "pretrained": "laion2b",
        "device": "cpu",
        "state": "unavailable",
        "error": "no network to download laion2b weights",
    }
    page.add_init_script("window.__photomapdLostAfterMs = 1500")
    with serve_fake(daemon) as base:
        open_app(page, base)
        # First run: no album, no InvokeAI found -> how to add a folder.
        empty = page.locator("#empty")
        expect(empty).to_contain_text("No InvokeAI images found yet")
        expect(empty).to_contain_text("outputs/images")
        expect(page.locator("#banners")).to_contain_text(
            "Semantic search is unavailable: no network to download laion2b weights"
        )
        expect(page.locator("#model-chip")).to_have_text("Model unavailable")
        empty.locator("text=Add a folder").click()
        expect(page.locator("#album-form")).to_be_visible()
        page.keyboard.press("Escape")
        daemon.call(
            lambda: daemon.albums.update(
                {
                    "gone": {
                        "key": "gone",
                        "name": "USB drive",
                        "folders": [{"path": "/media/usb/invokeai", "exists": False}],
                        "state": "folder missing",
                        "pending": 0,
                        "failed": 0,
                    }
                }
            )
        )
        page.reload()
        expect(page.locator("#banners")).to_contain_text("Folder missing: /media/usb/invokeai")
    # The server is gone now: amber while retrying, then red with a banner.
    expect(page.locator("#conn-dot")).to_have_attribute("data-state", "lost", timeout=8_000)
    expect(page.locator("#banners")).to_contain_text("photomapd is not reachable")


def test_live_insert_keeps_the_viewer_on_its_image(
    page: Page, fake: tuple[FakeDaemon, str]
) -> None:
    daemon, base = fake
    open_app(page, base)
    page.locator("#tile-2").click()
    caption = page.locator("#viewer-caption")
    expect(page.locator("#viewer-position")).to_have_text("3 / 24")
    shown = caption.text_content()
    new_id = daemon.emit_new_image("arrives while viewing")
    expect(page.locator("#viewer-position")).to_have_text("4 / 25")
    assert caption.text_content() == shown
    page.keyboard.press("Home")
    expect(caption).to_have_text(f"img_{new_id:05d}.png")


def test_closing_a_bookmarked_viewer_shows_that_image_in_the_grid(
    page: Page, fake: tuple[FakeDaemon, str]
) -> None:
    _, base = fake
    page.set_viewport_size({"width": 700, "height": 520})
    open_app(page, base, "?image=1")  # the oldest of 24: the last tile, far below the fold
    expect(page.locator("#viewer-position")).to_have_text("24 / 24")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    tile = page.locator(".tile[data-id='1']")
    expect(tile).to_be_in_viewport()
    expect(tile).to_have_class(re.compile(r"\btile--cursor\b"))


def test_drawer_shows_the_files_own_scheduler_words_beside_invokeais_name(
    page: Page, fake: tuple[FakeDaemon, str]
) -> None:
    daemon, base = fake
    summary = daemon.images[24].metadata
    summary.update(
        generator="a1111",
        generator_version=None,
        sampler="DPM++ 2M SDE",
        scheduler="dpmpp_sde_k",
        stored_scheduler="Karras",
        extra={"scheduler_note": "InvokeAI has no DPM++ 2M SDE; its DPM++ SDE Karras is nearest"},
    )
    open_app(page, base)
    page.locator("#tile-0").click()
    drawer = page.locator("#drawer")

    def value(label):
        row = drawer.locator(".meta-row", has=page.locator("dt", has_text=re.compile(f"^{label}$")))
        return row.locator(".meta-value")

    expect(value("Scheduler")).to_have_text("dpmpp_sde_k")
    expect(value("Scheduler in file")).to_have_text("Karras")
    expect(value("Sampler")).to_have_text("DPM++ 2M SDE")
    expect(value("Scheduler note")).to_contain_text("nearest")
    # An InvokeAI image's scheduler is already InvokeAI's name: no second row.
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-position")).to_have_text("2 / 24")
    expect(value("Scheduler")).to_have_text("dpmpp_2m_k")
    expect(drawer.locator("dt", has_text=re.compile("^Scheduler in file$"))).to_have_count(0)
