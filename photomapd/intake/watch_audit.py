"""Folders native watching did not take: new folders checked against the kernel's list of
inotify watches on a thread of their own, so the watcher can poll them instead.

watchdog adds the watch for a new folder before it reports the folder, so by the time the
check runs a folder missing from the list is one the watch limit (or a race) left blind.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from photomapd.intake import inotify_watches

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)


def unwatched_folders(start: Path, watched: set[tuple[int, int]]) -> list[Path]:
    """The topmost folders at or under `start` that have no inotify watch: polling one covers
    everything below it. Hidden folders and InvokeAI's thumbnails/ hold nothing indexed;
    symlinks are not followed (native watching does not follow them either)."""
    found: list[Path] = []
    stack = [start]
    while stack:
        folder = stack.pop()
        try:
            stat = folder.stat(follow_symlinks=False)
        except OSError:
            continue  # gone already
        if (stat.st_dev, stat.st_ino) not in watched:
            found.append(folder)
            continue
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or entry.name == "thumbnails":
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                    except OSError:
                        continue
        except OSError:
            continue  # unreadable: it can be neither watched nor polled
    return found


class SerialWorker:
    """One background thread that runs jobs in order, some after a delay (a re-check)."""

    def __init__(self, name: str) -> None:
        self._jobs: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None], delay: float = 0.0) -> None:
        with self._wake:
            heapq.heappush(self._jobs, (time.monotonic() + delay, next(self._order), job))
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    wait = self._jobs[0][0] - time.monotonic() if self._jobs else None
                    if wait is not None and wait <= 0:
                        break
                    self._wake.wait(wait)
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._jobs)
            try:
                job()
            except Exception:  # one failed check must not end the checks of every later folder
                log.exception("checking watched folders failed")


RECHECKS = 3
RECHECK_SECONDS = 0.5


class WatchAudit:
    """Checks a new folder (and what is under it) against the kernel's watch list; hands each
    folder left unwatched to `fall_back(key, root, folder, errno)`. When a watch could be added
    right now (errno 0), watchdog may just not have got to it yet: look again a few times first.
    """

    def __init__(self, fall_back: Callable[[str, Path, Path, int], None]) -> None:
        self.fall_back = fall_back
        self._worker: SerialWorker | None = None
        self._lock = threading.Lock()

    def check(self, key: str, root: Path, folder: Path) -> None:
        """Called on watchdog's thread (a folder appeared) or the loop (a folder was scheduled)."""
        with self._lock:
            if self._worker is None:
                self._worker = SerialWorker("photomapd-watch-audit")
            worker = self._worker
        worker.submit(lambda: self._check(key, root, folder, RECHECKS))

    def run(self, job: Callable[[], None]) -> None:
        """Run a job on the audit thread, in order with the checks."""
        with self._lock:
            if self._worker is None:
                self._worker = SerialWorker("photomapd-watch-audit")
            worker = self._worker
        worker.submit(job)

    def stop(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _check(self, key: str, root: Path, folder: Path, rechecks: int) -> None:
        watched = inotify_watches.watched_folders()
        if watched is None:
            return  # no inotify here (another platform, or a test's observer): nothing to check
        for unwatched in unwatched_folders(folder, watched):
            error_number = inotify_watches.probe(unwatched)
            if error_number == 0 and rechecks > 0:
                with self._lock:
                    worker = self._worker
                if worker is not None:
                    again = functools.partial(self._check, key, root, unwatched, rechecks - 1)
                    worker.submit(again, delay=RECHECK_SECONDS)
                continue
            self.fall_back(key, root, unwatched, error_number)
