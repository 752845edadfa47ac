"""Idle footprint: resident memory of the daemon and every process it started, summed, once it has
idled after real work (indexing with the model in its worker, a UMAP refit in the map worker).

Starts `python -m photomapd run --headless` on a folder of N InvokeAI-like PNGs, waits until all
are embedded, asks for a map refit (so the map worker runs too), then samples the process tree
(/proc, the daemon and all its descendants) every half second until model.idle_unload_seconds +
20 s after the last work. Prints the peak while working, the tree after idling, when it first
fell under the limit, and the ratio to it. Linux only (/proc).

Run: PYTHONPATH=. /work/main/.venv/bin/python bench/bench_idle_memory.py \
        [--model vit-b-32|tiny] [--images 40] [--idle 10]

`vit-b-32` is ViT-B-32 with random weights (the default model's size; no hub needed); `tiny` is
the test suite's tiny CLIP.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_core import invokeai_like_pngs, write_vit_b32  # noqa: E402
from tests.processes import (  # noqa: E402
    ProcessInfo,
    free_port,
    is_resource_tracker,
    process_tree,
    start_daemon_process,
)
from tests.tinyclip import write_tiny_clip  # noqa: E402

LIMIT_MB = 250.0


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post_json(url: str) -> dict:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_until(check, timeout: float, what: str, on_tick=None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if on_tick is not None:
            on_tick()
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def total_mb(tree: list[ProcessInfo]) -> float:
    return sum(info.rss_mb for info in tree)


def workers(tree: list[ProcessInfo]) -> list[ProcessInfo]:
    """Everything below the daemon except multiprocessing's small resource tracker."""
    return [info for info in tree[1:] if not is_resource_tracker(info.pid)]


def describe(tree: list[ProcessInfo]) -> str:
    return ", ".join(f"{info.name} (pid {info.pid}) {info.rss_mb:.0f} MB" for info in tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["vit-b-32", "tiny"], default="vit-b-32")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--idle", type=float, default=10.0, help="model.idle_unload_seconds")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="photomapd-idle-") as temporary:
        work = Path(temporary)
        if options.model == "tiny":
            model = write_tiny_clip(work / "model")
        else:
            model = (Path("ViT-B-32"), write_vit_b32(work))
        folder = work / "pictures"
        invokeai_like_pngs(folder, options.images, 512)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        daemon = start_daemon_process(
            work / "data",
            model,  # type: ignore[arg-type]
            port,
            folder,
            idle_unload_seconds=options.idle,
            log_path=work / "daemon.log",
        )
        peak: list[ProcessInfo] = []
        seen: dict[str, float] = {}

        def sample() -> list[ProcessInfo]:
            tree = process_tree(daemon.pid)
            if total_mb(tree) > total_mb(peak):
                peak[:] = tree
            for info in tree:
                seen[info.name] = max(seen.get(info.name, 0.0), info.rss_mb)
            return tree

        try:
            started = time.monotonic()

            def indexed() -> dict | None:
                sample()
                status = get_json(f"{base}/api/status")
                done = (
                    status["total_images"] == options.images
                    and status["indexing"]["embeddings_owed"] == 0
                )
                return status if done else None

            status = wait_until(indexed, 600, "indexing")
            print(f"indexed {options.images} images in {time.monotonic() - started:.1f} s")
            album = status["albums"][0]["key"]
            refit = post_json(f"{base}/api/albums/{album}/map/refit")
            print(f"map refit: {refit['refit']}")

            def fitted() -> bool:
                sample()
                body = get_json(f"{base}/api/albums/{album}/map")
                return body.get("status") == "ready"

            time.sleep(1)  # the refit has started (status "fitting") before we look
            wait_until(fitted, 600, "the map refit")
            last_work = time.monotonic()
            print(f"refit done; last work at t={last_work - started:.1f} s")

            under_at: float | None = None
            workers_gone_at: float | None = None
            while time.monotonic() - last_work < options.idle + 20:
                tree = sample()
                elapsed = time.monotonic() - last_work
                if under_at is None and total_mb(tree) <= LIMIT_MB:
                    under_at = elapsed
                if workers_gone_at is None and not workers(tree):
                    workers_gone_at = elapsed
                time.sleep(0.5)
            idle_tree = sample()
            idle_workers = workers(idle_tree)  # while /proc still shows who is who
        finally:
            daemon.terminate()
            daemon.wait(30)

    idle_total = total_mb(idle_tree)
    print()
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"model {options.model}, {options.images} images, idle_unload_seconds {options.idle:g}"
    )
    print(f"peak while working: {total_mb(peak):.0f} MB — {describe(peak)}")
    print(
        "largest RSS seen per process name: "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in seen.items())
    )
    print(f"after idling (+{options.idle + 20:g} s): {idle_total:.0f} MB — {describe(idle_tree)}")
    print(
        "under the limit after: "
        + (f"{under_at:.1f} s" if under_at is not None else "never")
        + "; no worker left after: "
        + (f"{workers_gone_at:.1f} s" if workers_gone_at is not None else "never")
    )
    verdict = "PASS" if idle_total <= LIMIT_MB and not idle_workers else "FAIL"
    print(
        f"idle footprint {idle_total:.0f} MB, limit {LIMIT_MB:.0f} MB, "
        f"ratio {LIMIT_MB / idle_total:.2f} — {verdict}"
    )


if __name__ == "__main__":
    main()
