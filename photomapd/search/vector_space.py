"""The usearch index of the current model, kept consistent with SQLite (the truth).

On start the saved file is loaded and compared with SQLite's ids; when it is missing, corrupt or
disagrees (a kill -9 between commit and save), it is rebuilt from the stored vectors.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

from photomapd.search.vectors import VectorIndex

if TYPE_CHECKING:
    from pathlib import Path

    from photomapd.store.store import Store

log = logging.getLogger(__name__)


class VectorSpace:
    def __init__(self, data_dir: Path, model_id: str) -> None:
        self.data_dir = data_dir
        self.model_id = model_id
        self.index: VectorIndex | None = None
        self.dirty = False
        self.rebuilt_reason: str | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        digest = hashlib.sha1(self.model_id.encode()).hexdigest()[:12]
        return self.data_dir / f"vectors-{digest}.usearch"

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else 0

    async def sync(self, store: Store) -> None:
        ids, vectors = await store.embeddings_for(self.model_id)
        await asyncio.to_thread(self._sync_blocking, ids, vectors)

    def _sync_blocking(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            self.index = None
            self.path.unlink(missing_ok=True)
            return
        dim = int(vectors.shape[1])
        index = VectorIndex(self.path, dim)
        loaded = index.load()
        if loaded and set(index.ids().tolist()) == set(ids.tolist()):
            self.index = index
            log.info("vector index loaded: %d vectors (%s)", len(index), self.path.name)
            return
        self.rebuilt_reason = (
            "missing or corrupt" if not loaded else "out of step with the database"
        )
        log.warning(
            "vector index %s is %s; rebuilding %d vectors from SQLite",
            self.path.name,
            self.rebuilt_reason,
            len(ids),
        )
        index = VectorIndex(self.path, dim)
        index.rebuild(ids, vectors)
        index.save()
        self.index = index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Blocking."""
        if len(ids) == 0:
            return
        with self._lock:
            if self.index is None:
                self.index = VectorIndex(self.path, int(vectors.shape[1]))
            self.index.add(np.asarray(ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))
            self.dirty = True

    def remove(self, ids: list[int]) -> None:
        """Blocking."""
        if self.index is None or not ids:
            return
        with self._lock:
            self.index.remove(np.asarray(ids, dtype=np.int64))
            self.dirty = True

    def search(
        self, query: np.ndarray, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Blocking."""
        if self.index is None or len(self.index) == 0:
            return []
        return self.index.search(np.asarray(query, dtype=np.float32), k, allowed)

    def save_if_dirty(self) -> None:
        """Blocking."""
        with self._lock:
            if self.index is not None and self.dirty:
                self.index.save()
                self.dirty = False
