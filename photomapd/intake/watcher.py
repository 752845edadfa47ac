"""Live file-system watching with watchdog, falling back to polling when native watching fails."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from photomapd.intake.changes import Change, ChangeKind, is_wanted

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

    from photomapd.config import AlbumConfig

log = logging.getLogger(__name__)


class _AlbumHandler(FileSystemEventHandler):
    """Runs on watchdog's thread: filters, then hands a Change to the loop."""

    def __init__(
        self,
        album: AlbumConfig,
        folder: Path,
        deliver: Callable[[Change], None],
        skip: Callable[[Path], bool] | None = None,
    ) -> None:
        self.album = album
        self.folder = folder
        self.deliver = deliver
        self.skip = skip

    def _wanted(self, path: str, to_index: bool = True) -> bool:
        if not is_wanted(Path(path), self.folder, self.album.exclude):
            return False
        # Deletions always pass: a file indexed before `skip` knew it must still go away.
        return not (to_index and self.skip is not None and self.skip(Path(path)))

    def on_created(self, event: FileSystemEvent) -> None:
        self._file_event(event, ChangeKind.CREATED)

    def on_modified(self, event: FileSystemEvent) -> None:
        self._file_event(event, ChangeKind.MODIFIED)

    def on_closed(self, event: FileSystemEvent) -> None:
        self._file_event(event, ChangeKind.MODIFIED)

    def on_deleted(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            self.deliver(Change(ChangeKind.DELETED, self.album.key, Path(str(event.src_path))))
        else:
            self._file_event(event, ChangeKind.DELETED)

    def on_moved(self, event: FileSystemEvent) -> None:
        source, dest = str(event.src_path), str(event.dest_path)
        if event.is_directory:
            self.deliver(Change(ChangeKind.MOVED, self.album.key, Path(source), Path(dest)))
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


class FolderWatcher:
    """One observer for all albums; the mode ('native' or 'polling') is visible in /api/status."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Callable[[Change], None],
        force_polling: bool = False,
        polling_interval: float = 1.0,
        native_observer: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self.native_observer = native_observer
        self.loop = loop
        self.sink = sink
        self.force_polling = force_polling or os.environ.get("PHOTOMAPD_WATCH") == "polling"
        self.polling_interval = polling_interval
        self.mode = "polling" if self.force_polling else "native"
        self.fallback_reason: str | None = None
        self._native: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._watches: dict[tuple[str, str], tuple[BaseObserver, object]] = {}

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
        for folder in album.folders:
            if (album.key, str(folder)) in self._watches:
                continue
            if not folder.is_dir():
                problems.append(f"folder missing: {folder}")
                continue
            handler = _AlbumHandler(album, folder, self._deliver, skip)
            self._schedule(album.key, folder, handler)
        return problems

    def _schedule(self, key: str, folder: Path, handler: _AlbumHandler) -> None:
        if not self.force_polling:
            try:
                observer = self._observer(polling=False)
                watch = observer.schedule(handler, str(folder), recursive=True)
                self._watches[(key, str(folder))] = (observer, watch)
                return
            except OSError as error:
                # inotify watch limit (ENOSPC), or a file system without native events.
                self.fallback_reason = f"native watching failed for {folder}: {error}"
                log.warning(
                    "%s; falling back to polling every %.1f s (raise fs.inotify.max_user_watches "
                    "to get native watching back)",
                    self.fallback_reason,
                    self.polling_interval,
                )
                self.mode = "polling"
        observer = self._observer(polling=True)
        watch = observer.schedule(handler, str(folder), recursive=True)
        self._watches[(key, str(folder))] = (observer, watch)

    def unwatch_album(self, key: str) -> None:
        for watch_key in [k for k in self._watches if k[0] == key]:
            observer, watch = self._watches.pop(watch_key)
            with contextlib.suppress(KeyError, ValueError):
                observer.unschedule(watch)  # type: ignore[arg-type]

    def stop(self) -> None:
        for observer in (self._native, self._polling):
            if observer is not None:
                observer.stop()
        for observer in (self._native, self._polling):
            if observer is not None:
                observer.join(timeout=5)
        self._native = self._polling = None
        self._watches.clear()
