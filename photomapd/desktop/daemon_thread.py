"""Tray mode: the daemon's asyncio loop on a background thread, and the thread-safe handle on it.

The main thread belongs to the tray (macOS requires it); `LoopControl` turns each tray command
into a call scheduled on the daemon's loop, so no daemon state is touched from another thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from photomapd.desktop.control import DaemonState, DaemonStatus

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future
    from pathlib import Path

logger = logging.getLogger(__name__)

STATUS_TIMEOUT_SECONDS = 5.0


class LoopControl:
    """`DaemonControl` over a `photomapd.daemon.Daemon` running on `loop` (another thread)."""

    def __init__(self, daemon: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.daemon = daemon
        self.loop = loop
        self.url: str = daemon.url
        self.logs_dir: Path = daemon.config.logs_dir

    def status(self) -> DaemonStatus:
        future = asyncio.run_coroutine_threadsafe(self._snapshot(), self.loop)
        return future.result(timeout=STATUS_TIMEOUT_SECONDS)

    async def _snapshot(self) -> DaemonStatus:
        status = await self.daemon.status()
        indexing, model = status["indexing"], status["model"]
        problems = [album["problem"] for album in status["albums"] if album.get("problem")]
        if problems:
            state, message = DaemonState.ERROR, str(problems[0])
        elif indexing["paused"]:
            state, message = DaemonState.PAUSED, ""
        elif indexing["queued"]:
            state, message = DaemonState.INDEXING, ""
        else:
            state, message = DaemonState.IDLE, ""
        return DaemonStatus(
            state=state,
            queued=int(indexing["queued"]),
            done=int(indexing["done"]),
            total_images=int(status["total_images"]),
            model_state=str(model["state"]),
            message=message or str(model.get("error") or ""),
        )

    def pause(self) -> None:
        self.loop.call_soon_threadsafe(self.daemon.pause)

    def resume(self) -> None:
        self.loop.call_soon_threadsafe(self.daemon.resume)

    def reindex_all(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.daemon.reindex_all(), self.loop)
        future.add_done_callback(_log_failure("update all albums"))

    def request_stop(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.daemon.request_stop)


def _log_failure(what: str) -> Callable[[Future[Any]], None]:
    def done(future: Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("%s failed: %s", what, future.exception())

    return done


class DaemonThread:
    """Starts a daemon on a new thread's loop; `start()` returns once it serves, or raises."""

    def __init__(self, make_daemon: Callable[[], Any]) -> None:
        self.make_daemon = make_daemon
        self.exit_code = 0
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._control: LoopControl | None = None
        self._thread = threading.Thread(target=self._main, name="photomapd-daemon")

    def start(self) -> LoopControl:
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        assert self._control is not None
        return self._control

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported through start() or the exit code
            self.exit_code = 1
            if self._started.is_set():
                logger.exception("the daemon stopped with an error")
            else:
                self._error = error
        finally:
            self._started.set()

    async def _serve(self) -> None:
        daemon = self.make_daemon()
        await daemon.start()
        self._control = LoopControl(daemon, asyncio.get_running_loop())
        self._started.set()
        try:
            await daemon.stop_requested.wait()
        finally:
            logger.info("stopping photomapd")
            await daemon.stop()
