"""Writing what the pipeline learned about files: each batch's rows and vectors in one
transaction, a moved file taking its old row over."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from photomapd.store.database import Database

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence


@dataclass(frozen=True)
class IndexedImage:
    """Everything the pipeline learned about one file, written in one transaction."""

    image_id: int
    size: int
    mtime: float
    content_hash: str
    width: int
    height: int
    metadata_json: str | None
    raw_metadata_json: str | None
    parser_version: int | None
    thumbnail: str | None
    model_id: str | None = None
    vector: np.ndarray | None = None


class IndexedRows(Database):
    async def save_indexed(self, album: str, path: str, image: IndexedImage) -> tuple[int, bool]:
        """One file's row (and embedding); returns (id, is_new)."""
        [result] = await self.save_indexed_batch([(album, path, image)])
        return result

    async def save_indexed_batch(
        self, items: Sequence[tuple[str, str, IndexedImage]]
    ) -> list[tuple[int, bool]]:
        """Rows + embeddings for a whole batch in one transaction; [(id, is_new)] in order.

        A new path whose bytes match a row whose file is gone (marked missing, or its delete
        event still on its way) takes that row over: a move keeps its id, favourite and vector.
        """

        def write(connection: sqlite3.Connection) -> list[tuple[int, bool]]:
            results = []
            try:
                for album, path, image in items:
                    results.append(_save_one(connection, album, path, image))
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            return results

        return await self.run_in_writer(write)


def _save_one(
    connection: sqlite3.Connection, album: str, path: str, image: IndexedImage
) -> tuple[int, bool]:
    """Blocking, inside save_indexed_batch's transaction."""
    values = (
        image.size,
        image.mtime,
        image.content_hash,
        image.width,
        image.height,
        time.time(),
        image.metadata_json,
        image.raw_metadata_json,
        image.parser_version,
        image.thumbnail,
    )
    row = connection.execute(
        "SELECT id, status, content_hash FROM images WHERE album = ? AND path = ?", (album, path)
    ).fetchone()
    # A 'pending' row without a hash is a placeholder from the header-only prefill: to
    # everyone watching, this file is new now, and a moved file still takes its old row over.
    placeholder = row is not None and row[1] == "pending" and row[2] is None
    is_new = row is None or placeholder
    if is_new:
        moved = _vanished_twin(connection, album, image.content_hash)
        if moved is not None:
            if placeholder:
                connection.execute("DELETE FROM images WHERE id = ?", (row[0],))
            row = (moved,)
    if row is not None:
        image_id = int(row[0])
        connection.execute(
            "UPDATE images SET size = ?, mtime = ?, content_hash = ?, width = ?, height = ?, "
            "indexed_at = ?, metadata_json = ?, raw_metadata_json = ?, parser_version = ?, "
            "thumbnail = ?, path = ?, status = 'ok', error = NULL, missing_since = NULL "
            "WHERE id = ?",
            (*values, path, image_id),
        )
    else:
        cursor = connection.execute(
            "INSERT INTO images (size, mtime, content_hash, width, height, indexed_at, "
            "metadata_json, raw_metadata_json, parser_version, thumbnail, album, path, "
            "created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
            (*values, album, path, image.mtime),
        )
        image_id = int(cursor.lastrowid or 0)
    if image.vector is not None and image.model_id:
        connection.execute(
            "INSERT OR REPLACE INTO embeddings (image_id, model_id, vector) VALUES (?, ?, ?)",
            (image_id, image.model_id, np.asarray(image.vector, dtype=np.float32).tobytes()),
        )
    return image_id, is_new


def _vanished_twin(connection: sqlite3.Connection, album: str, content_hash: str) -> int | None:
    """A row with the same bytes whose file is gone: the file was moved or renamed.

    Its delete event may not have arrived yet: inotify reports a move into a folder created a
    moment ago as delete + create, and watchdog holds the delete back waiting for its pair.
    """
    rows = connection.execute(
        "SELECT id, path, status FROM images WHERE album = ? AND content_hash = ? "
        "ORDER BY missing_since DESC",
        (album, content_hash),
    ).fetchall()
    for image_id, path, status in rows:
        if status == "missing" or not os.path.exists(path):
            return int(image_id)
    return None
