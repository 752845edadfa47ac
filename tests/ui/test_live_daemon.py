"""The UI against the real daemon: live inserts from a watched folder, search by text / upload /
paste, favourites across reloads, album add + Update Index, zip of a selection."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.images import colour_folder, write_png
from tests.ui.live import LiveDaemon, serve_live, tiny_model_config
from tests.ui.pages import open_gallery

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def gallery(
    tmp_path_factory: pytest.TempPathFactory, tiny_clip: tuple[Path, Path]
) -> Iterator[LiveDaemon]:
    """One real daemon for this module: starting one costs seconds on a shared 2-core machine.
    Tests leave it as they found it (6 images, nothing starred); the album test runs last."""
    base = tmp_path_factory.mktemp("live-ui")
    folder = colour_folder(base / "outputs" / "images", 6)
    config = tiny_model_config(base / "data", tiny_clip, folder)
    with serve_live(config, indexed=6) as live:
        yield live


def test_new_file_in_watched_folder_appears_without_reload(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    page.evaluate("window.__marker = 'same page'")
    expect(page.locator("#result-title")).to_contain_text("6 images")
    started = time.monotonic()
    write_png(gallery.folder / "fresh_from_invokeai.png", (250, 20, 20))
    tile = page.locator(".tile[aria-label^='fresh_from_invokeai.png']")
    expect(tile).to_be_visible(timeout=2_000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"new image took {elapsed:.2f} s to show"
    # Newest first: the new image is the first tile, and the page was never reloaded.
    assert page.locator("#tile-0").get_attribute("aria-label").startswith("fresh_from_invokeai.png")
    assert page.evaluate("window.__marker") == "same page"
    expect(page.locator("#result-title")).to_contain_text("7 images")
    # Deleting it removes the tile live too.
    (gallery.folder / "fresh_from_invokeai.png").unlink()
    expect(tile).to_have_count(0, timeout=5_000)
    expect(page.locator("#result-title")).to_contain_text("6 images")


def test_text_search_keeps_state_in_url(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    page.fill("#q", "a red square")
    with page.expect_response(lambda r: "/api/search?" in r.url) as info:
        page.press("#q", "Enter")
    response = info.value
    assert response.status == 200
    results = response.json()["results"]
    assert results and all(isinstance(item["score"], float) for item in results)
    expect(page).to_have_url(re.compile(r"q=a\+red\+square"))
    expect(page.locator("#result-title")).to_contain_text("“a red square”")
    first_score = page.locator("#tile-0 .tile-score")
    expect(first_score).to_have_text(f"{results[0]['score']:.3f}")
    page.go_back()
    expect(page.locator("#result-title")).to_contain_text("6 images")
    assert page.input_value("#q") == ""
    page.go_forward()
    expect(page.locator("#result-title")).to_contain_text("a red square")
    assert page.input_value("#q") == "a red square"


def test_image_search_by_upload_and_by_paste(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    probe = gallery.folder / "seed_2.png"
    with page.expect_response(
        lambda r: r.url.endswith("/api/search") and r.request.method == "POST"
    ) as info:
        page.set_input_files("#image-file", str(probe))
    assert info.value.status == 200
    body = info.value.json()
    # The same pixels as an indexed file: it must come back first.
    assert body["results"][0]["image"]["name"] == "seed_2.png"
    expect(page.locator("#query-image")).to_be_visible()
    expect(page.locator("#result-title")).to_contain_text("similar to your image")
    expect(page.locator("#tile-0")).to_have_attribute("aria-label", re.compile(r"^seed_2\.png"))

    page.click("#query-image button")  # drop the image, back to browsing
    expect(page.locator("#result-title")).to_contain_text("6 images")

    data = list((gallery.folder / "seed_4.png").read_bytes())
    with page.expect_response(
        lambda r: r.url.endswith("/api/search") and r.request.method == "POST"
    ) as info:
        page.evaluate(
            """(bytes) => {
                const file = new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" });
                const transfer = new DataTransfer();
                transfer.items.add(file);
                document.body.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true }));
            }""",
            data,
        )
    assert info.value.json()["results"][0]["image"]["name"] == "seed_4.png"
    # Text and image combined in one query.
    page.fill("#q", "square")
    with page.expect_response(
        lambda r: r.url.endswith("/api/search") and r.request.method == "POST"
    ) as info:
        page.press("#q", "Enter")
    assert info.value.status == 200
    expect(page.locator("#result-title")).to_contain_text("“square”, similar to your image")


def test_favourite_survives_reload(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    tile = page.locator("#tile-1")
    name = tile.get_attribute("aria-label").split(",")[0]
    tile.hover()
    with page.expect_response(lambda r: "/favourite" in r.url and r.request.method == "PUT"):
        tile.locator(".tile-star").click()
    expect(tile).to_have_class(re.compile(r"\btile--fav\b"))
    page.reload()
    expect(page.locator(f".tile[aria-label^='{name}']")).to_have_class(re.compile(r"\btile--fav\b"))
    # Favourites filter shows just that one; the keyboard unstars it in the viewer.
    page.check("#fav-filter")
    expect(page.locator("#result-title")).to_contain_text("1 images · favourites")
    page.locator("#tile-0").click()
    expect(page.locator("#viewer-fav")).to_have_attribute("aria-pressed", "true")
    with page.expect_response(lambda r: "/favourite" in r.url and r.request.method == "DELETE"):
        page.keyboard.press("f")
    expect(page.locator("#viewer-fav")).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.locator("#empty")).to_contain_text("No favourites here yet")


def test_select_several_then_zip_and_copy_paths(gallery: LiveDaemon, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_gallery(page, gallery.url)
    page.locator("#tile-0").click(modifiers=["Control"])
    page.locator("#tile-2").click(modifiers=["Shift"])
    expect(page.locator("#selection-count")).to_have_text("3 selected")
    with page.expect_download() as info:
        page.click("#sel-zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert len(archive.namelist()) == 3 and all(
        name.endswith(".png") for name in archive.namelist()
    )
    page.click("#sel-paths")
    expect(page.locator(".toast", has_text="Copied")).to_be_visible()
    paths = page.evaluate("navigator.clipboard.readText()").splitlines()
    assert len(paths) == 3 and all(Path(path).parent == gallery.folder for path in paths)
    page.keyboard.press("Escape")
    expect(page.locator("#selection-bar")).to_be_hidden()


def test_map_tab_opens_images_and_clusters(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    ids = [int(page.locator(f"#tile-{i}").get_attribute("data-id")) for i in range(3)]
    page.click("#tab-map")
    expect(page).to_have_url(re.compile(r"view=map"))
    holder = page.locator("#map-panel .map-holder")
    expect(holder).to_be_visible()
    box = holder.bounding_box()
    assert box["height"] > 400, "the map must fill the panel"
    # The cluster-strength slider, by keyboard: the daemon reclusters, the URL remembers it.
    expect(holder).to_have_attribute("data-strength", "0.5", timeout=20_000)
    slider = page.get_by_role("slider", name="Cluster strength")
    slider.focus()
    slider.press("ArrowLeft")
    expect(holder).to_have_attribute("data-strength", "0.45")
    expect(page).to_have_url(re.compile(r"strength=0\.45"))
    saved = page.evaluate("fetch('/api/albums/album0/map/clusters').then((r) => r.json())")
    assert saved["strength"] == 0.45
    # The map view reports clicks as DOM events; the page turns them into gallery actions.
    page.evaluate(
        """(id) => document.querySelector('#map-panel .map-holder').dispatchEvent(
             new CustomEvent('photomapd:open-image', { detail: { id }, bubbles: true }))""",
        ids[1],
    )
    expect(page.locator("#viewer")).to_be_visible()
    expect(page.locator("#viewer-caption")).to_have_text(
        page.locator("#tile-1").get_attribute("aria-label").split(",")[0]
    )
    page.keyboard.press("Escape")
    expect(page.locator("#map-panel")).to_be_visible()
    page.evaluate(
        """(ids) => document.querySelector('#map-panel .map-holder').dispatchEvent(
             new CustomEvent('photomapd:result-set', { detail: { ids }, bubbles: true }))""",
        [ids[0], ids[2]],
    )
    expect(page.locator("#result-title")).to_contain_text("Map cluster · 2 images")
    expect(page.locator("#gallery-panel")).to_be_visible()
    page.go_back()
    expect(page.locator("#map-panel")).to_be_visible()


def test_settings_dialog_saves_and_says_when_a_restart_is_needed(
    gallery: LiveDaemon, page: Page
) -> None:
    open_gallery(page, gallery.url)
    page.keyboard.press(",")
    dialog = page.locator("#settings-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#s-idle")).to_have_value(re.compile(r"^\d"))
    expect(page.locator("#s-device")).to_have_value("cpu")
    expect(dialog.locator("#invokeai-status")).to_contain_text("Not configured")
    page.fill("#s-idle", "30")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-notice")).to_contain_text("Settings saved.")
    assert gallery.daemon.embedder.idle_unload_seconds == 30
    page.fill("#s-port", "8123")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-notice")).to_contain_text("Restart photomapd for the new port")
    assert gallery.daemon.config.port == 8123


def test_every_control_has_an_accessible_name(gallery: LiveDaemon, page: Page) -> None:
    open_gallery(page, gallery.url)
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea, [role=option]')]
            .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]') && el.id !== 'image-file')
            .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                || (el.labels && el.labels.length) || el.textContent.trim() || el.title))
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []


def test_album_add_with_folder_picker_and_update_index(
    gallery: LiveDaemon, page: Page, tmp_path: Path
) -> None:
    second = colour_folder(tmp_path / "more" / "renders", 3, prefix="render")
    open_gallery(page, gallery.url)
    page.keyboard.press("a")
    dialog = page.locator("#albums-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".album-card")).to_have_count(1)
    dialog.locator("#album-add").click()
    page.fill("#album-name", "More renders")
    expect(page.locator("#album-key")).to_have_value("more-renders")
    dialog.locator("text=Browse…").click()
    picker = page.locator("#folder-picker")
    picker.locator("input[name=path]").fill(str(tmp_path / "more"))
    picker.locator("button[type=submit]").click()
    picker.locator(".picker-dir", has_text="renders").click()
    expect(picker.locator("#picker-path")).to_have_text(str(second))
    picker.locator("#picker-choose").click()
    expect(dialog.locator("input[name=folder]")).to_have_value(str(second))
    with page.expect_response(
        lambda r: r.url.endswith("/api/albums") and r.request.method == "POST"
    ) as info:
        dialog.locator("#album-form button[type=submit]").click()
    assert info.value.status == 201, info.value.text()
    card = dialog.locator(".album-card[data-key='more-renders']")
    expect(card).to_contain_text("3 images", timeout=15_000)
    # A file added while the watcher is blind (copied in, then Update Index) is picked up.
    write_png(second / "render_late.png", (9, 9, 9))
    with page.expect_response(lambda r: r.url.endswith("/api/albums/more-renders/reindex")) as info:
        card.locator("text=Update Index").click()
    assert info.value.status == 202
    expect(card).to_contain_text("4 images", timeout=15_000)


def test_folder_picker_keeps_the_typed_folder_when_the_start_listing_answers_late(
    gallery: LiveDaemon, page: Page, tmp_path: Path
) -> None:
    (tmp_path / "typed" / "inside").mkdir(parents=True)
    held = []

    def hold_start_listing(route):
        # The opening listing (empty path) is held back until the typed folder has been shown.
        if "path=" not in route.request.url or route.request.url.endswith("path="):
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/fs/list*", hold_start_listing)
    open_gallery(page, gallery.url)
    page.keyboard.press("a")
    dialog = page.locator("#albums-dialog")
    dialog.locator("#album-add").click()
    dialog.locator("text=Browse…").click()
    picker = page.locator("#folder-picker")
    picker.locator("input[name=path]").fill(str(tmp_path / "typed"))
    picker.locator("button[type=submit]").click()
    expect(picker.locator(".picker-dir", has_text="inside")).to_be_visible()
    assert held, "the opening listing was not requested"
    for route in held:
        route.continue_()
    page.wait_for_timeout(500)  # let the late answer arrive; it must not redraw
    expect(picker.locator("#picker-path")).to_have_text(str(tmp_path / "typed"))
    expect(picker.locator(".picker-dir", has_text="inside")).to_be_visible()
    expect(picker.locator("input[name=path]")).to_have_value(str(tmp_path / "typed"))
    picker.locator("#picker-cancel").click()
