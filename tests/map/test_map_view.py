"""The map view in real Chromium: against the real daemon (renders, hover thumbnail, click,
lasso, live growth) and against a static fixture server with a large clustered map (cluster
label click, highlight, current image, drag to pan)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from photomapd.map.payload import MapPoints, encode_payload
from tests.helpers import png_bytes, wait_for
from tests.map.test_map_api import COLOURS
from tests.ui.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

BACKGROUND = [0x15, 0x16, 0x1A]

RECORD_EVENTS = """() => {
  window.open = () => null;  // the standalone page opens the file; the test only listens
  window.seen = [];
  const map = document.getElementById("map");
  for (const name of ["photomapd:open-image", "photomapd:result-set"])
    map.addEventListener(name, (e) => window.seen.push({ name, detail: e.detail }));
}"""

PAINTED_PIXELS = """([r, g, b]) => {
  const canvas = document.querySelector("#map canvas");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 0; i < data.length; i += 4)
    if (data[i] !== r || data[i + 1] !== g || data[i + 2] !== b) painted++;
  return painted;
}"""


@pytest.fixture
async def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def test_map_renders_hovers_clicks_lassos_and_grows_live(
    tmp_path: Path, make_config, start_daemon, browser
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for number, colour in enumerate(COLOURS):
        (folder / f"img{number}.png").write_bytes(png_bytes(colour))
    running = await start_daemon(make_config(folder))

    async def map_ready() -> bool:
        status, body = await running.get("/api/albums/album0/map")
        ready = status == 200 and body["status"] == "ready"
        return ready and body["count"] == len(COLOURS)

    await wait_for(map_ready, timeout=30, message="map laid out")
    page = await browser.new_page(viewport={"width": 800, "height": 600})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(running.url + "/map.html?album=album0")
    await page.wait_for_selector("#map[data-ready='true']", timeout=15_000)
    await page.evaluate(RECORD_EVENTS)
    assert await page.get_attribute("#map", "data-count") == str(len(COLOURS))
    assert await page.evaluate(PAINTED_PIXELS, BACKGROUND) >= len(COLOURS) * 4

    _, images = await running.get("/api/albums/album0/images?limit=50")
    image_id = images["items"][0]["id"]
    box = await page.locator("#map").bounding_box()
    assert box is not None
    point = await page.evaluate(f"window.photomapdMap.screenPosition({image_id})")
    x, y = box["x"] + point["x"], box["y"] + point["y"]

    # Hover: the tooltip shows that image's thumbnail, and it really loads.
    await page.mouse.move(x - 30, y - 30)
    await page.mouse.move(x, y, steps=5)
    tooltip = page.locator(".pm-map-tooltip")
    await tooltip.wait_for(state="visible", timeout=5_000)
    hovered = int(await tooltip.get_attribute("data-id") or -1)
    src = await tooltip.locator("img").get_attribute("src")
    assert src == f"/api/images/{hovered}/thumbnail"
    await page.wait_for_function(
        "document.querySelector('.pm-map-tooltip img').naturalWidth > 0", timeout=10_000
    )
    # Several tiny-model points may overlap; the one under the cursor is at this spot.
    hovered_point = await page.evaluate(f"window.photomapdMap.screenPosition({hovered})")
    assert abs(hovered_point["x"] - point["x"]) < 9 and abs(hovered_point["y"] - point["y"]) < 9

    # Click opens the hovered image.
    await page.mouse.click(x, y)
    seen = await page.evaluate("window.seen")
    assert {"name": "photomapd:open-image", "detail": {"id": hovered}} in seen

    # Shift+drag a lasso around the whole canvas: every point becomes the result set.
    await page.keyboard.down("Shift")
    await page.mouse.move(box["x"] + 3, box["y"] + 3)
    await page.mouse.down()
    for corner_x, corner_y in [(797, 3), (797, 560), (3, 560), (3, 4)]:
        await page.mouse.move(box["x"] + corner_x, box["y"] + corner_y, steps=4)
    await page.mouse.up()
    await page.keyboard.up("Shift")
    result_sets = [
        event["detail"]
        for event in await page.evaluate("window.seen")
        if event["name"] == "photomapd:result-set"
    ]
    assert result_sets and sorted(result_sets[-1]["ids"]) == sorted(
        item["id"] for item in images["items"]
    )

    # Wheel zoom keeps the page alive and changes what is drawn.
    before = await page.evaluate(f"window.photomapdMap.screenPosition({image_id})")
    await page.mouse.move(box["x"] + 100, box["y"] + 100)
    await page.mouse.wheel(0, -600)
    await page.wait_for_timeout(100)
    after = await page.evaluate(f"window.photomapdMap.screenPosition({image_id})")
    assert after != before

    # A newly indexed image appears without a reload.
    (folder / "late.png").write_bytes(png_bytes((250, 250, 0)))
    await page.wait_for_selector(f"#map[data-count='{len(COLOURS) + 1}']", timeout=30_000)

    # A file rewritten with another picture moves on the open map; a deleted one leaves it.
    rewritten = next(item["id"] for item in images["items"] if item["name"] == "img0.png")
    was = await page.evaluate(f"window.photomapdMap.screenPosition({rewritten})")
    (folder / "img0.png").write_bytes(png_bytes(COLOURS[2]))
    await page.wait_for_function(
        f"(was) => {{ const p = window.photomapdMap.screenPosition({rewritten});"
        " return p && (Math.abs(p.x - was.x) > 0.5 || Math.abs(p.y - was.y) > 0.5); }",
        arg=was,
        timeout=30_000,
    )
    (folder / "img1.png").unlink()
    await page.wait_for_selector(f"#map[data-count='{len(COLOURS)}']", timeout=30_000)
    removed = next(item["id"] for item in images["items"] if item["name"] == "img1.png")
    assert await page.evaluate(f"window.photomapdMap.screenPosition({removed})") is None
    assert errors == []


WEB = Path(__file__).resolve().parents[2] / "web"
FIXTURE_POINTS = 20_000


def _fixture_app(
    strengths: list[float] | None = None,
) -> tuple[web.Application, np.ndarray, np.ndarray]:
    """A daemon stand-in serving only what the map page needs: 3 planted clusters. With
    `strengths`, PUT .../map/strength is recorded there: below 0.5 the 3 clusters, from 0.5 on
    one cluster of everything (as a real recluster merges them)."""
    rng = np.random.default_rng(4)
    centres = np.array([[0.2, 0.3], [0.75, 0.25], [0.5, 0.8]])
    labels = rng.integers(0, 3, FIXTURE_POINTS)
    xy = np.clip(centres[labels] + rng.normal(0, 0.04, (FIXTURE_POINTS, 2)), 0, 1)
    ids = np.arange(1, FIXTURE_POINTS + 1) * 3  # gaps, as after deletions
    current = {"strength": 0.2 if strengths is None else 0.5}

    def merged() -> bool:
        return current["strength"] >= 0.5 and strengths is not None

    def clusters() -> dict:
        if merged():
            every = {"cluster": 0, "label": "everything", "words": ["everything"]}
            every |= {"size": FIXTURE_POINTS, "representative_id": int(ids[0])}
            infos = [every | {"centroid": [0.5, 0.5]}]
        else:
            infos = [
                {
                    "cluster": c,
                    "label": f"subject{c}",
                    "words": [f"subject{c}"],
                    "size": 1,
                    "representative_id": int(ids[labels == c][0]),
                    "centroid": centres[c].tolist(),
                }
                for c in range(3)
            ]
        return {"album": "fixture", "strength": current["strength"], "clusters": infos}

    async def albums(request: web.Request) -> web.Response:
        return web.json_response({"albums": [{"key": "fixture", "name": "Fixture"}]})

    async def map_body(request: web.Request) -> web.Response:
        shown = np.zeros_like(labels) if merged() else labels
        payload = encode_payload(MapPoints.build(ids, xy, shown), "fixture", len(strengths or []))
        payload["status"] = "ready"
        return web.Response(text=json.dumps(payload), content_type="application/json")

    async def map_clusters(request: web.Request) -> web.Response:
        return web.json_response(clusters())

    async def put_strength(request: web.Request) -> web.Response:
        strength = float((await request.json())["strength"])
        assert strengths is not None
        strengths.append(strength)
        current["strength"] = strength
        return web.json_response(clusters())

    async def no_events(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/api/albums", albums)
    app.router.add_get("/api/albums/fixture/map", map_body)
    app.router.add_get("/api/albums/fixture/map/clusters", map_clusters)
    app.router.add_put("/api/albums/fixture/map/strength", put_strength)
    app.router.add_get("/api/events", no_events)
    app.router.add_static("/", WEB)
    return app, ids, labels


PIXEL_AT = """([x, y]) => {
  const canvas = document.querySelector("#map canvas");
  return Array.from(canvas.getContext("2d").getImageData(Math.round(x), Math.round(y), 1, 1).data);
}"""


async def test_cluster_labels_highlights_and_panning_on_a_large_map(browser) -> None:
    app, ids, labels = _fixture_app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        page = await browser.new_page(viewport={"width": 900, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"http://127.0.0.1:{port}/map.html")
        await page.wait_for_selector("#map[data-ready='true']", timeout=20_000)
        await page.evaluate(RECORD_EVENTS)
        assert await page.get_attribute("#map", "data-count") == str(FIXTURE_POINTS)

        # Clicking a cluster's label yields exactly that cluster's images as a result set.
        await page.get_by_role("button", name="subject1 (1)").click()
        seen = await page.evaluate("window.seen")
        detail = seen[-1]["detail"]
        assert seen[-1]["name"] == "photomapd:result-set" and detail["cluster"] == 1
        assert sorted(detail["ids"]) == sorted(ids[labels == 1].tolist())

        # Highlighted images get a white dot; the current image a yellow ring.
        target = int(ids[labels == 2][0])
        await page.evaluate(f"window.photomapdMap.highlight([{target}])")
        await page.evaluate("window.photomapdMap.drawNow()")
        spot = await page.evaluate(f"window.photomapdMap.screenPosition({target})")
        assert (await page.evaluate(PIXEL_AT, [spot["x"], spot["y"]]))[:3] == [255, 255, 255]
        # The host page can also set the current image by event.
        await page.evaluate(
            "(id) => document.getElementById('map').dispatchEvent("
            "new CustomEvent('photomapd:current-image', {detail: {id}}))",
            target,
        )
        await page.evaluate("window.photomapdMap.drawNow()")
        ring = await page.evaluate(PIXEL_AT, [spot["x"] + 7, spot["y"]])
        assert ring[0] > 200 and ring[1] > 180 and ring[2] < 80, ring

        # Dragging pans the map by the drag distance.
        box = await page.locator("#map").bounding_box()
        assert box is not None
        start = (box["x"] + 450, box["y"] + 650)
        await page.mouse.move(*start)
        await page.mouse.down()
        await page.mouse.move(start[0] - 100, start[1] - 40, steps=5)
        await page.mouse.up()
        moved = await page.evaluate(f"window.photomapdMap.screenPosition({target})")
        assert moved["x"] == pytest.approx(spot["x"] - 100, abs=1)
        assert moved["y"] == pytest.approx(spot["y"] - 40, abs=1)
        assert errors == []
    finally:
        await runner.cleanup()


async def test_cluster_strength_slider_reclusters_by_keyboard_and_lives_in_the_url(
    browser,
) -> None:
    strengths: list[float] = []
    app, _, _ = _fixture_app(strengths)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        page = await browser.new_page(viewport={"width": 900, "height": 700})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A bookmarked URL with a strength: the map is reclustered to it once loaded.
        await page.goto(f"http://127.0.0.1:{port}/map.html?album=fixture&strength=0.3")
        await page.wait_for_selector("#map[data-strength='0.3']", timeout=20_000)
        assert strengths == [0.3]
        slider = page.get_by_role("slider", name="Cluster strength")
        assert await slider.input_value() == "0.3"
        assert await page.get_by_role("button", name="subject1 (1)").count() == 1

        # Keyboard only: focus the slider, five steps right. One request for the final value.
        await slider.focus()
        for _ in range(5):
            await slider.press("ArrowRight")
        await page.wait_for_selector("#map[data-strength='0.55']", timeout=10_000)
        assert strengths == [0.3, 0.55]
        assert "strength=0.55" in page.url and "album=fixture" in page.url
        # The labels and every point's cluster came back from the server at that strength.
        await page.get_by_role("button", name=f"everything ({FIXTURE_POINTS})").wait_for()
        assert await page.get_by_role("button", name="subject1 (1)").count() == 0

        # Reloading keeps it (the URL), without another request (the server already has it).
        await page.reload()
        await page.wait_for_selector("#map[data-strength='0.55']", timeout=20_000)
        assert await page.get_by_role("slider", name="Cluster strength").input_value() == "0.55"
        assert strengths == [0.3, 0.55]
        assert errors == []
    finally:
        await runner.cleanup()
