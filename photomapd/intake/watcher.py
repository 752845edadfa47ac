"""Live file-system watching with watchdog, falling back to polling when native watching fails."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from photomapd.intake import inotify_watches, links
from photomapd.intake.changes import Change, ChangeKind, is_listed, is_wanted
from photomapd.intake.scanner import walk_images
from photomapd.intake.watch_audit import WatchAudit

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver, ObservedWatch

    from photomapd.config import AlbumConfig
    from photomapd.intake.links import LinkGuard

log = logging.getLogger(__name__)


class _AlbumHandler(FileSystemEventHandler):
    """Runs on watchdog's thread: filters, then hands a Change to the loop.

    A native watch reports each new folder to `on_new_folder` (is it watched?). A polled
    sub-folder's handler (`polled_root`) leaves the report of its own removal to the native
    watch of its parent, and tells `on_gone` so its poll ends."""

    def __init__(
        self,
        album: AlbumConfig,
        folder: Path,
        deliver: Callable[[Change], None],
        skip: Callable[[Path], bool] | None = None,
        on_new_folder: Callable[[Path], None] | None = None,
        polled_root: Path | None = None,
        on_gone: Callable[[], None] | None = None,
        links: LinkGuard | None = None,
    ) -> None:
        self.album = album
        self.folder = folder
        self.deliver = deliver
        self.skip = skip
        self.on_new_folder = on_new_folder
        self.polled_root = polled_root
        self.on_gone = on_gone
        self.links = links

    def _refused_link(self, path: str) -> bool:
        """A new symlink that may not be indexed (leads outside every album folder, loops,
        dangles) is listed with the album's failures instead. One lstat for other paths."""
        if self.links is None:
            return False
        if not os.path.islink(path):
            self.links.clear(self.album.key, path)  # a link replaced by a file, say
            return False
        if not is_listed(Path(path), self.folder, self.album.exclude):
            return True
        target, problem = links.inspect_link(Path(path), self.links.rules(self.album))
        if problem is None:
            return False
        if links.worth_listing(Path(path), target):
            self.links.note(self.album.key, problem)
        return True

    def _wanted(self, path: str, to_index: bool = True) -> bool:
        if to_index and self._refused_link(path):
            return False
        if not is_wanted(Path(path), self.folder, self.album.exclude):
            return False
        # Deletions always pass: a file indexed before `skip` knew it must still go away.
        return not (to_index and self.skip is not None and self.skip(Path(path)))

    def on_created(self, event: FileSystemEvent) -> None:
        if event.is_directory and self.on_new_folder is not None:
            self.on_new_folder(Path(str(event.src_path)))
        self._file_event(event, ChangeKind.CREATED)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._file_event(event, ChangeKind.MODIFIED)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._file_event(event, ChangeKind.MODIFIED)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if self.links is not None:
            self.links.clear(self.album.key, str(event.src_path))
        if event.is_directory and self.polled_root == Path(str(event.src_path)):
            if self.on_gone is not None:
                self.on_gone()
        elif event.is_directory:
            self.deliver(Change(ChangeKind.DELETED, self.album.key, Path(str(event.src_path))))
        else:
            self._file_event(event, ChangeKind.DELETED)

    def on_moved(self, event: FileSystemEvent) -> None:
        source, dest = str(event.src_path), str(event.dest_path)
        if event.is_directory:
            self.deliver(Change(ChangeKind.MOVED, self.album.key, Path(source), Path(dest)))
            if self.on_new_folder is not None:
                self.on_new_folder(Path(dest))
            return
        source_wanted, dest_wanted = self._wanted(source, to_index=False), self._wanted(dest)
        if source_wanted and dest_wanted:
            self.deliver(Change(ChangeKind.MOVED, self.album.key, Path(source), Path(dest)))
        elif dest_wanted:  # e.g. "image.png.tmp" renamed into place
            self.deliver(Change(ChangeKind.CREATED, self.album.key, Path(dest)))
        elif source_wanted:  # moved out of view (to a hidden or excluded name)
            self.deliver(Change(ChangeKind.DELETED, self.album.key, Path(source)))

    def _file_event(self, event: FileSystemEvent, kind: ChangeKind) -> None:
        to_index = kind != ChangeKind.DELETED
        if event.is_directory or not self._wanted(str(event.src_path), to_index):
            return
        self.deliver(Change(kind, self.album.key, Path(str(event.src_path))))


@dataclass
class _Watch:
    observer: BaseObserver
    watch: ObservedWatch
    polling: bool
    sub_folder: bool = False  # polled because native watching could not take this sub-folder


class FolderWatcher:
    """One native observer and one polling observer for all albums.

    An album folder is watched natively, or polled when native watching fails for it; a folder
    created later that native watching cannot take (the inotify watch limit is per user and can
    run out while the daemon runs) is polled on its own. Each album's mode (`native`,
    `polling`, `mixed`) and the reason are in `album_watch`, shown in /api/status and the
    albums API."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Callable[[Change], None],
        force_polling: bool = False,
        polling_interval: float = 1.0,
        native_observer: Callable[[], BaseObserver] = Observer,
        links: LinkGuard | None = None,
    ) -> None:
        self.native_observer = native_observer
        self.links = links
        self.loop = loop
        self.sink = sink
        self.force_polling = force_polling or os.environ.get("PHOTOMAPD_WATCH") == "polling"
        self.polling_interval = polling_interval
        self.fallback_reason: str | None = None  # the latest, for /api/status
        self._native: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._albums: dict[str, tuple[AlbumConfig, Callable[[Path], bool] | None]] = {}
        self._reasons: dict[str, str] = {}
        self._hinted: set[int] = set()  # errnos whose how-to-raise line was logged
        # Watchdog's threads (new folders, a polled folder gone) and the loop share the state.
        self._lock = threading.RLock()
        self._audit = WatchAudit(self._poll_sub_folder)

    # --- what is reported ---------------------------------------------------------------

    @property
    def mode(self) -> str:
        """`native`, `polling`, or `mixed` over every watched album."""
        with self._lock:
            modes = {self.album_watch(key)["mode"] for key in self._albums}
        modes.discard("off")
        if not modes:
            return "polling" if self.force_polling else "native"
        return modes.pop() if len(modes) == 1 else "mixed"

    def album_watch(self, key: str) -> dict[str, Any]:
        """How one album is watched: mode, why (when not all native) and the polled folders."""
        with self._lock:
            watches = [(path, w) for (k, path), w in self._watches.items() if k == key]
            reason = self._reasons.get(key)
        roots = [w for _, w in watches if not w.sub_folder]
        polled = sorted(path for path, w in watches if w.polling)
        if not roots:
            mode = "off"
        elif all(w.polling for w in roots):
            mode = "polling"
        else:
            mode = "mixed" if polled else "native"
        if mode == "polling" and self.force_polling:
            reason = "polling was asked for (--polling or PHOTOMAPD_WATCH=polling)"
        return {
            "mode": mode,
            "reason": reason if mode in ("polling", "mixed") else None,
            "polled_folders": polled,
        }

    def status(self) -> dict[str, Any]:
        with self._lock:
            keys = list(self._albums)
        return {
            "mode": self.mode,
            "fallback_reason": self.fallback_reason,
            "albums": {key: self.album_watch(key) for key in keys},
        }

    # --- watching -----------------------------------------------------------------------

    def _deliver(self, change: Change) -> None:
        self.loop.call_soon_threadsafe(self.sink, change)

    def _observer(self, polling: bool) -> BaseObserver:
        if polling:
            if self._polling is None:
                self._polling = PollingObserver(timeout=self.polling_interval)
                self._polling.start()
            return self._polling
        if self._native is None:
            self._native = self.native_observer()
            self._native.start()
        return self._native

    def watch_album(
        self, album: AlbumConfig, skip: Callable[[Path], bool] | None = None
    ) -> list[str]:
        """Start watching every present folder; returns the problems met (missing folders).

        `skip(path)` runs on the watcher thread and leaves files out (InvokeAI intermediates)."""
        problems = []
        with self._lock:
            self._albums[album.key] = (album, skip)
        for folder in album.folders:
            if (album.key, str(folder)) in self._watches:
                continue
            if not folder.is_dir():
                problems.append(f"folder missing: {folder}")
                continue
            self._schedule(album, folder, skip)
        return problems

    def _schedule(
        self, album: AlbumConfig, folder: Path, skip: Callable[[Path], bool] | None
    ) -> None:
        key = album.key
        if not self.force_polling:
            handler = _AlbumHandler(
                album,
                folder,
                self._deliver,
                skip,
                lambda new: self._audit.check(key, folder, new),
                links=self.links,
            )
            try:
                with self._lock:
                    observer = self._observer(polling=False)
                    watch = observer.schedule(handler, str(folder), recursive=True)
                    self._watches[(key, str(folder))] = _Watch(observer, watch, polling=False)
                # A watchdog that skips sub-folders it cannot watch at start is caught here.
                self._audit.check(key, folder, folder)
                return
            except OSError as error:
                # inotify watch limit (ENOSPC), or a file system without native events.
                self._fell_back(
                    key, folder, f"native watching failed for {folder}: {error}", error.errno or 0
                )
        handler = _AlbumHandler(album, folder, self._deliver, skip, links=self.links)
        with self._lock:
            observer = self._observer(polling=True)
            watch = observer.schedule(handler, str(folder), recursive=True)
            self._watches[(key, str(folder))] = _Watch(observer, watch, polling=True)

    def _poll_sub_folder(self, key: str, root: Path, folder: Path, error_number: int) -> None:
        """On the audit thread: poll a folder native watching could not take, and report the
        files already in it (they were written before the poll's first look)."""
        with self._lock:
            registered = self._albums.get(key)
            root_watch = self._watches.get((key, str(root)))
            if registered is None or root_watch is None or root_watch.polling:
                return  # unwatched meanwhile, or all of it is polled already
            if any(
                k == key and w.polling and _is_within(folder, Path(path))
                for (k, path), w in self._watches.items()
            ):
                return
            album, skip = registered
            handler = _AlbumHandler(
                album,
                root,
                self._deliver,
                skip,
                polled_root=folder,
                on_gone=lambda: self._audit.run(lambda: self._end_sub_folder(key, folder)),
                links=self.links,
            )
            observer = self._observer(polling=True)
            watch = observer.schedule(handler, str(folder), recursive=True)
            self._watches[(key, str(folder))] = _Watch(observer, watch, True, sub_folder=True)
        self._fell_back(
            key,
            folder,
            f"new folder {folder} could not be watched natively: "
            + inotify_watches.why_not_watched(error_number),
            error_number,
        )
        rules = self.links.rules(album) if self.links is not None else None
        for path in walk_images(folder, [], skip, rules):
            if is_wanted(Path(path), root, album.exclude):
                self._deliver(Change(ChangeKind.CREATED, key, Path(path)))

    def _end_sub_folder(self, key: str, folder: Path) -> None:
        if folder.is_dir():
            return  # back already (removed and made again): the poll goes on
        with self._lock:
            entry = self._watches.get((key, str(folder)))
            if entry is None or not entry.sub_folder:
                return
            del self._watches[(key, str(folder))]
            if not any(w.polling for (k, _), w in self._watches.items() if k == key):
                self._reasons.pop(key, None)
        with contextlib.suppress(KeyError, ValueError):
            entry.observer.unschedule(entry.watch)

    def _fell_back(self, key: str, folder: Path, reason: str, error_number: int) -> None:
        with self._lock:
            self._reasons[key] = reason
            self.fallback_reason = reason
            hint = error_number in (errno.ENOSPC, errno.EMFILE) and error_number not in self._hinted
            if hint:
                self._hinted.add(error_number)
        log.warning(
            "album %s: %s; falling back to polling %s every %.1f s%s",
            key,
            reason,
            folder,
            self.polling_interval,
            f" ({inotify_watches.how_to_raise(error_number)})" if hint else "",
        )

    def unwatch_album(self, key: str) -> None:
        with self._lock:
            self._albums.pop(key, None)
            self._reasons.pop(key, None)
            removed = [self._watches.pop(k) for k in [k for k in self._watches if k[0] == key]]
        for entry in removed:
            with contextlib.suppress(KeyError, ValueError):
                entry.observer.unschedule(entry.watch)

    def stop(self) -> None:
        self._audit.stop()
        with self._lock:
            observers = [o for o in (self._native, self._polling) if o is not None]
            self._native = self._polling = None
            self._watches.clear()
            self._albums.clear()
        for observer in observers:
            observer.stop()
        for observer in observers:
            observer.join(timeout=5)


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
