"""All SQL: schema migrations, the image rows, embeddings, favourites.

SQLite is the source of truth (the usearch file is a cache rebuilt from here). One writer
connection serialises writes; a second connection serves reads concurrently thanks to WAL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import numpy as np

from photomapd.metadata_schema import (
    METADATA_MIGRATION,
    METADATA_MIGRATION_3,
    METADATA_MIGRATION_5,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: images + embeddings
    """
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        album TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        content_hash TEXT,
        width INTEGER,
        height INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        created_at REAL NOT NULL,
        indexed_at REAL,
        missing_since REAL,
        metadata_json TEXT,
        raw_metadata_json TEXT,
        parser_version INTEGER,
        favourite INTEGER NOT NULL DEFAULT 0,
        thumbnail TEXT,
        UNIQUE (album, path)
    );
    CREATE INDEX images_album_created ON images (album, status, created_at);
    CREATE INDEX images_hash ON images (content_hash);
    CREATE TABLE embeddings (
        image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX embeddings_model ON embeddings (model_id);
    """,
    # 2: generation metadata filter columns, LoRA table, prompt FTS5 (metadata_schema.py)
    METADATA_MIGRATION,
    # 3: metadata filter columns as plain trigger-filled columns with covering indexes
    METADATA_MIGRATION_3,
    # 4: InvokeAI board of each image in InvokeAI's images folder (NULL elsewhere)
    "ALTER TABLE images ADD COLUMN board TEXT",
    # 5: trigram FTS5 index for substring search in CJK/Thai prompts (metadata_schema.py)
    METADATA_MIGRATION_5,
]

VISIBLE = "status IN ('ok', 'pending', 'error')"
IMAGE_COLUMNS = (
    "id, album, path, size, mtime, content_hash, width, height, status, error, created_at, "
    "indexed_at, metadata_json, favourite, thumbnail, board"
)
EMBEDDED = "EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = images.id) AS embedded"


@dataclass(frozen=True)
class KnownFile:
    id: int
    size: int
    mtime: float
    status: str


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


# FTS5's trigram tokenizer (migration 5) needs SQLite 3.34. Some Linux Pythons use the system's
# library; an older one would stop the migration with a bare "no such tokenizer: trigram".
MINIMUM_SQLITE = (3, 34, 0)


class SQLiteTooOld(RuntimeError):
    """This Python's SQLite cannot hold photomapd's database."""


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    if tuple(version) < MINIMUM_SQLITE:
        have = ".".join(map(str, version))
        raise SQLiteTooOld(
            f"this Python uses SQLite {have}, but photomapd needs SQLite 3.34 or newer (for "
            "substring search in Chinese, Japanese and Thai prompts). Install photomapd with a "
            "newer Python: installer/install.sh uses uv's Python builds when uv is present, or "
            "use python.org's installer"
        )


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        check_sqlite_version()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(self.path, timeout=30)
        connection.row_factory = aiosqlite.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only power loss can drop
        # the last transactions, which the next reconcile re-indexes anyway.
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        return connection

    async def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        async with connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("migrating database %s to version %d", self.path, number)
            await connection.executescript(
                f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;"
            )

    @property
    def writer(self) -> aiosqlite.Connection:
        assert self._writer is not None, "Store.open() was not awaited"
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._reader is not None, "Store.open() was not awaited"
        return self._reader

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.reader.execute(sql, parameters) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.reader.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def write(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; returns lastrowid."""
        async with self._write_lock:
            cursor = await self.writer.execute(sql, parameters)
            await self.writer.commit()
            return cursor.lastrowid or 0

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._write_lock:
            await self.writer.executemany(sql, rows)
            await self.writer.commit()

    async def integrity_check(self) -> str:
        row = await self.fetch_one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # --- files -------------------------------------------------------------------------

    async def known_files(self, album: str) -> dict[str, KnownFile]:
        rows = await self.fetch_all(
            "SELECT id, path, size, mtime, status FROM images WHERE album = ?", (album,)
        )
        return {
            row["path"]: KnownFile(row["id"], row["size"], row["mtime"], row["status"])
            for row in rows
        }

    async def save_indexed(self, album: str, path: str, image: IndexedImage) -> tuple[int, bool]:
        """One file's row (and embedding); returns (id, is_new)."""
        [result] = await self.save_indexed_batch([(album, path, image)])
        return result

    async def run_in_writer(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run a blocking function on the writer connection's own thread, as one hop.

        A batch of many statements then costs one thread hand-off instead of one per statement:
        with decode threads holding the GIL, each hand-off can wait a whole switch interval
        (5 ms), which capped indexing at ~75 img/s on a 16-core GPU machine.
        aiosqlite offers no public call for this; `_execute` runs `function` in its thread.
        """
        async with self._write_lock:
            return await self.writer._execute(function, self.writer._conn)

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

    async def embeddings_by_hash(
        self, content_hashes: Sequence[str], model_id: str
    ) -> dict[str, np.ndarray]:
        """Vectors already computed for these exact bytes (copies, moves): one query."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(content_hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = await self.fetch_all(
                "SELECT i.content_hash, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id "
                f"WHERE e.model_id = ? AND i.content_hash IN ({','.join('?' * len(chunk))})",
                [model_id, *chunk],
            )
            for row in rows:
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32).copy()
        return found

    async def save_error(
        self, album: str, path: str, size: int, mtime: float, reason: str
    ) -> tuple[int, bool]:
        """Record why a file could not be indexed; it is retried when its size or mtime change."""
        async with self._write_lock:
            cursor = await self.writer.execute(
                "SELECT id FROM images WHERE album = ? AND path = ?", (album, path)
            )
            existing = await cursor.fetchone()
            if existing:
                image_id = int(existing[0])
                await self.writer.execute(
                    "UPDATE images SET size = ?, mtime = ?, status = 'error', error = ?, "
                    "indexed_at = ?, missing_since = NULL WHERE id = ?",
                    (size, mtime, reason, time.time(), image_id),
                )
            else:
                cursor = await self.writer.execute(
                    "INSERT INTO images (album, path, size, mtime, created_at, indexed_at, status, "
                    "error) VALUES (?, ?, ?, ?, ?, ?, 'error', ?)",
                    (album, path, size, mtime, mtime, time.time(), reason),
                )
                image_id = int(cursor.lastrowid or 0)
            await self.writer.commit()
        return image_id, existing is None

    async def rename(self, album: str, old_path: str, new_path: str) -> int | None:
        """A rename seen by the watcher: the row keeps its id, favourite and embedding."""
        async with self._write_lock:
            await self.writer.execute(
                "DELETE FROM images WHERE album = ? AND path = ?", (album, new_path)
            )
            cursor = await self.writer.execute(
                "UPDATE images SET path = ? WHERE album = ? AND path = ? RETURNING id",
                (new_path, album, old_path),
            )
            row = await cursor.fetchone()
            await self.writer.commit()
        return int(row[0]) if row else None

    async def put_embeddings(self, model_id: str, pairs: Sequence[tuple[int, np.ndarray]]) -> None:
        async with self._write_lock:
            for image_id, vector in pairs:
                await self._put_embedding(image_id, model_id, vector)
            await self.writer.commit()

    async def _put_embedding(self, image_id: int, model_id: str, vector: np.ndarray) -> None:
        await self.writer.execute(
            "INSERT OR REPLACE INTO embeddings (image_id, model_id, vector) VALUES (?, ?, ?)",
            (image_id, model_id, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    async def mark_missing(self, album: str, paths: Sequence[str]) -> list[int]:
        """Hide rows whose file is gone; the row (and its id) survives a while so a move keeps it."""
        if not paths:
            return []
        ids: list[int] = []
        async with self._write_lock:
            now = time.time()
            for path in paths:
                cursor = await self.writer.execute(
                    "UPDATE images SET status = 'missing', missing_since = ? "
                    "WHERE album = ? AND path = ? AND status != 'missing' RETURNING id",
                    (now, album, path),
                )
                ids.extend(int(row[0]) for row in await cursor.fetchall())
            await self.writer.commit()
        return ids

    async def boards_of(
        self, album: str, unset_only: bool = False, paths: Sequence[str] | None = None
    ) -> dict[str, tuple[int, str | None]]:
        """path -> (id, board) of the album's visible rows, for the InvokeAI board sync:
        all, only those without a board yet (`unset_only`), or those at `paths`."""
        where = f"album = ? AND {VISIBLE}" + (" AND board IS NULL" if unset_only else "")
        if paths is None:
            rows = await self.fetch_all(
                f"SELECT id, path, board FROM images WHERE {where}", (album,)
            )
        else:
            rows = []
            for start in range(0, len(paths), 500):
                chunk = list(paths[start : start + 500])
                rows += await self.fetch_all(
                    f"SELECT id, path, board FROM images WHERE {where} "
                    f"AND path IN ({','.join('?' * len(chunk))})",
                    [album, *chunk],
                )
        return {row["path"]: (row["id"], row["board"]) for row in rows}

    async def set_boards(self, changes: Sequence[tuple[str | None, int]]) -> None:
        """(board, id) pairs in one transaction."""
        if changes:
            await self.write_many("UPDATE images SET board = ? WHERE id = ?", changes)

    async def purge_missing(self, older_than_seconds: float) -> list[int]:
        cutoff = time.time() - older_than_seconds
        async with self._write_lock:
            cursor = await self.writer.execute(
                "DELETE FROM images WHERE status = 'missing' AND missing_since < ? RETURNING id",
                (cutoff,),
            )
            ids = [int(row[0]) for row in await cursor.fetchall()]
            await self.writer.commit()
        return ids

    async def delete_album(self, album: str) -> list[int]:
        async with self._write_lock:
            cursor = await self.writer.execute(
                "DELETE FROM images WHERE album = ? RETURNING id", (album,)
            )
            ids = [int(row[0]) for row in await cursor.fetchall()]
            await self.writer.commit()
        return ids

    # --- reads -------------------------------------------------------------------------

    async def get_image(self, image_id: int) -> dict[str, Any] | None:
        row = await self.fetch_one(
            f"SELECT {IMAGE_COLUMNS}, {EMBEDDED} FROM images WHERE id = ?",
            (image_id,),
        )
        return dict(row) if row else None

    async def get_images(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = await self.fetch_all(
                f"SELECT {IMAGE_COLUMNS}, {EMBEDDED} FROM images "
                f"WHERE id IN ({marks}) AND {VISIBLE}",
                chunk,
            )
            found.update({row["id"]: dict(row) for row in rows})
        return found

    async def list_images(
        self,
        album: str | None,
        offset: int,
        limit: int,
        newest_first: bool = True,
        favourites_only: bool = False,
    ) -> tuple[list[dict[str, Any]], int]:
        conditions = [VISIBLE]
        parameters: list[Any] = []
        if album:
            conditions.append("album = ?")
            parameters.append(album)
        if favourites_only:
            conditions.append("favourite = 1")
        where = " AND ".join(conditions)
        direction = "DESC" if newest_first else "ASC"
        # The count rides in the same statement so page and total come from one snapshot: two
        # statements could see an image committed between them (total 1, no items).
        count = f"SELECT COUNT(*) FROM images WHERE {where}"
        rows = await self.fetch_all(
            f"SELECT ({count}) AS total_count, {IMAGE_COLUMNS}, {EMBEDDED} FROM images WHERE {where} "
            f"ORDER BY created_at {direction}, id {direction} LIMIT ? OFFSET ?",
            [*parameters, *parameters, limit, offset],
        )
        if rows:
            total = int(rows[0]["total_count"])
        else:
            total_row = await self.fetch_one(count, parameters)
            total = int(total_row[0]) if total_row else 0
        images = [dict(row) for row in rows]
        for image in images:
            del image["total_count"]
        return images, total

    async def album_counts(self) -> dict[str, dict[str, int]]:
        rows = await self.fetch_all(
            "SELECT album, status, COUNT(*) AS n FROM images GROUP BY album, status"
        )
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["album"], {})[row["status"]] = int(row["n"])
        return counts

    async def failures(self, album: str, limit: int = 1000) -> list[dict[str, Any]]:
        rows = await self.fetch_all(
            "SELECT id, path, error, indexed_at FROM images WHERE album = ? AND status = 'error' "
            "ORDER BY indexed_at DESC LIMIT ?",
            (album, limit),
        )
        return [dict(row) for row in rows]

    async def without_embedding(self, model_id: str, limit: int) -> list[dict[str, Any]]:
        """Indexed images that still need a vector from this model (model was down, or changed)."""
        rows = await self.fetch_all(
            "SELECT i.id, i.album, i.path, i.size, i.mtime FROM images i "
            "LEFT JOIN embeddings e ON e.image_id = i.id AND e.model_id = ? "
            "WHERE i.status = 'ok' AND e.image_id IS NULL ORDER BY i.id LIMIT ?",
            (model_id, limit),
        )
        return [dict(row) for row in rows]

    async def count_without_embedding(self, model_id: str) -> int:
        row = await self.fetch_one(
            "SELECT COUNT(*) FROM images i LEFT JOIN embeddings e "
            "ON e.image_id = i.id AND e.model_id = ? WHERE i.status = 'ok' AND e.image_id IS NULL",
            (model_id,),
        )
        return int(row[0]) if row else 0

    async def embeddings_for(self, model_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every visible image embedded with this model: the rebuild source."""
        rows = await self.fetch_all(
            "SELECT e.image_id, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id "
            "WHERE e.model_id = ? AND i.status = 'ok'",
            (model_id,),
        )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        vectors = np.stack([np.frombuffer(row[1], dtype=np.float32) for row in rows])
        return ids, vectors

    async def embedding(self, image_id: int, model_id: str) -> np.ndarray | None:
        row = await self.fetch_one(
            "SELECT vector FROM embeddings WHERE image_id = ? AND model_id = ?",
            (image_id, model_id),
        )
        return np.frombuffer(row[0], dtype=np.float32).copy() if row else None

    async def set_favourite(self, image_id: int, favourite: bool) -> bool:
        async with self._write_lock:
            cursor = await self.writer.execute(
                "UPDATE images SET favourite = ? WHERE id = ?", (int(favourite), image_id)
            )
            await self.writer.commit()
        return cursor.rowcount > 0

    async def album_of(self, image_ids: Sequence[int]) -> dict[int, str]:
        rows = await self.get_images(image_ids)
        return {image_id: row["album"] for image_id, row in rows.items()}

    async def ids_in_album(self, album: str) -> set[int]:
        rows = await self.fetch_all(
            "SELECT id FROM images WHERE album = ? AND status = 'ok'", (album,)
        )
        return {int(row[0]) for row in rows}


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
