"""When a reported file is complete enough to index: writers flush in pieces, so a file waits
until it is old enough to have settled or has stopped changing between two looks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

STABLE_CHECK_INTERVAL = 0.1
# A file whose last write is older than this is taken as complete without waiting.
SETTLED_AGE_SECONDS = 2.0


@dataclass
class PendingFile:
    album: str
    path: Path
    from_scan: bool
    first_seen: float = field(default_factory=time.monotonic)
    last_signature: tuple[int, float] | None = None


def take_complete_files(pending: dict[tuple[str, Path], PendingFile]) -> list[PendingFile]:
    """Remove the files that are complete from `pending` and return them, in order; files
    that are gone are dropped (a delete event follows)."""
    now = time.time()
    complete: list[PendingFile] = []
    for key, file in list(pending.items()):
        try:
            stat = file.path.stat()
        except OSError:
            pending.pop(key, None)  # gone before it settled; a delete event follows
            continue
        signature = (stat.st_size, stat.st_mtime)
        settled = file.from_scan or now - stat.st_mtime >= SETTLED_AGE_SECONDS
        unchanged = signature == file.last_signature
        file.last_signature = signature
        # An empty file may still be filled in; once it has sat empty a while it is taken
        # as it is, so it gets an error row instead of waiting in the queue forever.
        if (stat.st_size > 0 and (settled or unchanged)) or (stat.st_size == 0 and settled):
            pending.pop(key, None)
            complete.append(file)
    return complete
