"""A real photomapd daemon on its own event-loop thread, for Playwright's sync API (tests,
screenshots and the UI benchmark all drive the page from the main thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photomapd.config import AlbumConfig, Config, ModelConfig
from photomapd.daemon import Daemon


@dataclass
class LiveDaemon:
    """A real photomapd daemon serving on 127.0.0.1 from a background event loop."""

    daemon: Daemon
    loop: asyncio.AbstractEventLoop
    folder: Path
    url: str

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


def start_live(config: Config) -> tuple[LiveDaemon, threading.Thread, asyncio.Event]:
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        daemon = Daemon(config)
        try:
            loop.run_until_complete(daemon.start())
        except BaseException as error:  # surfaced in the test thread below
            holder["error"] = error
            ready.set()
            loop.close()
            return
        holder.update(daemon=daemon, loop=loop, stop=stop)
        ready.set()
        loop.run_until_complete(stop.wait())
        loop.run_until_complete(daemon.stop())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name="photomapd-live", daemon=True)
    thread.start()
    assert ready.wait(60), "the daemon did not start within 60 s"
    if "error" in holder:
        raise holder["error"]
    folder = config.albums[0].folders[0] if config.albums else config.data_dir
    live = LiveDaemon(holder["daemon"], holder["loop"], folder, holder["daemon"].url)
    return live, thread, holder["stop"]


def stop_live(entry: tuple[LiveDaemon, threading.Thread, asyncio.Event]) -> None:
    live, thread, stop = entry
    live.loop.call_soon_threadsafe(stop.set)
    thread.join(60)


def wait_indexed(live: LiveDaemon, count: int, timeout: float = 60) -> dict[str, Any]:
    """Block until the albums hold `count` indexed (or failed) images and the queue is empty."""
    import time

    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = live.run(live.daemon.status())
        settled = sum(album["count"] + album["failed"] for album in status["albums"])
        if settled >= count and not status["indexing"]["queued"]:
            return status
        time.sleep(0.1)
    raise AssertionError(f"daemon did not index {count} images in {timeout} s: {status}")


def tiny_model_config(data_dir: Path, tiny_clip: tuple[Path, Path], folder: Path) -> Config:
    """A loopback daemon config with the tiny test model and one album, album0, on `folder`."""
    config_path, checkpoint = tiny_clip
    config = Config(
        data_dir=data_dir,
        host="127.0.0.1",
        port=0,
        model=ModelConfig(
            name=str(config_path), pretrained=str(checkpoint), device="cpu", batch_size=8
        ),
    )
    config.albums.append(AlbumConfig("album0", "Album 0", [folder]))
    return config
