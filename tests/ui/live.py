"""A real photomapd daemon on its own event-loop thread, for Playwright's sync API (tests,
screenshots and the UI benchmark all drive the page from the main thread)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photomapd.config import AlbumConfig, Config, ModelConfig
from photomapd.daemon import Daemon
from tests.ui.loop_thread import serve_on_thread


@dataclass
class LiveDaemon:
    """A real photomapd daemon serving on 127.0.0.1 from a background event loop."""

    daemon: Daemon
    loop: asyncio.AbstractEventLoop
    folder: Path
    url: str

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextmanager
def serve_live(config: Config, indexed: int = 0, index_timeout: float = 60) -> Iterator[LiveDaemon]:
    """A real daemon on `config`, stopped on exit; with `indexed`, yielded once that many images
    are indexed (or failed) and the queue is empty."""

    async def start() -> LiveDaemon:
        daemon = Daemon(config)
        await daemon.start()
        folder = config.albums[0].folders[0] if config.albums else config.data_dir
        return LiveDaemon(daemon, asyncio.get_running_loop(), folder, daemon.url)

    async def stop(live: LiveDaemon) -> None:
        await live.daemon.stop()

    with serve_on_thread("photomapd-live", start, stop, timeout=60) as live:
        if indexed:
            wait_indexed(live, indexed, index_timeout)
        yield live


def wait_indexed(live: LiveDaemon, count: int, timeout: float = 60) -> dict[str, Any]:
    """Block until the albums hold `count` indexed (or failed) images and the queue is empty."""
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
