"""Keyboard-only use and layout details found in a QA pass, on the real daemon: Enter and Space
on a focused control activate it (never a shortcut), long prompts stay compact in the drawer,
sidebar and settings fields fit their values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.images import colour_folder, write_png
from tests.ui.live import LiveDaemon, serve_live, tiny_model_config
from tests.ui.pages import open_gallery

pytestmark = pytest.mark.browser

LONG_PROMPT = "masterpiece, best quality, " * 60 + "a castle at dusk"
LONG_NAME = "render_" + "a" * 90 + "_final.png"


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, tiny_clip: tuple[Path, Path]
) -> Iterator[LiveDaemon]:
    base = tmp_path_factory.mktemp("qa-ui")
    folder = colour_folder(base / "images", 3)
    metadata = {
        "generation_mode": "sdxl_txt2img",
        "positive_prompt": LONG_PROMPT,
        "negative_prompt": "blurry",
        "model": {"key": "k", "hash": "h", "name": "Juggernaut XL", "base": "sdxl", "type": "main"},
        "seed": 4294967295,
        "steps": 30,
    }
    write_png(folder / LONG_NAME, (120, 60, 200), text={"invokeai_metadata": json.dumps(metadata)})
    config = tiny_model_config(base / "data", tiny_clip, folder)
    with serve_live(config, indexed=4) as live:
        yield live


def test_enter_and_space_activate_the_focused_control(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    # Gallery: Enter on a focused header button opens that button's dialog, not the viewer.
    page.focus("#btn-settings")
    page.keyboard.press("Enter")
    expect(page.locator("#settings-dialog")).to_have_attribute("open", "")
    expect(page.locator("#viewer")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator("#settings-dialog")).not_to_have_attribute("open", "")
    page.focus("#btn-help")
    page.keyboard.press(" ")
    expect(page.locator("#help-dialog")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    # The skip link takes keyboard users to the grid, where Enter then opens the viewer.
    page.focus(".skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("#viewer")).to_be_hidden()
    page.focus("#grid")
    page.keyboard.press("Enter")
    expect(page.locator("#viewer")).to_be_visible()

    # Viewer: Space on a focused toolbar button presses that button, not the slideshow too.
    page.focus("#viewer-zoom-in")
    page.keyboard.press(" ")
    expect(page.locator("#viewer-zoom-level")).not_to_have_text("100%")
    expect(page.locator("#viewer-play")).to_have_attribute("aria-pressed", "false")
    page.focus("#viewer-info")
    expanded = page.get_attribute("#viewer-info", "aria-expanded")
    page.keyboard.press("Enter")
    expect(page.locator("#viewer-info")).not_to_have_attribute("aria-expanded", expanded or "")
    # A button merely clicked with the mouse keeps Space as the slideshow shortcut.
    page.click("#viewer-zoom-out")
    page.keyboard.press(" ")
    expect(page.locator("#viewer-play")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press(" ")
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    assert page.js_errors == []  # type: ignore[attr-defined]


def test_a_long_prompt_starts_folded_so_the_settings_below_stay_in_view(
    live: LiveDaemon, page: Page
) -> None:
    open_gallery(page, live.url)
    page.locator(".tile[aria-label^='render_aaa']").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_be_visible()
    prompt = drawer.locator(".meta-row", has=page.locator("dt", has_text="Prompt")).first
    expect(prompt).to_be_visible()
    folded = prompt.bounding_box()
    assert folded and folded["height"] < 200, folded
    model = drawer.locator(".meta-row", has=page.locator("dt", has_text="Model")).first
    box, pane = model.bounding_box(), drawer.bounding_box()
    assert box and pane and box["y"] + box["height"] <= pane["y"] + pane["height"]
    toggle = prompt.get_by_role("button", name="Show all (1,636 characters)")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    page.keyboard.press("Enter")  # keyboard-only: the toggle, not a shortcut
    expect(prompt.get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )
    unfolded = prompt.bounding_box()
    assert unfolded and unfolded["height"] > 2 * folded["height"], unfolded
    expect(prompt.locator(".meta-value")).to_have_text(LONG_PROMPT)


def test_sidebar_seed_and_dates_show_their_whole_value(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    page.fill("#f-seed", "4294967295")  # InvokeAI's largest seed
    assert page.eval_on_selector("#f-seed", "e => e.scrollWidth <= e.clientWidth")
    # A date field at least as wide as the browser's own width for one (mm/dd/yyyy + picker).
    natural = page.evaluate(
        "() => { const probe = document.createElement('input'); probe.type = 'date';"
        " probe.style.width = 'auto'; document.querySelector('#filters-form').append(probe);"
        " const width = probe.getBoundingClientRect().width; probe.remove(); return width; }"
    )
    for selector in ("#f-since", "#f-until"):
        width = page.eval_on_selector(selector, "e => e.getBoundingClientRect().width")
        assert width >= natural, (selector, width, natural)


def test_settings_username_and_password_fields_line_up(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    page.keyboard.press(",")
    user, password = page.locator("#i-user"), page.locator("#i-password")
    expect(password).to_be_visible()
    user_box, password_box = user.bounding_box(), password.bounding_box()
    assert user_box and password_box
    assert abs(user_box["y"] - password_box["y"]) < 1, (user_box, password_box)


def test_phone_filter_sheet_takes_focus_and_escape_closes_it(
    live: LiveDaemon, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        open_gallery(page, live.url)
        page.focus("#btn-sidebar")
        page.keyboard.press("Enter")
        expect(page.locator("#btn-sidebar")).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#sidebar-close")).to_be_focused()
        page.keyboard.press("Tab")
        assert page.evaluate("document.querySelector('#sidebar').contains(document.activeElement)")
        page.keyboard.press("Escape")
        expect(page.locator("#btn-sidebar")).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#btn-sidebar")).to_be_focused()
        expect(page.locator("body")).not_to_have_class("sidebar-open")
        page.wait_for_function(  # slid away (transform transition), out of the viewport
            "() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0"
        )
    finally:
        context.close()


def test_typing_a_date_or_arrowing_a_select_runs_one_search(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/api/search?" in r.url else None)
    start = page.evaluate("history.length")
    page.focus("#f-since")
    page.keyboard.type("01152025", delay=40)  # Chrome's change fires at 0002, 0020, 0202, 2025
    expect(page.locator("#result-title")).to_contain_text("since: 2025-01-15")
    page.wait_for_timeout(1000)  # what a storm would need to show up; nothing may follow
    assert len(searches) == 1, searches
    assert "since=2025-01-15" in searches[0]
    assert page.evaluate("history.length") == start + 1  # Back skips no half-typed dates
    # Arrowing through the model list: one search; a checkbox ticked while the choice is still
    # settling takes it along (one search with both).
    open_gallery(page, live.url)
    searches.clear()
    page.focus("#f-model")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    page.check("#f-ref")
    expect(page.locator("#result-title")).to_contain_text(
        "model: Juggernaut XL, with reference images"
    )
    page.wait_for_timeout(1000)
    assert len(searches) == 1, searches
    assert "model=Juggernaut+XL" in searches[0] and "has_reference=true" in searches[0]


def test_tab_stays_inside_the_open_viewer(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    page.locator(".tile[aria-label^='render_aaa']").click()  # the drawer has many controls
    expect(page.locator("#viewer")).to_be_focused()  # the dialog; Tab reaches Close first
    page.keyboard.press("Tab")
    expect(page.locator("#viewer-close")).to_be_focused()
    inside = "document.querySelector('#viewer').contains(document.activeElement)"
    seen = set()
    for _ in range(60):  # more than the viewer's controls: Tab wraps around at least once
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement === document.body"):
            continue  # the browser's own UI between the last and first control
        assert page.evaluate(inside), page.evaluate("document.activeElement.outerHTML")
        seen.add(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert {"viewer-close", "viewer-info", "viewer-next"} <= seen
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(inside)
    page.keyboard.press("Escape")
    expect(page.locator("#viewer")).to_be_hidden()
    page.focus("#btn-albums")  # the page behind is usable again
    expect(page.locator("#btn-albums")).to_be_focused()


def test_a_long_file_name_keeps_the_viewer_toolbar_on_one_row(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    page.locator(".tile[aria-label^='seed_0']").click()
    toolbar = page.locator(".viewer-toolbar")
    expect(page.locator("#viewer-caption")).to_have_text("seed_0.png")
    short = toolbar.bounding_box()
    page.keyboard.press("Home")  # newest first: the long name was written last
    caption = page.locator("#viewer-caption")
    expect(caption).to_have_text(LONG_NAME)
    expect(caption).to_have_attribute("title", LONG_NAME)
    long = toolbar.bounding_box()
    assert short and long and long["height"] == short["height"], (short, long)
    assert page.eval_on_selector("#viewer-caption", "e => e.scrollWidth > e.clientWidth")


def test_settings_save_only_what_changed_and_say_so(live: LiveDaemon, page: Page) -> None:
    open_gallery(page, live.url)
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    page.keyboard.press(",")
    expect(page.locator("#invokeai-status")).to_contain_text("Not configured")
    notice = page.locator("#settings-notice")
    page.fill("#s-idle", "45")
    page.click("#settings-form button[type=submit]")
    # Only the model section changed: its message alone, no InvokeAI save or re-check.
    expect(notice).to_have_text("Settings saved.")
    assert live.daemon.embedder.idle_unload_seconds == 45
    assert [url.split("/api/")[1] for url in puts] == ["settings"], puts
    page.click("#settings-form button[type=submit]")
    expect(notice).to_have_text("Nothing to save: no setting was changed.")
    page.fill("#i-user", "ada")
    page.click("#settings-form button[type=submit]")
    expect(notice).to_contain_text("InvokeAI settings saved.")
    expect(notice).not_to_contain_text("Settings saved.")
    assert [url.split("/api/")[1] for url in puts] == ["settings", "invokeai/settings"], puts


def test_no_matches_says_what_to_loosen(live: LiveDaemon, page: Page) -> None:
    page.goto(live.url + "/?prompt=zzzznothing")
    empty = page.locator("#empty")
    expect(empty).to_contain_text("No matches")
    expect(empty).to_contain_text("Try removing the prompt words filter.")
    expect(empty).not_to_contain_text("negative")
    page.goto(live.url + "/?q=castle&negative=blurry&model=Nope&seed=1")
    expect(empty).to_contain_text(
        "Try other words, a lower negative weight or fewer filters (model, seed)."
    )
    empty.get_by_role("button", name="Clear search").click()
    expect(empty).to_be_hidden()
    expect(page.locator("#result-title")).to_contain_text("4 images")


def test_more_like_this_honours_favourites_only(live: LiveDaemon, page: Page) -> None:
    ids = {
        image["name"]: image["id"]
        for image in page.request.get(f"{live.url}/api/albums/all/images").json()["items"]
    }
    starred = ids["seed_1.png"]
    assert page.request.put(f"{live.url}/api/images/{starred}/favourite").ok
    try:
        page.goto(f"{live.url}/?fav=1&similar={ids['seed_0.png']}")
        expect(page.locator("#result-title")).to_contain_text("1 results")
        expect(page.locator(".tile[aria-label^='seed_1.png']")).to_be_visible()
        page.goto(f"{live.url}/?similar={ids['seed_0.png']}")
        expect(page.locator("#result-title")).to_contain_text("3 results")
    finally:
        assert page.request.delete(f"{live.url}/api/images/{starred}/favourite").ok
