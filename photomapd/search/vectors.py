"""The usearch vector index keyed by SQLite image ids: add, remove, search, save, load, rebuild.

SQLite holds the truth; this file is a cache. `load()` says False for anything it cannot trust
and the caller rebuilds from SQLite. Blocking and thread-safe: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from usearch.index import Index

if TYPE_CHECKING:
    from collections.abc import Iterable

logger = logging.getLogger(__name__)

# f16, not i8 or f32 (measured on 100k x 512 clustered unit vectors, see
# ../shared/reference/peers-and-costs.md): f16 recall@10 0.9994 vs f32 0.9998 at half the
# memory (152 vs 286 MB) and faster adds; i8 drops to 0.874 because unit-norm CLIP
# components (~±0.04) keep only a few int8 levels.
DTYPE = "f16"
METRIC = "cos"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 64

# A filtered query first asks HNSW for k * OVERSAMPLE candidates, then for more, up to
# MAX_OVERSAMPLE; past that (or when few ids pass the filter) exact search is both cheaper and
# complete, so results are never silently short.
OVERSAMPLE = 4
MAX_OVERSAMPLE = 64
# Below this share of allowed ids, go exact at once: HNSW would have to visit most of the graph.
# Capped because fetching stored vectors costs ~4 us each (about 16 ms for 4,096).
EXACT_FRACTION = 0.05
EXACT_MAX = 4096
# Concurrent inserts into a small graph do not see each other and leave poorly linked nodes:
# on 16 cores, 2,000 vectors added with all threads left 1.6% unable to find themselves (0% when
# added one thread at a time). So the first SEQUENTIAL_SEED vectors go in on one thread.
SEQUENTIAL_SEED = 4096

# File footer: magic + blake2b-256 of the usearch bytes + their length. usearch itself checks
# only the header; a flipped byte in the graph could crash native code on search.
_MAGIC = b"PMDVEC01"
_FOOTER_SIZE = len(_MAGIC) + 32 + 8

Allowed = Callable[[int], bool] | set[int] | frozenset[int] | None


class VectorIndex:
    """Cosine-similarity index over unit vectors; keys are int64 SQLite ids (>= 0)."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = Path(path)
        self.dim = dim
        self._lock = threading.RLock()
        self._index = self._new_index()

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def __contains__(self, image_id: object) -> bool:
        if not isinstance(image_id, int | np.integer) or int(image_id) < 0:
            return False
        with self._lock:
            return bool(self._index.contains(int(image_id)))

    def ids(self) -> np.ndarray:
        with self._lock:
            return np.asarray(self._index.keys, dtype=np.uint64).astype(np.int64)

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: an id already present gets the new vector."""
        keys, matrix = self._check(ids, vectors)
        if len(keys) == 0:
            return
        # usearch refuses duplicate keys, within one call too: keep each id's last vector.
        unique_keys, last = np.unique(keys[::-1], return_index=True)
        keys, matrix = unique_keys, matrix[::-1][last]
        with self._lock:
            present = np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)
            if present.any():
                self._index.remove(keys[present])
            _insert(self._index, keys, matrix)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Remove the ids that are present; returns how many were removed."""
        keys = _as_keys(ids)
        with self._lock:
            if len(keys) == 0:
                return 0
            present = keys[np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)]
            if len(present):
                self._index.remove(present)
            return len(present)

    def search(self, query: np.ndarray, k: int, allowed: Allowed = None) -> list[tuple[int, float]]:
        """Top k (id, cosine similarity), best first, among ids passing `allowed`."""
        vector = _unit(np.asarray(query, dtype=np.float32).reshape(-1))
        if vector.shape[0] != self.dim:
            raise ValueError(f"query has {vector.shape[0]} dimensions, index has {self.dim}")
        if k <= 0:
            return []
        with self._lock:
            total = len(self._index)
            if total == 0:
                return []
            if allowed is None:
                return self._approximate(vector, min(k, total))
            return self._filtered(vector, k, allowed, total)

    def rebuild(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Replace everything. Built outside the lock so searches keep answering meanwhile."""
        keys, matrix = self._check(ids, vectors)
        fresh = self._new_index()
        if len(keys):
            unique_keys, last = np.unique(keys[::-1], return_index=True)
            _insert(fresh, unique_keys, matrix[::-1][last])
        with self._lock:
            self._index = fresh

    def save(self) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        with self._lock:
            serialized = self._index.save()
        assert serialized is not None  # save() without a path returns the bytes
        payload = memoryview(serialized)  # ~150 MB at 100k x 512: no extra copy
        footer = _MAGIC + hashlib.blake2b(payload, digest_size=32).digest()
        footer += len(payload).to_bytes(8, "little")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(
            f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        )
        try:
            with open(temporary, "wb") as handle:
                handle.write(payload)
                handle.write(footer)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def load(self) -> bool:
        """Replace the in-memory index with the file. False (index left empty) when the file
        is missing, corrupt, or made for another dimension/metric; never raises for those."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as error:
            logger.warning("vector index %s unreadable (%s); it will be rebuilt", self.path, error)
            return self._reset()
        payload = _verified_payload(data)
        if payload is None:
            logger.warning("vector index %s is corrupt; it will be rebuilt", self.path)
            return self._reset()
        try:
            loaded = Index.restore(payload)
        except (RuntimeError, ValueError) as error:
            logger.warning("vector index %s unusable (%s); it will be rebuilt", self.path, error)
            return self._reset()
        if loaded is None or loaded.ndim != self.dim or loaded.metric != self._index.metric:
            logger.warning("vector index %s was built for another model; rebuilding", self.path)
            return self._reset()
        with self._lock:
            self._index = loaded
        return True

    def _reset(self) -> bool:
        with self._lock:
            self._index = self._new_index()
        return False

    def _new_index(self) -> Index:
        return Index(
            ndim=self.dim,
            metric=METRIC,
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def _check(
        self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        keys = _as_keys(ids)
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(
                f"vectors have shape {matrix.shape}; the index has {self.dim} dimensions"
            )
        if matrix.shape[0] != len(keys):
            raise ValueError(f"{len(keys)} ids but {matrix.shape[0]} vectors")
        return keys, matrix

    def _approximate(self, vector: np.ndarray, count: int) -> list[tuple[int, float]]:
        matches = self._index.search(vector, count)
        return [
            (int(key), 1.0 - float(distance))
            for key, distance in zip(matches.keys, matches.distances, strict=True)
        ]

    def _filtered(
        self, vector: np.ndarray, k: int, allowed: Allowed, total: int
    ) -> list[tuple[int, float]]:
        if isinstance(allowed, set | frozenset):
            if len(allowed) <= max(k * OVERSAMPLE, min(EXACT_FRACTION * total, EXACT_MAX)):
                return self._exact(vector, k, [i for i in allowed if i >= 0])
            accept: Callable[[int], bool] = allowed.__contains__
        else:
            accept = allowed  # type: ignore[assignment]
        count = k * OVERSAMPLE
        while True:
            count = min(count, total)
            found = [hit for hit in self._approximate(vector, count) if accept(hit[0])]
            if len(found) >= k:
                return found[:k]
            if count >= total or count >= k * MAX_OVERSAMPLE:
                break
            count *= 4
        candidates = [int(key) for key in self.ids() if accept(int(key))]
        return self._exact(vector, k, candidates)

    def _exact(self, vector: np.ndarray, k: int, candidates: list[int]) -> list[tuple[int, float]]:
        keys = np.asarray(candidates, dtype=np.uint64)
        if len(keys):
            keys = keys[np.asarray(self._index.contains(keys), dtype=bool)]
        if not len(keys):
            return []
        # Fetch in the stored f16 and widen here: usearch's own f32 conversion is ~15x slower.
        rows: Any = self._index.get(keys)  # a tuple of rows (all present: checked above)
        stored = np.asarray(np.vstack(rows) if isinstance(rows, tuple) else rows)
        stored = stored.astype(np.float32).reshape(len(keys), self.dim)
        # einsum stays on this thread: BLAS's spinning worker threads made this 10-100x
        # slower whenever other processes kept the cores busy (measured on the 2-core VM).
        norms = np.sqrt(np.einsum("ij,ij->i", stored, stored))
        scores = np.einsum("ij,j->i", stored, vector) / np.where(norms == 0, 1.0, norms)
        top = min(k, len(keys))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(keys[i]), float(scores[i])) for i in best]


def _insert(index: Index, keys: np.ndarray, matrix: np.ndarray) -> None:
    sequential = max(0, min(len(keys), SEQUENTIAL_SEED - len(index)))
    if sequential:
        index.add(keys[:sequential], matrix[:sequential], threads=1)
    if sequential < len(keys):
        index.add(keys[sequential:], matrix[sequential:], threads=0)


def _as_keys(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
    array = array.reshape(-1)
    if (array < 0).any():
        raise ValueError("vector index ids must be non-negative SQLite ids")
    return array.astype(np.uint64)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _verified_payload(data: bytes) -> memoryview | None:
    if len(data) < _FOOTER_SIZE:
        return None
    footer = data[-_FOOTER_SIZE:]
    if footer[: len(_MAGIC)] != _MAGIC:
        return None
    digest = footer[len(_MAGIC) : len(_MAGIC) + 32]
    length = int.from_bytes(footer[-8:], "little")
    if length != len(data) - _FOOTER_SIZE:
        return None
    payload = memoryview(data)[:length]
    if hashlib.blake2b(payload, digest_size=32).digest() != digest:
        return None
    return payload
