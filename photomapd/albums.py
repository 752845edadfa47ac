"""Albums: named sets of folders. Create/update/delete persist in the config and start or stop
watching at once; reconcile compares an album's folders with the database."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from photomapd import scanner
from photomapd.changes import Change, ChangeKind
from photomapd.config import (
    AlbumConfig,
    AlbumError,
    Config,
    ConfigError,
    key_from_name,
    validate_album_key,
)
from photomapd.events import EventBus, EventKind
from photomapd.pipeline import Pipeline
from photomapd.store import Store
from photomapd.watcher import FolderWatcher

log = logging.getLogger(__name__)


class AlbumService:
    def __init__(
        self,
        config: Config,
        store: Store,
        pipeline: Pipeline,
        watcher: FolderWatcher,
        events: EventBus,
    ) -> None:
        self.config = config
        self.store = store
        self.pipeline = pipeline
        self.watcher = watcher
        self.events = events
        self.last_reconcile: dict[str, dict[str, Any]] = {}
        self._reconciling: set[str] = set()

    def list(self) -> list[AlbumConfig]:
        return list(self.config.albums)

    def get(self, key: str) -> AlbumConfig:
        album = self.config.album(key)
        if album is None:
            raise AlbumError(
                "album_not_found", f"no album with key {key!r}; GET /api/albums lists them"
            )
        return album

    async def create(
        self,
        name: str,
        folders: list[str],
        key: str | None = None,
        exclude: list[str] | None = None,
    ) -> AlbumConfig:
        key = key or key_from_name(name)
        try:
            validate_album_key(key)
        except ConfigError as error:
            raise AlbumError("invalid_album_key", str(error)) from error
        if self.config.album(key):
            raise AlbumError("album_exists", f"an album with key {key!r} already exists")
        album = AlbumConfig(key, name or key, self._checked_folders(folders), list(exclude or []))
        self.config.albums.append(album)
        self.config.save()
        await self.start(album)
        self.events.publish(EventKind.ALBUM_CHANGED, {"key": key, "change": "created"})
        return album

    async def update(
        self,
        key: str,
        name: str | None = None,
        folders: list[str] | None = None,
        exclude: list[str] | None = None,
    ) -> AlbumConfig:
        album = self.get(key)
        if name is not None:
            album.name = name
        refolder = folders is not None or exclude is not None
        if folders is not None:
            album.folders = self._checked_folders(folders)
        if exclude is not None:
            album.exclude = list(exclude)
        self.config.save()
        if refolder:
            self.watcher.unwatch_album(key)
            await self.start(album)
        self.events.publish(EventKind.ALBUM_CHANGED, {"key": key, "change": "updated"})
        return album

    async def delete(self, key: str) -> int:
        album = self.get(key)
        self.watcher.unwatch_album(key)
        self.config.albums.remove(album)
        self.config.save()
        ids = await self.store.delete_album(key)
        await asyncio.to_thread(self.pipeline.vectors.remove, ids)
        self.events.publish(EventKind.ALBUM_CHANGED, {"key": key, "change": "deleted"})
        return len(ids)

    def _checked_folders(self, folders: list[str]) -> list[Path]:
        if not folders:
            raise AlbumError("no_folders", "an album needs at least one folder")
        resolved = []
        for folder in folders:
            path = Path(folder).expanduser()
            if not path.is_absolute():
                raise AlbumError("folder_not_absolute", f"{folder!r} is not an absolute path")
            if not path.is_dir():
                raise AlbumError(
                    "folder_missing",
                    f"folder {folder} does not exist or is not a folder; check the path "
                    "(and that its drive is mounted)",
                )
            resolved.append(path.resolve())
        return resolved

    async def start(self, album: AlbumConfig) -> None:
        """Watch first, then reconcile, so nothing written in between is missed."""
        problems = self.watcher.watch_album(album)
        for problem in problems:
            log.warning("album %s: %s", album.key, problem)
        self.pipeline.spawn(self.reconcile(album.key))

    async def start_all(self) -> None:
        for album in self.config.albums:
            await self.start(album)

    async def reconcile(self, key: str) -> dict[str, Any]:
        album = self.get(key)
        if key in self._reconciling:
            return {"album": key, "state": "already running"}
        self._reconciling.add(key)
        started = time.monotonic()
        try:
            known = await self.store.known_files(key)
            result = await asyncio.to_thread(scanner.reconcile, album, known)
            for path in result.new_or_changed:
                self.pipeline.submit(Change(ChangeKind.CREATED, key, path, from_scan=True))
            if result.removed:
                for path in result.removed:
                    await self.pipeline.handle_deleted(key, Path(path))
            # A reconcile also gives owed embeddings another chance (model back, or changed).
            self.pipeline.retry_model_now()
            summary = {
                "album": key,
                "queued": len(result.new_or_changed),
                "removed": len(result.removed),
                "unchanged": result.unchanged,
                "missing_folders": [str(folder) for folder in result.missing_folders],
                "seconds": round(time.monotonic() - started, 3),
                "finished_at": time.time(),
            }
            self.last_reconcile[key] = summary
            log.info(
                "reconciled %s: %d new or changed, %d removed, %d unchanged in %.2f s",
                key,
                summary["queued"],
                summary["removed"],
                summary["unchanged"],
                summary["seconds"],
            )
            return summary
        finally:
            self._reconciling.discard(key)

    async def describe(self, album: AlbumConfig) -> dict[str, Any]:
        counts = (await self.store.album_counts()).get(album.key, {})
        folders = [{"path": str(folder), "exists": folder.is_dir()} for folder in album.folders]
        missing = [folder["path"] for folder in folders if not folder["exists"]]
        state = (
            "folder missing"
            if missing
            else ("indexing" if album.key in self._reconciling else "ready")
        )
        return {
            "key": album.key,
            "name": album.name,
            "folders": folders,
            "exclude": album.exclude,
            "count": counts.get("ok", 0),
            "failed": counts.get("error", 0),
            "pending": counts.get("pending", 0),
            "state": state,
            "problem": (
                f"folder missing: {', '.join(missing)} — reconnect the drive or edit the "
                "album; its index is kept"
            )
            if missing
            else None,
            "last_reconcile": self.last_reconcile.get(album.key),
        }
