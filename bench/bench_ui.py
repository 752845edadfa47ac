"""UI benchmark: first useful paint of the gallery on a warm daemon (target <= 1 s).

    .venv/bin/python bench/bench_ui.py [--images 400] [--runs 15]

Starts the real daemon as its own process (`photomapd run --headless`, as users run it) on a temp
folder of generated PNGs (tiny CLIP model, no download), waits until everything is indexed
(warm daemon), then loads the page in fresh browser contexts (cold
browser cache each time) and records, from navigation start:
  - dom:   DOMContentLoaded,
  - data:  the first page of images is in the grid (tile 0 has an image id),
  - paint: the first thumbnail has decoded and is on screen ("first useful paint").
It also times the raw API call the page depends on, in the same run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.tinyclip import write_tiny_clip  # noqa: E402
from tests.ui.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.ui.images import colours, write_png  # noqa: E402

# Records the moment the first tile's thumbnail is decoded and laid out, checked every frame.
PROBE = """
(() => {
  const marks = {};
  window.__uiMarks = marks;
  document.addEventListener("DOMContentLoaded", () => (marks.dom = performance.now()));
  const tick = () => {
    const tile = document.querySelector("#tile-0");
    if (!marks.data && tile && tile.dataset.id) marks.data = performance.now();
    const img = tile && tile.querySelector("img");
    if (img && img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0) {
      marks.paint = performance.now();
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure_page(url: str, runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"dom": [], "data": [], "paint": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(runs + 1):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            page.add_init_script(PROBE)
            page.goto(url + "/", wait_until="commit")
            page.wait_for_function("window.__uiMarks && window.__uiMarks.paint", timeout=15_000)
            marks = page.evaluate("window.__uiMarks")
            context.close()
            if run == 0:
                continue  # the first launch warms Chromium's own caches (code cache, fonts)
            for key in results:
                results[key].append(marks[key])
        browser.close()
    return results


def measure_api(url: str, runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with urllib.request.urlopen(
            url + "/api/albums/all/images?offset=0&limit=200&order=newest"
        ) as response:
            response.read()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in model.splitlines()
                if line.startswith("Model name")
            ),
            cpu,
        )
    except OSError:
        pass
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; {chromium}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_warm(url: str, images: int, daemon: subprocess.Popen[bytes], timeout: float = 600) -> None:
    """Until every image is indexed and embedded and the queue is empty."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.returncode}")
        try:
            with urllib.request.urlopen(url + "/api/status") as response:
                status = json.load(response)
            indexing = status["indexing"]
            if (
                status["total_images"] >= images
                and not indexing["queued"]
                and not indexing.get("embeddings_owed")
            ):
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"not indexed after {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photomapd-bench-ui-") as temp:
        base = Path(temp)
        folder = base / "outputs" / "images"
        folder.mkdir(parents=True)
        for index, colour in enumerate(colours(args.images)):
            write_png(folder / f"{index:05d}.png", colour, size=512)
        config_path, checkpoint = write_tiny_clip(base / "model")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "PHOTOMAPD_MODEL_NAME": str(config_path),
            "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
            "PHOTOMAPD_MODEL_DEVICE": "cpu",
        }
        command = [
            sys.executable,
            "-m",
            "photomapd",
            "--data-dir",
            str(base / "data"),
            "run",
            "--headless",
            "--port",
            str(port),
            str(folder),
        ]
        daemon = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_warm(url, args.images, daemon)
            measure_api(url, 5)  # warm the daemon: SQLite pages, route tables
            api = measure_api(url, args.runs)
            page = measure_page(url, args.runs)
        finally:
            daemon.terminate()
            daemon.wait(60)
    print(f"# UI first useful paint — {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {machine()}")
    print(
        f"album: {args.images} images (512 px PNG), warm daemon, cold browser cache, {args.runs} runs"
    )
    print("| measure (ms from navigation start) | median | p95 |")
    print("|---|---|---|")
    for key, label in (
        ("dom", "DOMContentLoaded"),
        ("data", "first page of images in the grid"),
        ("paint", "first thumbnail on screen (first useful paint)"),
    ):
        print(
            f"| {label} | {statistics.median(page[key]):.0f} | {percentile(page[key], 0.95):.0f} |"
        )
    print(
        f"| API alone: GET /api/albums/all/images?limit=200 | {statistics.median(api):.1f} | {percentile(api, 0.95):.1f} |"
    )
    paint = percentile(page["paint"], 0.95)
    print(
        f"first useful paint p95 / 1000 ms target = {paint / 1000:.2f} ({'met' if paint <= 1000 else 'MISSED'})"
    )
    print(
        f"first useful paint median / API call median = {statistics.median(page['paint']) / statistics.median(api):.1f}x"
    )


if __name__ == "__main__":
    main()
