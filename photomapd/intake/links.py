"""Symlinks in album folders: where a link leads, whether its album may index and serve it, and
the problems (links leading out, loops, dangling links, unreadable folders) an album's failures
list shows instead of skipping them silently.

A link whose target is outside every album folder is neither indexed nor served unless its
album opts in (`follow_symlinks = true`): a link dropped into a watched folder must not carry
files from elsewhere on the disk (a key file, another user's pictures) into the gallery.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from photomapd import imaging

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from photomapd.config import AlbumConfig

OUTSIDE = "link_outside_albums"
LOOP = "symlink_loop"
DANGLING = "dangling_link"
UNREADABLE_LINK = "unreadable_link"
UNREADABLE_FOLDER = "unreadable_folder"

OPT_IN = "set follow_symlinks = true for this album (config.toml or the albums API) to index it"


@dataclass(frozen=True)
class IntakeProblem:
    """Something in an album's folders that is not indexed, with what to do about it."""

    path: str
    kind: str
    reason: str
    found_at: float = field(default_factory=time.time, compare=False)

    def to_json(self) -> dict[str, Any]:
        # The shape of a failed file's entry (GET /api/albums/{key}/failures), without an id:
        # nothing was indexed, so there is no image to show.
        return {
            "id": None,
            "path": self.path,
            "error": self.reason,
            "indexed_at": self.found_at,
            "kind": self.kind,
        }


class LinkRefused(Exception):
    """A file the pipeline was asked to index is a link its album may not follow."""

    def __init__(self, problem: IntakeProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


@dataclass(frozen=True)
class LinkRules:
    """What a walk of one album's folders may follow: real paths of this album's folders and
    of every album's folders, and whether the album follows links wherever they lead."""

    follow: bool
    this_album: tuple[str, ...]
    every_album: tuple[str, ...]

    @classmethod
    def only(cls, folder: Path) -> LinkRules:
        real = (os.path.realpath(folder),)
        return cls(False, real, real)


def real_folders(folders: Iterable[Path]) -> tuple[str, ...]:
    return tuple(os.path.realpath(folder) for folder in folders)


def is_inside(real: str, folders: Sequence[str]) -> bool:
    return any(
        real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders
    )


# --- the problems, each saying what happened and what to do ---------------------------------


def leads_outside(path: Path, real: str, is_folder: bool) -> IntakeProblem:
    what = "a folder" if is_folder else "a file"
    action = "followed" if is_folder else "indexed"
    return IntakeProblem(
        str(path),
        OUTSIDE,
        f"symlink to {what} outside every album folder ({real}); not {action} or served — {OPT_IN}",
    )


def loop(path: Path, detail: str) -> IntakeProblem:
    return IntakeProblem(
        str(path), LOOP, f"symlink loop: {detail}; it is not followed — fix or remove the link"
    )


def dangling(path: Path) -> IntakeProblem:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return IntakeProblem(
        str(path),
        DANGLING,
        f"dangling symlink: its target {target} does not exist — fix or remove the link "
        "(or reconnect the drive it points to)",
    )


def unreadable_link(path: Path, error: OSError) -> IntakeProblem:
    return IntakeProblem(
        str(path),
        UNREADABLE_LINK,
        f"cannot follow this symlink ({error.strerror or error}); give the user photomapd runs "
        "as access to its target, then Update Index",
    )


def unreadable_folder(path: Path, error: OSError) -> IntakeProblem:
    return IntakeProblem(
        str(path),
        UNREADABLE_FOLDER,
        f"cannot read this folder ({error.strerror or error}); its images are not indexed — "
        "give the user photomapd runs read access to it (e.g. chmod u+rx), then Update Index",
    )


def inspect_link(
    path: Path, rules: LinkRules
) -> tuple[os.stat_result | None, IntakeProblem | None]:
    """Where the link at `path` leads (its target's stat, when it has one) and why it can't be
    used, if so: a loop, a dangling link, or a target outside every album folder while the
    album does not follow links."""
    try:
        target = os.stat(path)
    except FileNotFoundError:
        return None, dangling(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, loop(path, "it leads back to itself through links")
        return None, unreadable_link(path, error)
    real = os.path.realpath(path)
    if is_inside(os.path.realpath(path.parent), (real,)):
        return target, loop(path, f"it leads back to {real}, a folder it is in")
    if not rules.follow and not is_inside(real, rules.every_album):
        return target, leads_outside(path, real, is_folder=stat.S_ISDIR(target.st_mode))
    return target, None


def worth_listing(path: Path, target: os.stat_result | None) -> bool:
    """A link to a folder, or one named like an image; where it leads is unknown (dangling, a
    loop): also one without a suffix, which may have been a folder. Other files are not ours."""
    if target is not None:
        return stat.S_ISDIR(target.st_mode) or imaging.is_image_path(path)
    return imaging.is_image_path(path) or not path.suffix


class LinkGuard:
    """The link rules of every album, and the problems found in its folders (by a reconcile or
    the watcher), listed with the album's failures. Called from the loop, watchdog's threads
    and the I/O pool."""

    def __init__(self, albums: Callable[[], Sequence[AlbumConfig]]) -> None:
        self.albums = albums
        self._lock = threading.Lock()
        self._problems: dict[str, dict[str, IntakeProblem]] = {}
        self._roots: tuple[tuple[Any, ...], tuple[str, ...]] | None = None

    def _album(self, key: str) -> AlbumConfig | None:
        return next((album for album in self.albums() if album.key == key), None)

    def every_album(self) -> tuple[str, ...]:
        """Real paths of every album's folders (kept until the albums' folders change)."""
        albums = self.albums()
        signature = tuple((album.key, tuple(album.folders)) for album in albums)
        with self._lock:
            if self._roots is not None and self._roots[0] == signature:
                return self._roots[1]
        roots = real_folders(folder for album in albums for folder in album.folders)
        with self._lock:
            self._roots = (signature, roots)
        return roots

    def rules(self, album: AlbumConfig) -> LinkRules:
        return LinkRules(album.follow_symlinks, real_folders(album.folders), self.every_album())

    def refusal(self, key: str, path: Path) -> IntakeProblem | None:
        """Why `path` (to index or serve) must not be used: it leads, through a link anywhere
        on its way, outside every album folder and its album does not follow links."""
        album = self._album(key)
        if album is None or album.follow_symlinks:
            return None
        real = os.path.realpath(path)
        if is_inside(real, self.every_album()):
            return None
        return leads_outside(path, real, is_folder=os.path.isdir(real))

    # --- the problems listed with the album's failures ------------------------------------

    def replace(self, key: str, problems: Iterable[IntakeProblem]) -> None:
        """A reconcile's findings replace what was known of the album."""
        with self._lock:
            self._problems[key] = {problem.path: problem for problem in problems}

    def note(self, key: str, problem: IntakeProblem) -> None:
        with self._lock:
            self._problems.setdefault(key, {})[problem.path] = problem

    def clear(self, key: str, path: Path | str) -> None:
        with self._lock:
            found = self._problems.get(key)
            if found:
                found.pop(str(path), None)

    def forget(self, key: str) -> None:
        with self._lock:
            self._problems.pop(key, None)

    def listed(self, key: str) -> list[IntakeProblem]:
        with self._lock:
            return sorted(self._problems.get(key, {}).values(), key=lambda p: p.path)

    def count(self, key: str) -> int:
        with self._lock:
            return len(self._problems.get(key, {}))
