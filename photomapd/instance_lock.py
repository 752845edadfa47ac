"""One daemon per data folder: an OS lock on `<data folder>/daemon.lock`.

Two daemons on one data folder (the login item on 8050 and a hand-started `run --port 9000`)
would both write the vector cache and config.toml over each other. The port check cannot see
that; this lock can. The OS drops it when the process ends, `kill -9` included, so a stale lock
never blocks a start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE_NAME = "daemon.lock"
# The pid is written after the locked first byte, where another process may still read it
# (Windows refuses reads of a locked range).
PID_OFFSET = 1


class DataFolderInUse(Exception):
    """Another process holds the lock; `pid` is its process id when it could be read."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"another photomapd ({holder}) already uses the data folder {path.parent}; stop "
            "it first, or start this one with its own --data-dir"
        )
        self.pid = pid


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held until release()
        try:
            _lock(handle)
        except OSError:
            pid = _read_pid(handle)
            handle.close()
            raise DataFolderInUse(self.path, pid) from None
        handle.seek(PID_OFFSET)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            _unlock(self._handle)
        self._handle.close()
        self._handle = None


def lock_holder(data_dir: Path) -> LockHolder | None:
    """Who holds the data folder's lock: None when nobody does (no daemon runs on it).

    Probing takes the lock for an instant when it is free, so a daemon starting in exactly
    that instant would be refused; the commands that probe (`stop`, `restart`) never race
    their own start.
    """
    try:
        handle = open(data_dir / LOCK_FILE_NAME, encoding="ascii")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None  # no daemon has ever run on this folder
    with handle:
        try:
            _lock(handle)
        except OSError:
            return LockHolder(_read_pid(handle))
        with contextlib.suppress(OSError):
            _unlock(handle)
    return None


@dataclass(frozen=True)
class LockHolder:
    """The process holding a data folder's lock; `pid` is None when it could not be read."""

    pid: int | None


def _read_pid(handle: IO[str]) -> int | None:
    try:
        handle.seek(PID_OFFSET)
        return int(handle.read(32).strip() or 0) or None
    except (OSError, ValueError):
        return None


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
