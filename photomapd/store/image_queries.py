"""Reads of image rows for the API and the UI: one image, a page of an album, counts, failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.store.database import Database
from photomapd.store.schema import VISIBLE

if TYPE_CHECKING:
    from collections.abc import Sequence

IMAGE_COLUMNS = (
    "id, album, path, size, mtime, content_hash, width, height, status, error, created_at, "
    "indexed_at, metadata_json, favourite, thumbnail, board"
)
EMBEDDED = "EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = images.id) AS embedded"


class ImageQueries(Database):
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

    async def album_of(self, image_ids: Sequence[int]) -> dict[int, str]:
        rows = await self.get_images(image_ids)
        return {image_id: row["album"] for image_id, row in rows.items()}

    async def ids_in_album(self, album: str) -> set[int]:
        rows = await self.fetch_all(
            "SELECT id FROM images WHERE album = ? AND status = 'ok'", (album,)
        )
        return {int(row[0]) for row in rows}
