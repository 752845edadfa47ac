"""Startup reconcile: what changed in an album's folders while the daemon was not watching."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photomapd.intake.changes import is_wanted

if TYPE_CHECKING:
    from photomapd.config import AlbumConfig
    from photomapd.store.image_rows import KnownFile

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    new_or_changed: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing_folders: list[Path] = field(default_factory=list)


Skip = Callable[[Path], bool]


def walk_images(
    folder: Path, exclude: list[str], skip: Skip | None = None
) -> dict[str, tuple[int, float]]:
    """path -> (size, mtime) of every wanted image under folder. Blocking; run it in a thread.

    `skip` leaves out more files (InvokeAI's intermediates in its images folder)."""
    found: dict[str, tuple[int, float]] = {}
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as error:
            log.warning("cannot list %s (%s); skipping it this time", current, error)
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith(".") and entry.name != "thumbnails":
                        stack.append(Path(entry.path))
                    continue
                path = Path(entry.path)
                if not is_wanted(path, folder, exclude) or (skip is not None and skip(path)):
                    continue
                stat = entry.stat()
                found[entry.path] = (stat.st_size, stat.st_mtime)
            except OSError:
                continue  # vanished between listing and stat: the watcher reports it
    return found


def reconcile(
    album: AlbumConfig, known: dict[str, KnownFile], skip: Skip | None = None
) -> ScanResult:
    """Compare disk with the database. Blocking; run it in a thread."""
    result = ScanResult()
    on_disk: dict[str, tuple[int, float]] = {}
    present_folders: list[Path] = []
    for folder in album.folders:
        if folder.is_dir():
            present_folders.append(folder)
            on_disk.update(walk_images(folder, album.exclude, skip))
        else:
            result.missing_folders.append(folder)
    return compare(on_disk, known, present_folders, result)


def compare(
    on_disk: dict[str, tuple[int, float]],
    known: dict[str, KnownFile],
    present_folders: list[Path],
    result: ScanResult | None = None,
) -> ScanResult:
    """What to index and what to drop, given the files that belong to an album now."""
    result = result or ScanResult()
    for path, (size, mtime) in on_disk.items():
        row = known.get(path)
        if (
            row is None
            or row.size != size
            or row.mtime != mtime
            or row.status in ("pending", "missing")
        ):
            result.new_or_changed.append(Path(path))
        else:
            result.unchanged += 1
    for path, row in known.items():
        if path in on_disk or row.status == "missing":
            continue
        # Only rows under a folder that is present: an unmounted drive must not wipe an album.
        if any(_is_under(path, folder) for folder in present_folders):
            result.removed.append(path)
    return result


def _is_under(path: str, folder: Path) -> bool:
    prefix = str(folder).rstrip(os.sep) + os.sep
    return path.startswith(prefix)
