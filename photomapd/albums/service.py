"""Albums: named sets of folders. Create/update/delete persist in the config and start or stop
watching at once; reconcile compares an album's folders with the database."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photomapd.config import (
    AlbumConfig,
    AlbumError,
    ConfigError,
    key_from_name,
    validate_album_key,
)
from photomapd.events import EventKind
from photomapd.intake import scanner
from photomapd.intake.changes import Change, ChangeKind
from photomapd.intake.links import LinkGuard
from photomapd.invokeai.local_db import LocalDatabaseError
from photomapd.invokeai.local_index import LocalIndex
from photomapd.store.metadata_index import MetadataIndex

if TYPE_CHECKING:
    from collections.abc import Sequence

    from photomapd.config import (
        Config,
    )
    from photomapd.events import EventBus
    from photomapd.indexing.pipeline import Pipeline
    from photomapd.intake.watcher import FolderWatcher
    from photomapd.store.image_rows import KnownFile
    from photomapd.store.store import Store

log = logging.getLogger(__name__)

# Fewer new files than this are decoded and indexed within seconds anyway: no head start.
PREFILL_MIN_FILES = 100


NO_INVOKEAI_ROOT = (
    "No InvokeAI root folder is known, so its boards cannot be read. Start photomapd with "
    "--root PATH (or set INVOKEAI_ROOT), or set invokeai_root in config.toml."
)


class AlbumService:
    def __init__(
        self,
        config: Config,
        store: Store,
        pipeline: Pipeline,
        watcher: FolderWatcher,
        events: EventBus,
        links: LinkGuard | None = None,
    ) -> None:
        self.config = config
        # Shared with the watcher and the pipeline: the link rules, and the problems found.
        self.links = links or LinkGuard(lambda: self.config.albums)
        self.store = store
        self.pipeline = pipeline
        self.watcher = watcher
        self.events = events
        # Same reader as the pipeline, so the early rows carry the metadata it would store.
        self.metadata = MetadataIndex(store, pipeline.read_metadata)
        self.last_reconcile: dict[str, dict[str, Any]] = {}
        self._reconciling: set[str] = set()
        self._local: LocalIndex | None = None

    # --- InvokeAI's own database (intermediates, boards) -----------------------------------

    def local_index(self) -> LocalIndex | None:
        """The cached view of InvokeAI's database, when an InvokeAI root is known."""
        root = self.config.invokeai_root
        if root is None:
            return None
        root = Path(root).expanduser().resolve()
        if self._local is None or self._local.database.root != root:
            self._local = LocalIndex(root)
        return self._local

    def _require_local(self) -> LocalIndex:
        local = self.local_index()
        if local is None:
            raise AlbumError("invokeai_root_not_set", NO_INVOKEAI_ROOT)
        return local

    def skip_for(self, album: AlbumConfig) -> scanner.Skip | None:
        """InvokeAI's intermediates are left out of an album that is its images folder."""
        local = self.local_index()
        if local is None or album.boards or not any(local.covers(f) for f in album.folders):
            return None
        return local.is_intermediate

    def is_invokeai_folder(self, album: AlbumConfig) -> bool:
        local = self.local_index()
        return local is not None and any(local.covers(folder) for folder in album.folders)

    async def _checked_boards(self, boards: list[str]) -> tuple[list[str], list[Path]]:
        """Board ids and the album's folder (InvokeAI's images folder) for a board album."""
        local = self._require_local()
        try:
            ids = await asyncio.to_thread(local.resolve_boards, boards)
        except LocalDatabaseError as error:
            raise AlbumError(str(error.code), str(error)) from error
        return ids, [local.images_dir.resolve()]

    def all_albums(self) -> list[AlbumConfig]:
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
        boards: list[str] | None = None,
        follow_symlinks: bool = False,
    ) -> AlbumConfig:
        key = key or key_from_name(name)
        try:
            validate_album_key(key)
        except ConfigError as error:
            raise AlbumError("invalid_album_key", str(error)) from error
        if self.config.album(key):
            raise AlbumError(
                "album_exists",
                f"an album with key {key!r} already exists; choose another name (or key)",
            )
        if boards:
            if folders:
                raise AlbumError(
                    "boards_and_folders",
                    "a board album takes its files from InvokeAI's outputs folder; give boards "
                    "or folders, not both",
                )
            board_ids, paths = await self._checked_boards(boards)
        else:
            board_ids, paths = [], self._checked_folders(folders)
        album = AlbumConfig(
            key, name or key, paths, list(exclude or []), board_ids, follow_symlinks
        )
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
        boards: list[str] | None = None,
        follow_symlinks: bool | None = None,
    ) -> AlbumConfig:
        album = self.get(key)
        if (boards is not None or album.boards) and folders is not None:
            raise AlbumError(
                "boards_and_folders",
                "a board album takes its files from InvokeAI's outputs folder; change its "
                "boards, not its folders",
            )
        if boards is not None and not boards:
            raise AlbumError("no_boards", "a board album needs at least one board")
        if boards is not None:
            album.boards, album.folders = await self._checked_boards(boards)
        if name is not None:
            album.name = name
        refolder = (
            folders is not None
            or exclude is not None
            or boards is not None
            or (follow_symlinks is not None and follow_symlinks != album.follow_symlinks)
        )
        if follow_symlinks is not None:
            album.follow_symlinks = follow_symlinks
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
        self.links.forget(key)
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
            if path.resolve() not in resolved:  # the same folder twice would be watched twice
                resolved.append(path.resolve())
        return resolved

    async def start(self, album: AlbumConfig) -> None:
        """Watch first, then reconcile, so nothing written in between is missed.

        A board album is not watched: InvokeAI's database says which files it has, and the
        board sync reconciles it whenever that database changes."""
        if album.boards:
            self.pipeline.spawn(self.reconcile(album.key))
            return
        problems = self.watcher.watch_album(album, self.skip_for(album))
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
            warnings: list[str] = []
            if album.boards:
                result, warnings = await self._reconcile_boards(album, known)
            else:
                skip = self.skip_for(album)
                if skip is not None:  # one query per reconcile, not one per file
                    await asyncio.to_thread(self._require_local().snapshot, fresh=True)
                rules = await asyncio.to_thread(self.links.rules, album)
                result = await asyncio.to_thread(scanner.reconcile, album, known, skip, rules)
                self.links.replace(key, result.problems)
            for path in result.new_or_changed:
                self.pipeline.submit(Change(ChangeKind.CREATED, key, path, from_scan=True))
            new_files = [path for path in result.new_or_changed if str(path) not in known]
            if len(new_files) >= PREFILL_MIN_FILES:
                self.pipeline.spawn(self._prefill(key, new_files))
            if result.removed:
                for removed in result.removed:
                    await self.pipeline.handle_deleted(key, Path(removed))
            # A reconcile also gives owed embeddings another chance (model back, or changed).
            self.pipeline.retry_model_now()
            summary = {
                "album": key,
                "queued": len(result.new_or_changed),
                "removed": len(result.removed),
                "unchanged": result.unchanged,
                "missing_folders": [str(folder) for folder in result.missing_folders],
                "warnings": warnings[:20],
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

    async def _prefill(self, key: str, paths: Sequence[Path]) -> None:
        """'pending' rows with metadata read from the file headers (thousands per second),
        so prompt search and filters find a new library in seconds while decoding and
        embedding (tens per second) catch up; the pipeline then completes the same rows."""
        started = time.monotonic()
        try:
            count = await self.metadata.prefill(key, paths)
        except Exception:  # only the head start is lost: the pipeline still indexes every file
            log.exception(
                "reading the metadata of %d new files of %s early failed", len(paths), key
            )
            return
        log.info(
            "%s: metadata of %d new files searchable in %.2f s, before indexing",
            key,
            count,
            time.monotonic() - started,
        )

    async def _reconcile_boards(
        self, album: AlbumConfig, known: dict[str, KnownFile]
    ) -> tuple[scanner.ScanResult, list[str]]:
        """Files of the album's boards per InvokeAI's database; an unreadable database keeps
        the album as it is (nothing removed) and says why."""
        local = self.local_index()
        if local is None:
            return scanner.ScanResult(), ["no InvokeAI root is known; the album is kept as is"]
        try:
            found = await asyncio.to_thread(local.board_files, album.boards)
        except LocalDatabaseError as error:
            return scanner.ScanResult(), [f"{error} The album is kept as it is."]
        result = scanner.compare(found.files, known, [local.images_dir.resolve()])
        return result, found.warnings

    async def describe(self, album: AlbumConfig) -> dict[str, Any]:
        counts = (await self.store.album_counts()).get(album.key, {})
        folders = [{"path": str(folder), "exists": folder.is_dir()} for folder in album.folders]
        missing = [str(folder) for folder in album.folders if not folder.is_dir()]
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
            "boards": await self._describe_boards(album),
            "follow_symlinks": album.follow_symlinks,
            "count": counts.get("ok", 0),
            # Files that failed, and links or folders that could not be used (the failures list).
            "failed": counts.get("error", 0) + self.links.count(album.key),
            "pending": counts.get("pending", 0),
            "state": state,
            "problem": (
                f"folder missing: {', '.join(missing)} — reconnect the drive or edit the "
                "album; its index is kept"
            )
            if missing
            else None,
            "last_reconcile": self.last_reconcile.get(album.key),
            # native, polling (all of it), mixed (some folders polled: the watch limit ran out)
            "watcher": self.watcher.album_watch(album.key),
        }

    async def failures(self, key: str) -> list[dict[str, Any]]:
        """Files that could not be indexed (with an image id), then links and folders that
        could not be used (no id: nothing was indexed), each with the reason and what to do."""
        self.get(key)
        rows = [{**row, "kind": "file"} for row in await self.store.failures(key)]
        return rows + [problem.to_json() for problem in self.links.listed(key)]

    async def _describe_boards(self, album: AlbumConfig) -> list[dict[str, Any]]:
        if not album.boards:
            return []
        local = self.local_index()
        names: dict[str, str | None] = {}
        if local is not None:
            try:
                names = await asyncio.to_thread(local.board_names, album.boards)
            except LocalDatabaseError:
                names = {}
        return [{"id": board_id, "name": names.get(board_id)} for board_id in album.boards]
