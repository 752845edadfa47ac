"""Stopping the daemon of one data folder: found through its lock (never a port), asked to stop,
waited for until the lock is free.

A held lock means a photomapd runs on the folder whatever port it chose; the pid written after
the lock's first byte says which process. POSIX: SIGTERM, the daemon's clean stop (finish the
batch in hand, save the index). Windows has no such signal for a windowless process, so there
the process is ended at once (TerminateProcess); the next start brings the vector index back in
step with the database, as after a crash.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from photomapd.instance_lock import LOCK_FILE_NAME, lock_holder

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_STOP_SECONDS = 60.0  # the daemon drains the batch in hand for up to 30 s, then saves
POLL_SECONDS = 0.1


class StopError(Exception):
    """The daemon could not be stopped; the message says why and what to do."""


def running_pid(data_dir: Path) -> int | None:
    """The pid of the photomapd holding `data_dir`, None when none does.

    Raises StopError when the lock is held but its pid cannot be read.
    """
    holder = lock_holder(data_dir)
    if holder is None:
        return None
    if holder.pid is None:
        raise StopError(
            f"a photomapd holds the data folder {data_dir}, but its process id could not be "
            f"read from {data_dir / LOCK_FILE_NAME}; quit it from its tray icon, or end the "
            "`photomapd run` process with your system's process manager"
        )
    return holder.pid


def stop_daemon(data_dir: Path, pid: int, timeout: float = DEFAULT_STOP_SECONDS) -> None:
    """Ask daemon `pid` (from running_pid) to stop and wait until the lock is free."""
    _ask_to_stop(pid, data_dir)
    wait_until_free(data_dir, pid, timeout)


def _ask_to_stop(pid: int, data_dir: Path) -> None:
    try:
        # On Windows os.kill with SIGTERM is TerminateProcess (see the module docstring).
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it ended in between; wait_until_free confirms the lock is gone
    except PermissionError as error:
        raise StopError(
            f"photomapd (pid {pid}) holds the data folder {data_dir} but belongs to another "
            "user; stop it as that user"
        ) from error
    except OSError as error:
        raise StopError(f"could not stop photomapd (pid {pid}): {error}") from error


def wait_until_free(data_dir: Path, pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while lock_holder(data_dir) is not None:
        if time.monotonic() >= deadline:
            raise StopError(
                f"photomapd (pid {pid}) has not stopped after {timeout:.0f} s (it finishes the "
                "batch in hand and saves the index first); wait and run `photomapd stop` "
                f"again, or end it at once with {_kill_hint(pid)} (the next start brings the "
                "index back in step)"
            )
        time.sleep(POLL_SECONDS)


def _kill_hint(pid: int) -> str:
    if sys.platform == "win32":
        return f"`taskkill /F /PID {pid}`"
    return f"`kill -9 {pid}`"
