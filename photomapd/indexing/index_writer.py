"""Changes to what is indexed, landed in one order everywhere: SQLite rows (the truth), then the
usearch index, then an event for the browser."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

import numpy as np

from photomapd.events import EventKind
from photomapd.image_json import image_json
from photomapd.indexing.failures import write_failure_reason
from photomapd.store.indexed_rows import IndexedImage

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from photomapd.events import EventBus
    from photomapd.indexing.preparation import PreparedImage
    from photomapd.search.vector_space import VectorSpace
    from photomapd.store.store import Store

log = logging.getLogger(__name__)


class IndexWriter:
    def __init__(self, store: Store, vectors: VectorSpace, events: EventBus) -> None:
        self.store = store
        self.vectors = vectors
        self.events = events

    async def save_batch(
        self, batch: list[PreparedImage], vectors: list[np.ndarray | None], model_id: str
    ) -> int:
        """A batch's rows and vectors in one transaction; None where the model gave none.

        A file whose row could not be written is recorded as failed (with the reason) and the
        rest of the batch lands; returns how many failed."""
        records = [
            (item.album, str(item.path), _record(item, model_id, vector))
            for item, vector in zip(batch, vectors, strict=True)
        ]
        saved = await self.store.save_indexed_batch(records)
        written = [
            (result, vector)
            for result, vector in zip(saved, vectors, strict=True)
            if result.error is None
        ]
        added = [(result.image_id, vector) for result, vector in written if vector is not None]
        if added:
            await asyncio.to_thread(
                self.vectors.add,
                np.asarray([image_id for image_id, _ in added], dtype=np.int64),
                np.stack([vector for _, vector in added]),
            )
        announcements = [(result.image_id, result.is_new) for result, _ in written]
        for item, result in zip(batch, saved, strict=True):
            if result.error is not None:
                announcement = await self._record_failure(item, result.error)
                if announcement is not None:
                    announcements.append(announcement)
        rows = await self.store.get_images([image_id for image_id, _ in announcements])
        for image_id, is_new in announcements:
            if image_id in rows:
                kind = EventKind.IMAGE_ADDED if is_new else EventKind.IMAGE_UPDATED
                self.events.publish(kind, {"image": image_json(rows[image_id])})
        return len(saved) - len(written)

    async def _record_failure(
        self, item: PreparedImage, error: Exception
    ) -> tuple[int, bool] | None:
        """The file's row says why it could not be written; (id, is_new) to announce."""
        reason, message = write_failure_reason(error)
        log.warning("could not index %s: %s", item.path, reason, exc_info=error)
        try:
            return await self.store.save_error(
                item.album, str(item.path), item.size, item.mtime, message
            )
        except Exception:  # the failure itself could not be stored: the log keeps it
            log.exception("could not record the failure of %s either", item.path)
            return None

    async def save_vectors(self, model_id: str, pairs: Sequence[tuple[int, np.ndarray]]) -> None:
        """Vectors for rows that are already indexed."""
        await self.store.put_embeddings(model_id, pairs)
        ids = np.asarray([image_id for image_id, _ in pairs], dtype=np.int64)
        await asyncio.to_thread(self.vectors.add, ids, np.stack([v for _, v in pairs]))
        updated = await self.store.get_images(ids.tolist())
        for row in updated.values():
            self.events.publish(EventKind.IMAGE_UPDATED, {"image": image_json(row)})

    async def forget(self, album: str, path: Path) -> None:
        """A file, or a folder with everything in it, is gone."""
        known = await self.store.known_files(album)
        prefix = str(path) + os.sep
        paths = [p for p in known if p == str(path) or p.startswith(prefix)]
        ids = await self.store.mark_missing(album, paths)
        if ids:
            await asyncio.to_thread(self.vectors.remove, ids)
            for image_id in ids:
                self.events.publish(EventKind.IMAGE_REMOVED, {"id": image_id, "album": album})

    async def move(self, album: str, source: Path, dest: Path) -> bool:
        """A file or folder moved: its rows follow. False when nothing was known at `source`."""
        known = await self.store.known_files(album)
        prefix = str(source) + os.sep
        moved = [
            (p, str(dest) + p[len(str(source)) :])
            for p in known
            if p == str(source) or p.startswith(prefix)
        ]
        for old_path, new_path in moved:
            image_id = await self.store.rename(album, old_path, new_path)
            if image_id is not None:
                image = await self.store.get_image(image_id)
                if image:
                    self.events.publish(EventKind.IMAGE_UPDATED, {"image": image_json(image)})
        return bool(moved)


def _record(item: PreparedImage, model_id: str, vector: np.ndarray | None) -> IndexedImage:
    return IndexedImage(
        image_id=0,
        size=item.size,
        mtime=item.mtime,
        content_hash=item.content_hash,
        width=item.width,
        height=item.height,
        metadata_json=item.metadata_json,
        raw_metadata_json=item.raw_metadata_json,
        parser_version=item.parser_version,
        thumbnail=item.thumbnail,
        model_id=model_id if vector is not None else None,
        vector=vector,
    )
