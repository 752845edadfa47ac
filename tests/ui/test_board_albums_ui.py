"""Board albums in the albums manager, in real Chromium against a real daemon reading a fixture
InvokeAI root (its invokeai.db built as InvokeAI 6.14 lays it out): pick boards, name, create,
see the album marked as boards; a clear message when there is no InvokeAI database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from photomapd.config import Config, ModelConfig
from tests.invokeai.test_board_albums import real_pngs
from tests.invokeai.test_local_db import DATED, U1, U2, make_root
from tests.ui.live import LiveDaemon, serve_live
from tests.ui.pages import open_app

pytestmark = pytest.mark.browser


@pytest.fixture
def invokeai_daemon(tmp_path: Path, tiny_clip: tuple[Path, Path]) -> Iterator[LiveDaemon]:
    root, db = make_root(
        tmp_path
    )  # boards: Landscapes (U1, DATED; MASK is intermediate), Old (archived)
    real_pngs(root)
    config_path, checkpoint = tiny_clip
    config = Config(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        model=ModelConfig(name=str(config_path), pretrained=str(checkpoint), device="cpu"),
        invokeai_root=root.resolve(),
    )
    try:
        with serve_live(config) as live:
            yield live
    finally:
        db.close()


def open_albums(page: Page, live: LiveDaemon) -> None:
    open_app(page, live.url)
    page.keyboard.press("a")
    expect(page.locator("#albums-dialog")).to_be_visible()


def test_add_album_from_invokeai_boards(invokeai_daemon: LiveDaemon, page: Page) -> None:
    live = invokeai_daemon
    open_albums(page, live)
    dialog = page.locator("#albums-dialog")
    dialog.get_by_role("button", name="Add album from InvokeAI boards").click()
    form = page.locator("#board-album-form")
    options = form.locator(".board-option")
    # Uncategorized first, then InvokeAI's boards, archived ones last and marked.
    expect(options).to_have_count(3)
    expect(options.nth(0)).to_contain_text("Uncategorized")
    expect(options.nth(1)).to_have_text(re.compile(r"Landscapes\s*2 images"))
    expect(options.nth(2)).to_have_text(re.compile(r"Old\s*0 images\s*archived"))
    expect(form.locator("#board-album-source")).to_contain_text(
        str(live.daemon.config.invokeai_root)
    )
    unnamed = form.evaluate(
        """(form) => [...form.querySelectorAll('button, input, select, textarea')]
            .filter((el) => !(el.getAttribute('aria-label') || (el.labels && el.labels.length)
                || el.textContent.trim() || el.title))
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    # The name follows the boards until the user types one.
    form.get_by_label("Landscapes").check()
    expect(form.get_by_label("Name")).to_have_value("Landscapes")
    form.get_by_label("Uncategorized").check()
    expect(form.get_by_label("Name")).to_have_value("Uncategorized + Landscapes")
    form.get_by_label("Name").fill("Best boards")
    expect(form.get_by_label("Key (used in URLs)")).to_have_value("best-boards")
    with page.expect_response(
        lambda r: r.url.endswith("/api/albums") and r.request.method == "POST"
    ) as info:
        form.get_by_role("button", name="Create album").click()
    assert info.value.status == 201, info.value.text()
    assert sorted(info.value.request.post_data_json["boards"]) == ["b1", "none"]
    expect(form).to_be_hidden()

    card = dialog.locator(".album-card[data-key='best-boards']")
    expect(card).to_have_class(re.compile(r"\balbum-card--boards\b"))
    expect(card.locator(".badge--boards")).to_have_text("InvokeAI boards")
    expect(card.locator(".board-chips li")).to_have_text(["Uncategorized", "Landscapes"])
    expect(card).to_contain_text("3 images", timeout=30_000)  # U1 + DATED + U2
    page.keyboard.press("Escape")
    # The first album becomes the one shown; its images arrived live.
    expect(page).to_have_url(re.compile(r"album=best-boards"))
    for name in (U1, U2, DATED):
        expect(page.locator(f".tile[aria-label^='{name}']")).to_be_visible()

    # Changing the boards of a board album uses the same form, pre-filled.
    page.keyboard.press("a")
    card.get_by_role("button", name="Change boards").click()
    expect(form.get_by_label("Landscapes")).to_be_checked()
    expect(form.get_by_label("Uncategorized")).to_be_checked()
    expect(form.get_by_label("Name")).to_have_value("Best boards")
    form.get_by_label("Uncategorized").uncheck()
    with page.expect_response(lambda r: r.url.endswith("/api/albums/best-boards")) as info:
        form.get_by_role("button", name="Save").click()
    assert info.value.status == 200, info.value.text()
    expect(card.locator(".board-chips li")).to_have_text(["Landscapes"])
    expect(card).to_contain_text("2 images", timeout=30_000)


def test_no_invokeai_database_is_explained(invokeai_daemon: LiveDaemon, page: Page) -> None:
    live = invokeai_daemon
    root = live.daemon.config.invokeai_root
    live.daemon.config.invokeai_root = root / "nowhere"
    open_albums(page, live)
    page.get_by_role("button", name="Add album from InvokeAI boards").click()
    form = page.locator("#board-album-form")
    missing = form.locator(".board-album-missing")
    expect(missing.locator("h4")).to_have_text("No InvokeAI database found")
    expect(missing).to_contain_text(
        f"InvokeAI database not found at {root / 'nowhere' / 'databases' / 'invokeai.db'}."
    )
    expect(form.get_by_role("button", name="Create album")).to_be_disabled()

    live.daemon.config.invokeai_root = None  # no root known at all (no --root, no env)
    form.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Add album from InvokeAI boards").click()
    expect(missing.locator("h4")).to_have_text("No InvokeAI database found")
    expect(missing).to_contain_text("Start photomapd with --root PATH (or set INVOKEAI_ROOT)")
