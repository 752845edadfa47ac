"""The one value type that flows from the file system (watcher, scanner) into the pipeline."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from photomapd import imaging

if TYPE_CHECKING:
    from pathlib import Path


class ChangeKind(StrEnum):
    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"
    MOVED = "moved"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    album: str
    path: Path
    dest: Path | None = None  # only for MOVED
    from_scan: bool = False  # found by a reconcile: the file has been there a while


def is_wanted(path: Path, folder: Path, exclude: list[str]) -> bool:
    """Images we index: supported suffix, not hidden/temp, not InvokeAI's thumbnails/, not excluded."""
    return imaging.is_image_path(path) and is_listed(path, folder, exclude)


def is_listed(path: Path, folder: Path, exclude: list[str]) -> bool:
    """Entries of the album at all, whatever their suffix: under `folder`, not hidden, not in
    InvokeAI's thumbnails/, not excluded."""
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return False
    parts = relative.parts
    if any(part.startswith(".") for part in parts) or "thumbnails" in parts[:-1]:
        return False
    text = relative.as_posix()
    return not any(
        fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(path.name, pattern) for pattern in exclude
    )
