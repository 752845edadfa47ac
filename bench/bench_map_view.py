"""Map view at scale: real Chromium draws a 100,000-point map served by a static fixture server.

Run: /work/main/.venv/bin/python bench/bench_map_view.py [--points 100000]
Prints the payload fetch + decode time, and the median cost of one frame while panning and
zooming (target: 16.7 ms per frame for 60 fps; ratio <= 1.0 meets it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from photomapd.map.payload import MapPoints, encode_payload  # noqa: E402
from tests.ui.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def fixture_app(points: int) -> web.Application:
    rng = np.random.default_rng(0)
    centres = rng.random((30, 2)) * 0.8 + 0.1
    labels = rng.integers(0, 30, points)
    xy = np.clip(centres[labels] + rng.normal(0, 0.03, (points, 2)), 0, 1)
    payload = encode_payload(MapPoints.build(np.arange(1, points + 1), xy, labels), "big", 1)
    payload["status"] = "ready"
    body = json.dumps(payload).encode()
    clusters = {
        "clusters": [
            {
                "cluster": c,
                "label": f"cluster {c}",
                "size": int((labels == c).sum()),
                "centroid": centres[c].tolist(),
                "words": [],
                "representative_id": 1,
            }
            for c in range(30)
        ]
    }
    app = web.Application()
    app.router.add_get(
        "/api/albums", lambda r: web.json_response({"albums": [{"key": "big", "name": "Big"}]})
    )
    app.router.add_get(
        "/api/albums/big/map", lambda r: web.Response(body=body, content_type="application/json")
    )
    app.router.add_get("/api/albums/big/map/clusters", lambda r: web.json_response(clusters))
    app.router.add_get("/api/events", lambda r: web.Response(status=204))
    app.router.add_static("/", ROOT / "web")
    return app


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    from playwright.async_api import async_playwright

    runner = web.AppRunner(fixture_app(args.points))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        started = asyncio.get_running_loop().time()
        await page.goto(f"http://127.0.0.1:{port}/map.html?album=big")
        await page.wait_for_selector("#map[data-ready='true']", timeout=60_000)
        loaded = asyncio.get_running_loop().time() - started
        frames = await page.evaluate("""() => {
            const map = window.photomapdMap, costs = [];
            for (let i = 0; i < 30; i++) { map.panBy(7, -3); costs.push(map.drawNow()); }
            for (let i = 0; i < 30; i++) { map.zoomBy(1.05); costs.push(map.drawNow()); }
            return costs;
        }""")
        count = await page.get_attribute("#map", "data-count")
        await browser.close()
    await runner.cleanup()
    frame = statistics.median(frames)
    print(f"points drawn: {count}")
    print(f"{'page load to map ready':<40} {loaded * 1000:8.1f} ms")
    print(
        f"{'frame while panning/zooming (median)':<40} {frame:8.1f} ms  ratio {frame / 16.7:.3f} (target 16.7 ms)"
    )
    print(f"{'frame (max of 60)':<40} {max(frames):8.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
