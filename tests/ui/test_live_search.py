"""Open searches learn about new images on the real daemon: a "N new images — refresh results"
pill that re-runs the search with the URL unchanged, or, with the results at the top and the user
idle, a re-run by itself. The plain gallery keeps sliding new images in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.images import colour_folder, write_png
from tests.ui.live import LiveDaemon, serve_live, tiny_model_config, wait_indexed
from tests.ui.pages import open_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_clip: tuple[Path, Path]
) -> Iterator[LiveDaemon]:
    base = tmp_path_factory.mktemp("live-search")
    folder = colour_folder(base / "images", 4)
    config = tiny_model_config(base / "data", tiny_clip, folder)
    with serve_live(config, indexed=4) as live:
        yield live


def search(page: Page, live: LiveDaemon, text: str) -> None:
    open_app(page, live.url)
    page.fill("#q", text)
    page.press("#q", "Enter")
    expect(page.locator("#result-title")).to_contain_text(f"“{text}”")
    expect(page.locator("#tile-0")).to_have_attribute("aria-label", re.compile(r"score"))


def result_names(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        ".tile[data-id]:not([data-id=''])",
        "tiles => tiles.map(t => t.getAttribute('aria-label').split(',')[0])",
    )


def test_new_images_offer_a_refresh_that_keeps_the_search(daemon: LiveDaemon, page: Page) -> None:
    # Never idle here: the pill must wait for the user.
    page.add_init_script("window.__photomapdSearchIdleMs = 1e9")
    search(page, daemon, "a green square")
    url = page.url
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/api/search?" in r.url else None)
    write_png(daemon.folder / "new_one.png", (20, 240, 20))
    write_png(daemon.folder / "new_two.png", (30, 230, 30))
    pill = page.locator("#new-results")
    expect(pill).to_have_text("2 new images — refresh results", timeout=10_000)
    assert "new_one.png" not in result_names(page)  # the user's results stay as they were
    assert searches == []
    with page.expect_response(lambda r: "/api/search?" in r.url) as info:
        pill.click()
    assert info.value.status == 200
    expect(pill).to_be_hidden()
    expect(page.locator(".tile[aria-label^='new_one.png']")).to_be_visible()
    expect(page.locator(".tile[aria-label^='new_two.png']")).to_be_visible()
    assert page.url == url  # same search, same URL: back/forward and bookmarks unchanged
    assert page.input_value("#q") == "a green square"
    expect(page.locator("#result-title")).to_contain_text("6 results")

    # A filter-only search (no model involved) learns about new images the same way.
    page.goto(daemon.url + "/?since=2000-01-01")
    expect(page.locator("#result-title")).to_contain_text("since: 2000-01-01 · 6 results")
    url = page.url
    write_png(daemon.folder / "new_three.png", (40, 220, 40))
    expect(pill).to_have_text("1 new image — refresh results", timeout=10_000)
    pill.click()
    expect(page.locator("#result-title")).to_contain_text("since: 2000-01-01 · 7 results")
    assert page.url == url


def test_idle_results_at_the_top_rerun_by_themselves(daemon: LiveDaemon, page: Page) -> None:
    page.add_init_script(
        "window.__photomapdSearchIdleMs = 300; window.__photomapdSearchRerunMs = 2000"
    )
    search(page, daemon, "a blue square")
    url = page.url
    reruns: list[str] = []
    page.on("request", lambda r: reruns.append(r.url) if "/api/search?" in r.url else None)
    write_png(daemon.folder / "auto_one.png", (20, 20, 240))
    expect(page.locator(".tile[aria-label^='auto_one.png']")).to_be_visible(timeout=10_000)
    expect(page.locator("#new-results")).to_be_hidden()
    assert page.url == url and len(reruns) == 1
    # A burst of new images re-runs at most once every ~2 s, not once per image.
    for index in range(3):
        write_png(daemon.folder / f"burst_{index}.png", (40 + index, 40, 220))
    for index in range(3):
        expect(page.locator(f".tile[aria-label^='burst_{index}.png']")).to_be_visible(
            timeout=10_000
        )
    assert 2 <= len(reruns) <= 3, reruns

    # The plain gallery still slides new images in without re-fetching.
    page.click("#clear-search")
    expect(page.locator("#result-title")).to_contain_text("images")
    write_png(daemon.folder / "gallery_live.png", (200, 200, 20))
    expect(page.locator("#tile-0")).to_have_attribute(
        "aria-label", re.compile(r"^gallery_live\.png"), timeout=5_000
    )
    expect(page.locator("#new-results")).to_be_hidden()


def invoke_png(
    path: Path, colour: tuple[int, int, int], prompt: str, model: str, lora: str = ""
) -> Path:
    metadata = {
        "generation_mode": "sdxl_txt2img",
        "positive_prompt": prompt,
        "model": {"key": "k", "hash": "h", "name": model, "base": "sdxl", "type": "main"},
        "seed": 7,
        "loras": [{"model": {"name": lora}, "weight": 0.5}] if lora else [],
    }
    return write_png(path, colour, text={"invokeai_metadata": json.dumps(metadata)})


@pytest.fixture
def empty_album(tmp_path: Path, tiny_clip: tuple[Path, Path]) -> Iterator[LiveDaemon]:
    """A daemon of its own whose one album folder starts empty."""
    folder = tmp_path / "filtered"
    folder.mkdir()
    with serve_live(tiny_model_config(tmp_path / "data", tiny_clip, folder)) as live:
        yield live


def test_new_images_count_only_what_every_filter_lets_in(
    empty_album: LiveDaemon, page: Page
) -> None:
    live = empty_album
    page.add_init_script("window.__photomapdSearchIdleMs = 1e9")
    open_app(page, live.url, "?q=a+castle&model=Juggernaut+XL&lora=ink&prompt=castle")
    expect(page.locator("#result-title")).to_contain_text("· 0 results")
    folder = live.folder
    invoke_png(folder / "match.png", (200, 20, 20), "a castle at dusk", "Juggernaut XL", "ink")
    invoke_png(folder / "no_lora.png", (20, 200, 20), "a castle at dusk", "Juggernaut XL")
    invoke_png(folder / "other_model.png", (20, 20, 200), "a castle", "Dreamshaper 8", "ink")
    invoke_png(folder / "other_prompt.png", (200, 200, 20), "a dog", "Juggernaut XL", "ink")
    write_png(folder / "plain.png", (20, 200, 200))
    pill = page.locator("#new-results")
    expect(pill).to_have_text("1 new image — refresh results", timeout=10_000)
    wait_indexed(live, 5)
    # Every image event has been judged by now: the four the filters drop never count.
    page.wait_for_function("() => !photomapd.liveSearch.unchecked.size")
    expect(pill).to_have_text("1 new image — refresh results")
    pill.click()
    expect(page.locator("#result-title")).to_contain_text("· 1 results")
    expect(page.locator(".tile[aria-label^='match.png']")).to_be_visible()

    bad = page.request.get(f"{live.url}/api/search/matching?ids=1,x")
    assert bad.status == 400 and "comma-separated" in bad.json()["error"]["message"]

    # Favourites only narrows a text search too (the daemon used to ignore it there).
    match_id = page.evaluate("photomapd.set.get(0).image.id")
    assert page.request.put(f"{live.url}/api/images/{match_id}/favourite").ok
    page.goto(live.url + "/?q=a+castle&fav=1")
    expect(page.locator("#result-title")).to_contain_text("· 1 results")
    expect(page.locator(".tile[aria-label^='match.png']")).to_be_visible()
