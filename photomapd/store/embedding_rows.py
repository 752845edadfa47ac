"""The embeddings table: vectors stored per (image, model), the source the usearch index is
rebuilt from, and the images still owed a vector by the current model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from photomapd.store.database import Database

if TYPE_CHECKING:
    from collections.abc import Sequence


class EmbeddingRows(Database):
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
