"""Image rows kept in step with the folders: what is known, files that failed, renames, files
gone, albums removed; and the per-image marks set from outside (favourite, InvokeAI board)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from photomapd.file_paths import to_sqlite
from photomapd.store.database import Database
from photomapd.store.schema import VISIBLE

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class KnownFile:
    id: int
    size: int
    mtime: float
    status: str


class ImageRows(Database):
    async def known_files(self, album: str) -> dict[str, KnownFile]:
        rows = await self.fetch_all(
            "SELECT id, path, size, mtime, status FROM images WHERE album = ?", (album,)
        )
        return {
            row["path"]: KnownFile(row["id"], row["size"], row["mtime"], row["status"])
            for row in rows
        }

    async def save_error(
        self, album: str, path: str, size: int, mtime: float, reason: str
    ) -> tuple[int, bool]:
        """Record why a file could not be indexed; it is retried when its size or mtime change."""
        stored = to_sqlite(path)
        async with self._write_lock:
            cursor = await self.writer.execute(
                "SELECT id FROM images WHERE album = ? AND path = ?", (album, stored)
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
                    (album, stored, size, mtime, mtime, time.time(), reason),
                )
                image_id = int(cursor.lastrowid or 0)
            await self.writer.commit()
        return image_id, existing is None

    async def rename(self, album: str, old_path: str, new_path: str) -> int | None:
        """A rename seen by the watcher: the row keeps its id, favourite and embedding."""
        async with self._write_lock:
            await self.writer.execute(
                "DELETE FROM images WHERE album = ? AND path = ?", (album, to_sqlite(new_path))
            )
            cursor = await self.writer.execute(
                "UPDATE images SET path = ? WHERE album = ? AND path = ? RETURNING id",
                (to_sqlite(new_path), album, to_sqlite(old_path)),
            )
            row = await cursor.fetchone()
            await self.writer.commit()
        return int(row[0]) if row else None

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
                    (now, album, to_sqlite(path)),
                )
                ids.extend(int(row[0]) for row in await cursor.fetchall())
            await self.writer.commit()
        return ids

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

    async def set_favourite(self, image_id: int, favourite: bool) -> bool:
        async with self._write_lock:
            cursor = await self.writer.execute(
                "UPDATE images SET favourite = ? WHERE id = ?", (int(favourite), image_id)
            )
            await self.writer.commit()
        return cursor.rowcount > 0

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
                chunk = [to_sqlite(path) for path in paths[start : start + 500]]
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
