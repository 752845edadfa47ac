"""Startup reconcile: what changed in an album's folders while the daemon was not watching."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photomapd.intake import links
from photomapd.intake.changes import is_listed, is_wanted
from photomapd.intake.links import LinkRules

if TYPE_CHECKING:
    from photomapd.config import AlbumConfig
    from photomapd.intake.links import IntakeProblem
    from photomapd.store.image_rows import KnownFile

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    new_or_changed: list[Path] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    missing_folders: list[Path] = field(default_factory=list)
    # Links leading out, loops, dangling links, unreadable folders: listed with the failures.
    problems: list[IntakeProblem] = field(default_factory=list)


Skip = Callable[[Path], bool]


def walk_images(
    folder: Path,
    exclude: list[str],
    skip: Skip | None = None,
    rules: LinkRules | None = None,
    problems: list[IntakeProblem] | None = None,
) -> dict[str, tuple[int, float]]:
    """path -> (size, mtime) of every wanted image under folder. Blocking; run it in a thread.

    `skip` leaves out more files (InvokeAI's intermediates in its images folder). Symlinks
    follow `rules` (by default: only to files inside `folder`, never into folders); what cannot
    be used (a link leading out, a loop, a dangling link, an unreadable folder) goes to
    `problems`."""
    rules = rules or LinkRules.only(folder)
    found: dict[str, tuple[int, float]] = {}
    seen: set[tuple[int, int]] = set()  # folders walked: a folder reached twice is walked once
    with contextlib.suppress(OSError):
        _first_visit(folder.stat(), seen)
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as error:
            log.warning("cannot list %s (%s); skipping it this time", current, error)
            if problems is not None and not isinstance(error, FileNotFoundError):
                problems.append(links.unreadable_folder(current, error))
            continue
        for entry in entries:
            try:
                path = Path(entry.path)
                target = None
                if entry.is_symlink():
                    target = _followed(path, folder, exclude, rules, problems)
                    if target is None:
                        continue
                    if stat.S_ISDIR(target.st_mode):
                        if _first_visit(target, seen):
                            stack.append(path)
                        continue
                elif entry.is_dir(follow_symlinks=False):
                    if _walked(entry.name) and _first_visit(
                        entry.stat(follow_symlinks=False), seen
                    ):
                        stack.append(path)
                    continue
                if not is_wanted(path, folder, exclude) or (skip is not None and skip(path)):
                    continue
                target = target or entry.stat()
                found[entry.path] = (target.st_size, target.st_mtime)
            except OSError:
                continue  # vanished between listing and stat: the watcher reports it
    return found


def _walked(name: str) -> bool:
    return not name.startswith(".") and name != "thumbnails"


def _first_visit(folder: os.stat_result, seen: set[tuple[int, int]]) -> bool:
    identity = (folder.st_dev, folder.st_ino)
    if identity in seen:
        return False
    seen.add(identity)
    return True


def _followed(
    path: Path,
    folder: Path,
    exclude: list[str],
    rules: LinkRules,
    problems: list[IntakeProblem] | None,
) -> os.stat_result | None:
    """The target of a link to walk into or index, or None (with a problem listed when the
    link is named like one of the album's images, or leads to a folder)."""
    if not is_listed(path, folder, exclude):
        return None
    target, problem = links.inspect_link(path, rules)
    if problem is not None:
        if problems is not None and links.worth_listing(path, target):
            problems.append(problem)
        return None
    assert target is not None
    if stat.S_ISDIR(target.st_mode):
        # Inside the album: its files are indexed under their own paths. Elsewhere (another
        # album's folder, or anywhere once the album follows links): only if the album follows.
        real = os.path.realpath(path)
        if not _walked(path.name) or links.is_inside(real, rules.this_album) or not rules.follow:
            return None
    return target


def reconcile(
    album: AlbumConfig,
    known: dict[str, KnownFile],
    skip: Skip | None = None,
    rules: LinkRules | None = None,
) -> ScanResult:
    """Compare disk with the database. Blocking; run it in a thread."""
    result = ScanResult()
    on_disk: dict[str, tuple[int, float]] = {}
    present_folders: list[Path] = []
    for folder in album.folders:
        if folder.is_dir():
            present_folders.append(folder)
            folder_rules = rules or LinkRules.only(folder)
            on_disk.update(walk_images(folder, album.exclude, skip, folder_rules, result.problems))
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
