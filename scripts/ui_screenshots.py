"""Screenshots of the main UI screens, from the real daemon on real images, into docs/screenshots.

    .venv/bin/python scripts/ui_screenshots.py [--corpus ../shared/corpus] [--out docs/screenshots]
        [--only map [--only gallery ...]]

Copies the corpus images into a temporary folder (they are never committed), starts a real
daemon on it with the tiny test CLIP model (no weights download), and photographs the gallery,
viewer, metadata drawer, search results, albums (and the board-album form, from a small
InvokeAI database written next to the copies), a file that cannot be read, settings, hotkeys,
phone layout and map.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from photomapd.config import AlbumConfig, Config, ModelConfig  # noqa: E402
from tests.invokeai.test_local_db import SCHEMA_614  # noqa: E402
from tests.tinyclip import write_tiny_clip  # noqa: E402
from tests.ui.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.ui.live import serve_live  # noqa: E402

MAX_BYTES = 300 * 1024
ONLY: set[str] = set()  # --only: the screenshots to write (all when empty)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_images(corpus: Path, target: Path) -> int:
    """Every readable corpus picture of at least 96 px, plus the broken ones (failure list)."""
    count = 0
    for source in sorted(corpus.glob("*/*")):
        if source.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            continue
        if source.stat().st_size == 0:
            continue  # a 0-byte file stays "being written" in the queue, never settled
        if source.parent.name != "broken":
            try:
                with Image.open(source) as image:
                    if min(image.size) < 96:
                        continue
            except OSError:
                continue
        shutil.copyfile(source, target / f"{source.parent.name}-{source.name}")
        count += 1
    return count


# Boards of the InvokeAI database written for the screenshots: name -> corpus folders on it.
BOARDS = {"InvokeAI 6 renders": ("invokeai-v6",), "Imported": ("a1111", "comfyui", "fooocus")}


def write_invokeai_database(root: Path, images: Path) -> None:
    """A databases/invokeai.db (InvokeAI 6.14's tables) listing the copied files, some on boards,
    so the albums screen can offer board albums."""
    (root / "databases").mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(root / "databases" / "invokeai.db") as db:
        db.executescript(SCHEMA_614)
        for number, name in enumerate(BOARDS):
            db.execute(
                "INSERT INTO boards (board_id, board_name) VALUES (?, ?)", (f"b{number}", name)
            )
        for file in sorted(images.iterdir()):
            db.execute(
                "INSERT INTO images (image_name, image_origin, image_category, width, height)"
                " VALUES (?, 'internal', 'general', 64, 64)",
                (file.name,),
            )
            for number, prefixes in enumerate(BOARDS.values()):
                if file.name.startswith(prefixes):
                    db.execute(
                        "INSERT INTO board_images (board_id, image_name) VALUES (?, ?)",
                        (f"b{number}", file.name),
                    )


def save(page: Page, out: Path, name: str) -> None:
    """PNG under 300 KB: full colour when it fits, else quantized to a 256-colour palette."""
    if ONLY and name not in ONLY:
        return
    data = page.screenshot()
    if len(data) > MAX_BYTES:
        image = Image.open(io.BytesIO(data)).convert("RGB")
        for colours in (256, 128, 64):
            buffer = io.BytesIO()
            image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(
                buffer, "PNG", optimize=True
            )
            data = buffer.getvalue()
            if len(data) <= MAX_BYTES:
                break
    (out / f"{name}.png").write_bytes(data)
    print(f"{name}.png {len(data) // 1024} KB")


def map_laid_out(url: str, album: str, timeout: float = 300.0) -> int | None:
    """Wait until the daemon's map of `album` is fitted (UMAP, in the background on first use:
    ~1 min with numba's first compile; status "fitting" until then, also while every point
    still waits at the centre) and clustered for that layout. Returns the number of clusters.
    Photographed before that, the view showed a single dot at the centre."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/albums/{album}/map") as response:
                body = json.load(response)
            with urllib.request.urlopen(f"{url}/api/albums/{album}/map/clusters") as response:
                clusters = json.load(response)
            if body["status"] == "ready" and clusters["version"] == body["version"]:
                return len(clusters["clusters"])
        except OSError:
            pass  # 503 map_loading right after start
        time.sleep(1)
    return None


def photograph_map(page: Page, url: str, out: Path) -> None:
    clusters = map_laid_out(url, "invokeai")
    if clusters is None:
        print("map not laid out after 300 s; photographing it as it is")
    elif clusters == 0:
        print("the map has no clusters at the default strength; no labels to show")
    page.click("#tab-map")
    holder = page.locator("#map-panel .map-holder")
    try:
        # The view has loaded the finished layout, rendered every cluster label, and drawn it.
        expect(holder).to_have_attribute("data-status", "ready", timeout=30_000)
        page.wait_for_function(
            "(n) => { const h = document.querySelector('#map-panel .map-holder');"
            " return Number(h.dataset.clusters) === n"
            " && h.querySelectorAll('.pm-map-label').length === n"
            " && h.dataset.drawnVersion === h.dataset.version; }",
            arg=clusters or 0,
            timeout=30_000,
        )
    except (AssertionError, PlaywrightTimeout):
        print("the map view did not show a finished layout; photographing it as it is")
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    page.wait_for_timeout(300)  # label fonts settle
    save(page, out, "map")


def shoot(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url + "/")
        expect(page.locator("#conn-dot")).to_have_attribute("data-state", "open")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(800)
        save(page, out, "gallery")

        page.locator(".tile[aria-label^='invokeai-v6-v630-sdxl']").first.click()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(600)
        save(page, out, "drawer")
        raw = page.locator("details.raw-json summary").first
        if raw.count():
            raw.click()
            page.locator("#drawer").evaluate("d => { d.scrollTop = d.scrollHeight / 3; }")
            page.wait_for_timeout(300)
            save(page, out, "drawer-raw-json")
        page.keyboard.press("i")
        page.keyboard.press("ArrowRight")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        save(page, out, "viewer")
        page.keyboard.press("Escape")

        page.fill("#q", "portrait of a woman")
        page.click("#btn-negative")
        page.fill("#negative", "text, watermark")
        page.press("#q", "Enter")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(800)
        save(page, out, "search")
        page.click("#clear-search")

        page.keyboard.press("a")
        failed = page.locator("#albums-dialog button", has_text="Failed files")
        if failed.count():
            failed.first.click()
            page.wait_for_timeout(400)
        save(page, out, "albums")
        page.locator("#albums-dialog button", has_text="Add album from InvokeAI boards").click()
        page.locator("#board-album-form .board-option").first.wait_for()
        page.locator("#board-album-form").get_by_label("InvokeAI 6 renders").check()
        page.wait_for_timeout(200)
        save(page, out, "albums-boards")
        page.locator("#board-album-form button[type=submit]").click()
        page.locator(".album-card--boards").wait_for()
        page.wait_for_timeout(1500)  # counts arrive with the next status refresh
        save(page, out, "albums-board-album")
        page.keyboard.press("Escape")

        failed = page.request.get(url + "/api/albums/invokeai/failures").json()["items"]
        broken = [item for item in failed if "truncated" in item["path"]] or failed
        if broken:
            page.goto(f"{url}/?image={broken[0]['id']}")
            page.locator("#viewer-problem").wait_for()
            page.wait_for_timeout(500)
            save(page, out, "viewer-unreadable")
            page.keyboard.press("Escape")  # the grid scrolled to it: its tile and neighbours
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(600)
            save(page, out, "gallery-unreadable")
            page.goto(url + "/")
            expect(page.locator("#conn-dot")).to_have_attribute("data-state", "open")

        page.keyboard.press(",")
        page.wait_for_timeout(500)
        save(page, out, "settings")
        page.keyboard.press("Escape")

        page.keyboard.press("?")
        page.wait_for_timeout(200)
        save(page, out, "hotkeys")
        page.keyboard.press("Escape")

        photograph_map(page, url, out)

        phone = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        mobile = phone.new_page()
        mobile.goto(url + "/")
        mobile.wait_for_load_state("networkidle")
        mobile.wait_for_timeout(800)
        save(mobile, out, "phone")
        mobile.locator("#tile-3").tap()
        mobile.wait_for_load_state("networkidle")
        mobile.wait_for_timeout(600)
        save(mobile, out, "phone-viewer")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument(
        "--only", action="append", default=[], help="write only this screenshot (repeatable)"
    )
    args = parser.parse_args()
    ONLY.update(args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="photomapd-shots-") as temp:
        base = Path(temp)
        folder = base / "invokeai" / "outputs" / "images"
        folder.mkdir(parents=True)
        count = copy_images(args.corpus, folder)
        if not count:
            sys.exit(f"no images found under {args.corpus}: pass --corpus PATH/TO/shared/corpus")
        config_path, checkpoint = write_tiny_clip(base / "model")
        config = Config(
            data_dir=base / "data",
            host="127.0.0.1",
            port=free_port(),  # a real port number, as the settings screen shows it
            model=ModelConfig(name=str(config_path), pretrained=str(checkpoint), device="cpu"),
        )
        config.albums.append(AlbumConfig("invokeai", "InvokeAI outputs", [folder]))
        write_invokeai_database(base / "invokeai", folder)
        config.invokeai_root = base / "invokeai"
        with serve_live(config, indexed=count, index_timeout=120) as live:
            shoot(live.url, args.out)


if __name__ == "__main__":
    main()
