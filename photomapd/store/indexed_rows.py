"""Writing what the pipeline learned about files: each batch's rows and vectors in one
transaction, a moved file taking its old row over."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from photomapd.file_paths import to_sqlite
from photomapd.store.database import Database

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class SavedRow:
    """One file of a batch: its row (id, and whether it is new to everyone watching), or the
    error that kept it out; the other files of the batch are written either way."""

    image_id: int = 0
    is_new: bool = False
    error: Exception | None = None


# Faults of the database itself (full disk, locked, read-only, I/O): no row can be written, so
# the whole batch waits for the caller's retry instead of each file being marked failed.
_DATABASE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_INTERRUPT,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)


def is_database_fault(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in _DATABASE_FAULTS


class IndexedRows(Database):
    async def save_indexed(self, album: str, path: str, image: IndexedImage) -> tuple[int, bool]:
        """One file's row (and embedding); returns (id, is_new)."""
        [result] = await self.save_indexed_batch([(album, path, image)])
        if result.error is not None:
            raise result.error
        return result.image_id, result.is_new

    async def save_indexed_batch(
        self, items: Sequence[tuple[str, str, IndexedImage]]
    ) -> list[SavedRow]:
        """Rows + embeddings for a whole batch in one transaction; a SavedRow per item, in order.

        Each row is written under its own savepoint: whatever one row raises (a value SQLite
        cannot hold, a bug) undoes only that row and comes back as its SavedRow's error, so
        the rest of the batch lands. A fault of the database itself fails the whole batch.

        A new path whose bytes match a row whose file is gone (marked missing, or its delete
        event still on its way) takes that row over: a move keeps its id, favourite and vector.
        """

        def write(connection: sqlite3.Connection) -> list[SavedRow]:
            results = []
            try:
                if not connection.in_transaction:
                    connection.execute("BEGIN")
                for album, path, image in items:
                    results.append(_save_isolated(connection, album, path, image))
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            return results

        return await self.run_in_writer(write)


def _save_isolated(
    connection: sqlite3.Connection, album: str, path: str, image: IndexedImage
) -> SavedRow:
    connection.execute("SAVEPOINT indexed_row")
    try:
        image_id, is_new = _save_one(connection, album, path, image)
    except Exception as error:
        connection.execute("ROLLBACK TO indexed_row")
        connection.execute("RELEASE indexed_row")
        if is_database_fault(error):
            raise
        return SavedRow(error=error)
    connection.execute("RELEASE indexed_row")
    return SavedRow(image_id, is_new)


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
        to_sqlite(image.thumbnail) if image.thumbnail is not None else None,
    )
    stored_path = to_sqlite(path)
    row = connection.execute(
        "SELECT id, status, content_hash FROM images WHERE album = ? AND path = ?",
        (album, stored_path),
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
            (*values, stored_path, image_id),
        )
    else:
        cursor = connection.execute(
            "INSERT INTO images (size, mtime, content_hash, width, height, indexed_at, "
            "metadata_json, raw_metadata_json, parser_version, thumbnail, album, path, "
            "created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
            (*values, album, stored_path, image.mtime),
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
