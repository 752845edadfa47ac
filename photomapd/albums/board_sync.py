"""Keeps albums in step with InvokeAI's own database while the daemon runs.

Each tick (cheap: two stat calls) asks whether InvokeAI's database changed or photomapd indexed
something since the last tick. If so, for albums that are InvokeAI's images folder it writes each
image's board into the `board` column and drops images that turned out to be intermediate (the
database can lag a new file by a moment); board albums are reconciled against their boards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photomapd.config import AlbumError
from photomapd.events import EventKind
from photomapd.image_json import image_json

if TYPE_CHECKING:
    from photomapd.albums.service import AlbumService
    from photomapd.config import AlbumConfig
    from photomapd.invokeai.local_index import Snapshot

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 5.0
# Above this many changed rows one album_changed event replaces per-image events.
MAX_IMAGE_EVENTS = 200


class BoardSync:
    def __init__(self, albums: AlbumService, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self.albums = albums
        self.interval = interval
        self._last_database: tuple[Any, ...] | None = None
        self._last_counts: tuple[int, int] | None = None
        self._snapshot: Snapshot | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad tick must not end the sync
                log.exception("InvokeAI board sync failed; trying again in %.0f s", self.interval)
            await asyncio.sleep(self.interval)

    async def tick(self, force: bool = False) -> bool:
        """Sync when something changed (or `force`); True when it synced."""
        local = self.albums.local_index()
        if local is None:
            return False
        counters = self.albums.pipeline.counters
        database = (local.database.root, await asyncio.to_thread(local.signature))
        counts = (counters.done, counters.failed)
        first = self._last_database is None
        database_changed = database != self._last_database
        if not force and not database_changed and counts == self._last_counts:
            return False
        self._last_database, self._last_counts = database, counts
        snapshot = await asyncio.to_thread(local.snapshot, fresh=True)
        previous, self._snapshot = self._snapshot, snapshot
        changed: set[str] | None = None  # None: look at every row
        if not force and previous is not None and previous.error is None:
            changed = await asyncio.to_thread(snapshot.changed_since, previous)
        for album in self.albums.all_albums():
            # Start already reconciled board albums; after that InvokeAI's database is what
            # changes their contents.
            if album.boards and (force or (database_changed and not first)):
                with contextlib.suppress(AlbumError):  # deleted meanwhile
                    await self.albums.reconcile(album.key)
            # Board albums show each image's board too (an album may gather several boards).
            if (album.boards or self.albums.is_invokeai_folder(album)) and snapshot.error is None:
                await self.sync_album(album, snapshot, changed)
        return True

    async def sync_album(
        self, album: AlbumConfig, snapshot: Snapshot, changed: set[str] | None = None
    ) -> None:
        """Boards and intermediates of the album's rows: rows without a board yet (new since the
        last sync) and those InvokeAI changed (`changed` names), or every row (None)."""
        store, pipeline, events = self.albums.store, self.albums.pipeline, self.albums.events
        if changed is None:
            rows = await store.boards_of(album.key)
        else:
            rows = await store.boards_of(album.key, unset_only=True)
            local = self.albums.local_index()
            folders = [f for f in album.folders if local is not None and local.covers(f)]
            paths = [str(f / snapshot.relpath(name)) for f in folders for name in changed]
            if paths:
                rows.update(await store.boards_of(album.key, paths=paths))
        changes: list[tuple[str | None, int]] = []
        intermediate: list[str] = []
        for path, (image_id, board) in rows.items():
            name = Path(path).name
            if name in snapshot.intermediates:
                intermediate.append(path)
                continue
            wanted = snapshot.boards.get(name)
            if wanted != board:
                changes.append((wanted, image_id))
        if changes:
            await store.set_boards(changes)
            if len(changes) <= MAX_IMAGE_EVENTS:
                updated = await store.get_images([image_id for _, image_id in changes])
                for image in updated.values():
                    events.publish(EventKind.IMAGE_UPDATED, {"image": image_json(image)})
            else:
                events.publish(EventKind.ALBUM_CHANGED, {"key": album.key, "change": "boards"})
        if intermediate:
            ids = await store.mark_missing(album.key, intermediate)
            if ids:
                await asyncio.to_thread(pipeline.vectors.remove, ids)
                for image_id in ids:
                    events.publish(EventKind.IMAGE_REMOVED, {"id": image_id, "album": album.key})
            log.info("%s: left out %d InvokeAI intermediates", album.key, len(ids))
        if changes:
            log.debug("%s: %d board changes", album.key, len(changes))
