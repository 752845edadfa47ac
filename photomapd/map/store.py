"""SQLite persistence of semantic maps, so a restart shows the map at once.

Tables live beside the core schema but are created here with IF NOT EXISTS: the map feature
can land (or be dropped) without renumbering the core migrations.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from photomapd.map.payload import (
    cluster_rows,
    clusters_from_rows,
    point_rows,
    points_from_rows,
)

if TYPE_CHECKING:
    from photomapd.map.clusters import ClusterInfo
    from photomapd.map.payload import (
        MapPoints,
    )
    from photomapd.store.store import Store

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS map_points (
    album TEXT NOT NULL,
    image_id INTEGER NOT NULL,
    x REAL NOT NULL,
    y REAL NOT NULL,
    cluster INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (album, image_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_clusters (
    album TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    label TEXT NOT NULL,
    representative_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    words TEXT NOT NULL DEFAULT '',
    cx REAL NOT NULL DEFAULT 0,
    cy REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (album, cluster)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_state (
    album TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    fitted_count INTEGER NOT NULL,
    strength REAL NOT NULL,
    fitted_at REAL
);
"""


@dataclass(frozen=True, slots=True)
class MapState:
    version: int
    fitted_count: int
    strength: float
    fitted_at: float | None


@dataclass(frozen=True, slots=True)
class StoredMap:
    points: MapPoints
    clusters: list[ClusterInfo]
    state: MapState


class MapStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def ensure_schema(self) -> None:
        # The Store's single writer serialises every write; taking its lock keeps this script
        # from interleaving with a pipeline transaction. (Store has no public transaction helper.)
        async with self.store._write_lock:
            await self.store.writer.executescript(SCHEMA)

    async def load(self, album: str) -> StoredMap | None:
        state_row = await self.store.fetch_one(
            "SELECT version, fitted_count, strength, fitted_at FROM map_state WHERE album = ?",
            (album,),
        )
        if state_row is None:
            return None
        point_data = await self.store.fetch_all(
            "SELECT image_id, x, y, cluster FROM map_points WHERE album = ?", (album,)
        )
        cluster_data = await self.store.fetch_all(
            "SELECT cluster, label, representative_id, size, words, cx, cy FROM map_clusters "
            "WHERE album = ? ORDER BY cluster",
            (album,),
        )
        return StoredMap(
            points=points_from_rows(tuple(row) for row in point_data),
            clusters=clusters_from_rows(tuple(row) for row in cluster_data),
            state=MapState(*tuple(state_row)),
        )

    async def replace(
        self, album: str, points: MapPoints, clusters: list[ClusterInfo], state: MapState
    ) -> None:
        """Whole map in one transaction (after a fit or recluster): never half old, half new."""
        started = time.perf_counter()
        async with self.store._write_lock:
            writer = self.store.writer
            await writer.execute("DELETE FROM map_points WHERE album = ?", (album,))
            await writer.execute("DELETE FROM map_clusters WHERE album = ?", (album,))
            await writer.executemany(
                "INSERT INTO map_points (album, image_id, x, y, cluster) VALUES (?, ?, ?, ?, ?)",
                point_rows(album, points),
            )
            await writer.executemany(
                "INSERT INTO map_clusters (album, cluster, label, representative_id, size, "
                "words, cx, cy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                cluster_rows(album, clusters),
            )
            await self._put_state(album, state)
            await writer.commit()
        logger.debug(
            "saved map of %s: %d points in %.2f s",
            album,
            len(points),
            time.perf_counter() - started,
        )

    async def upsert_points(
        self, album: str, points: MapPoints, removed: list[int], state: MapState
    ) -> None:
        """Placements and removals between fits: only the rows that changed."""
        async with self.store._write_lock:
            writer = self.store.writer
            await writer.executemany(
                "INSERT OR REPLACE INTO map_points (album, image_id, x, y, cluster) "
                "VALUES (?, ?, ?, ?, ?)",
                point_rows(album, points),
            )
            await writer.executemany(
                "DELETE FROM map_points WHERE album = ? AND image_id = ?",
                [(album, image_id) for image_id in removed],
            )
            await self._put_state(album, state)
            await writer.commit()

    async def delete(self, album: str) -> None:
        async with self.store._write_lock:
            for table in ("map_points", "map_clusters", "map_state"):
                await self.store.writer.execute(f"DELETE FROM {table} WHERE album = ?", (album,))
            await self.store.writer.commit()

    async def _put_state(self, album: str, state: MapState) -> None:
        await self.store.writer.execute(
            "INSERT OR REPLACE INTO map_state (album, version, fitted_count, strength, fitted_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (album, state.version, state.fitted_count, state.strength, state.fitted_at),
        )
