"""The small command surface the tray (and other front ends) use to drive the daemon.

The daemon's asyncio loop runs on another thread; an implementation of `DaemonControl` turns each
call into a command on that loop (`loop.call_soon_threadsafe`) and never blocks the caller on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypedDict

if TYPE_CHECKING:
    from pathlib import Path


class DaemonState(StrEnum):
    IDLE = "idle"
    INDEXING = "indexing"
    PAUSED = "paused"
    ERROR = "error"


class DaemonStatus(TypedDict):
    """A snapshot that is cheap to take from any thread.

    `done` and `queued` count files of the current indexing run (finished / still waiting), so
    the run's size is `done + queued`; `total_images` counts the whole library.
    """

    state: str
    queued: int
    done: int
    total_images: int
    model_state: str
    message: str


class DaemonControl(Protocol):
    """Thread-safe handle on a running daemon. Every method returns at once."""

    url: str
    logs_dir: Path

    def status(self) -> DaemonStatus: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def reindex_all(self) -> None: ...

    def request_stop(self) -> None:
        """Ask for a clean stop: finish the current batch, save the index, then exit."""
        ...
