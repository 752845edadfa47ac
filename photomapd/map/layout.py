"""The 2-D layout of one album's embeddings: UMAP fit, stable refits, cheap placement of new points.

Pure compute (no I/O, no asyncio). Coordinates live in a fixed extent, the unit square
[0, 1] x [0, 1], so clients and the compact payload can quantise them without knowing the album.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

EXTENT_MIN = 0.0
EXTENT_MAX = 1.0
_MARGIN = 0.02
# Below this many points UMAP's spectral init and k-NN graph are degenerate; a PCA projection is
# deterministic, instant and good enough to look at.
_MIN_UMAP_POINTS = 16


@dataclass(frozen=True, slots=True)
class LayoutParams:
    n_neighbors: int = 15
    min_dist: float = 0.05
    random_state: int = 42
    # A refit is worth its ~1 minute per 100k points only once placements have drifted from what
    # a fit would show; 20 % growth since the last fit is where that starts to be visible.
    refit_growth: float = 0.20
    place_neighbors: int = 8
    # Epochs for a refit initialised from the previous layout: the start is already close to the
    # optimum, so fewer epochs keep known points near where users last saw them (and save time).
    refit_epochs: int = 100
    # A gentle learning rate for refits. Measured on 2k synthetic points + 5 % new (two seeds),
    # mean movement of known points: 4.4-4.8 % of the extent at umap's default 1.0, 3.9-4.5 %
    # at 0.1, 2.7-3.5 % at 0.05. New points still move freely early on (umap clips each step
    # at 4 * rate), so they settle into their neighbourhood.
    refit_learning_rate: float = 0.05


# Finds the k nearest images already on `layout` for each row of `vectors` (unit vectors):
# one list of (image id, cosine similarity) per row. A live map keeps positions only and asks
# the daemon's usearch index (MapService._neighbours); ids not on the layout are ignored.
Neighbours = Callable[[np.ndarray, int, "MapLayout"], list[list[tuple[int, float]]]]


class _VectorTable:
    """Row-appendable float32 matrix with amortised O(1) growth (placing must not copy 200 MB)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._data = np.ascontiguousarray(vectors, dtype=np.float32)
        self._count = len(self._data)

    @property
    def rows(self) -> np.ndarray:
        return self._data[: self._count]

    def append(self, vectors: np.ndarray) -> None:
        needed = self._count + len(vectors)
        if needed > len(self._data):
            capacity = max(needed, int(len(self._data) * 1.5) + 64)
            grown = np.empty((capacity, vectors.shape[1]), dtype=np.float32)
            grown[: self._count] = self.rows
            self._data = grown
        self._data[self._count : needed] = vectors
        self._count = needed

    def keep(self, mask: np.ndarray) -> None:
        self._data = np.ascontiguousarray(self.rows[mask])
        self._count = len(self._data)


def normalise_vectors(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows so cosine similarity is a dot product; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (n, dim), got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class MapLayout:
    """Positions of images (by id) in the unit square, plus what is needed to place new ones.

    Not thread-safe: the owner (MapService) serialises mutations; `snapshot()` gives a worker
    thread an independent copy to refit from.
    """

    def __init__(
        self,
        ids: np.ndarray,
        xy: np.ndarray,
        vectors: np.ndarray | None,
        fitted_count: int,
        params: LayoutParams | None = None,
    ) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
        if len(ids) != len(xy) or (vectors is not None and len(vectors) != len(ids)):
            raise ValueError(
                f"ids, xy and vectors must have the same length, got "
                f"{len(ids)}, {len(xy)}, {'-' if vectors is None else len(vectors)}"
            )
        self.params = params or LayoutParams()
        self.fitted_count = fitted_count
        self._ids = ids.copy()
        self._xy = xy.copy()
        # None: positions only (a live map; vectors are fetched from SQLite/usearch on demand).
        self._vectors = None if vectors is None else _VectorTable(normalise_vectors(vectors))
        self._row_of = {int(image_id): row for row, image_id in enumerate(ids)}
        if len(self._row_of) != len(ids):
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    @property
    def xy(self) -> np.ndarray:
        return self._xy

    @property
    def has_vectors(self) -> bool:
        return self._vectors is not None

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            raise RuntimeError("this layout keeps positions only; load the vectors to refit")
        return self._vectors.rows

    def drop_vectors(self) -> None:
        """Keep positions only: 205 MB per 100k images at 512-d is freed."""
        self._vectors = None

    def __contains__(self, image_id: int) -> bool:
        return int(image_id) in self._row_of

    def position(self, image_id: int) -> tuple[float, float] | None:
        row = self._row_of.get(int(image_id))
        return None if row is None else (float(self._xy[row, 0]), float(self._xy[row, 1]))

    def needs_refit(self) -> bool:
        """True once the album grew by more than `refit_growth` since the last full fit."""
        return len(self) > max(self.fitted_count, 1) * (1.0 + self.params.refit_growth) or (
            self.fitted_count < _MIN_UMAP_POINTS <= len(self)
        )

    def collapsed(self) -> bool:
        """All points at one spot though there are enough for UMAP: a map saved by a version
        that collapsed first fits (see _initial_positions), or one waiting for its first fit."""
        return len(self) >= _MIN_UMAP_POINTS and float(np.ptp(self._xy, axis=0).max()) < 1e-6

    def place(self, new_vectors: np.ndarray, neighbours: Neighbours | None = None) -> np.ndarray:
        """2-D positions for new vectors without changing any existing point.

        Weighted mean of the k nearest known points' positions: exact cosine k-NN by one matmul
        when this layout holds its vectors, else the neighbours `neighbours` finds (the usearch
        index, ~1 ms at 100k). Measured against umap's own `transform()` (bench/bench_map.py):
        transform costs ~100 ms per call at 2k points and over a second at 50k (it rebuilds its
        search graph and runs SGD epochs), and it is not reproducible point by point; this costs
        a few ms at 50k and is exactly the starting position UMAP's transform uses before its
        epochs, so new points land inside the neighbourhood they belong to. The next refit
        polishes them. Without vectors or neighbours a point waits at the centre for the fit.
        """
        new_vectors = normalise_vectors(new_vectors)
        centre = np.full((len(new_vectors), 2), 0.5, dtype=np.float32)
        if len(self) == 0 or len(new_vectors) == 0:
            return centre
        if self._vectors is not None:
            return _knn_place(self.vectors, self._xy, new_vectors, self.params.place_neighbors)
        if neighbours is None:
            return centre
        found = neighbours(new_vectors, self.params.place_neighbors, self)
        for row, hits in enumerate(found):
            rows = [(self._row_of[i], similarity) for i, similarity in hits if i in self._row_of]
            if rows:  # none: the index lacks them all (rebuilding); the centre until the fit
                known = np.array([r for r, _ in rows])
                similarity = np.array([[sim for _, sim in rows]], dtype=np.float64)
                centre[row] = _weighted_positions(similarity, self._xy[known][None])[0]
        return centre

    def add(
        self, ids: np.ndarray, vectors: np.ndarray | None, neighbours: Neighbours | None = None
    ) -> np.ndarray:
        """Place and append new images; ids already present are re-placed in position.
        `vectors` may be None only on a positions-only layout (points wait at the centre)."""
        ids = np.asarray(ids, dtype=np.int64)
        if vectors is None and self._vectors is not None:
            raise ValueError("this layout keeps vectors: new images need theirs")
        vectors = None if vectors is None else normalise_vectors(vectors)
        known = np.array([int(i) in self._row_of for i in ids], dtype=bool)
        if known.any():
            self.remove(ids[known])
        if vectors is None:
            xy = np.full((len(ids), 2), 0.5, dtype=np.float32)
        else:
            xy = self.place(vectors, neighbours)
        start = len(self._ids)
        self._ids = np.concatenate([self._ids, ids])
        self._xy = np.concatenate([self._xy, xy])
        if self._vectors is not None:
            self._vectors.append(vectors)  # type: ignore[arg-type]  # checked above
        for offset, image_id in enumerate(ids):
            self._row_of[int(image_id)] = start + offset
        return xy

    def remove(self, ids: np.ndarray) -> int:
        """Drop images from the layout; returns how many were present."""
        drop = {int(i) for i in np.asarray(ids).ravel()} & self._row_of.keys()
        if not drop:
            return 0
        keep = np.array([int(i) not in drop for i in self._ids], dtype=bool)
        self._ids = self._ids[keep]
        self._xy = self._xy[keep]
        if self._vectors is not None:
            self._vectors.keep(keep)
        self._row_of = {int(image_id): row for row, image_id in enumerate(self._ids)}
        return len(drop)

    def snapshot(self) -> MapLayout:
        vectors = self.vectors if self._vectors is not None else None
        return MapLayout(self._ids, self._xy, vectors, self.fitted_count, self.params)


def fit_layout(
    ids: np.ndarray,
    vectors: np.ndarray,
    previous: MapLayout | None = None,
    params: LayoutParams | None = None,
) -> MapLayout:
    """Full UMAP fit of (ids, vectors) into the unit square.

    With `previous`, the fit starts from the previous positions (new ids placed near their
    neighbours) and the result is aligned back onto the previous frame, so known images barely move.
    """
    params = params or (previous.params if previous is not None else LayoutParams())
    ids = np.asarray(ids, dtype=np.int64)
    vectors = normalise_vectors(vectors)
    if len(ids) != len(vectors):
        raise ValueError(f"got {len(ids)} ids but {len(vectors)} vectors")
    if len(ids) < _MIN_UMAP_POINTS:
        xy = _to_unit_square(_pca_2d(vectors))
        return MapLayout(ids, xy, vectors, len(ids), params)
    init, known_rows, old_xy = _initial_positions(ids, vectors, previous, params)
    raw = _run_umap(vectors, params, init)
    if known_rows is not None and old_xy is not None and len(known_rows) >= 3:
        raw = _align(raw, known_rows, old_xy)
        xy = _fit_inside_extent(raw)
    else:
        xy = _to_unit_square(raw)
    return MapLayout(ids, xy, vectors, len(ids), params)


def _initial_positions(
    ids: np.ndarray, vectors: np.ndarray, previous: MapLayout | None, params: LayoutParams
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Init array for UMAP from the previous layout: known rows keep their place, others go near
    their nearest known neighbours. Returns (init, rows that were known, their old positions)."""
    if previous is None or len(previous) < 3 or previous.fitted_count == 0:
        # Never fitted: its points wait at the centre. Starting from there and aligning back
        # onto it collapsed the whole map into one dot (an album's first flush of >= 16 images).
        return None, None, None
    old_rows = np.array([previous._row_of.get(int(i), -1) for i in ids])
    known = old_rows >= 0
    if known.sum() < 3 or np.ptp(previous.xy[old_rows[known]], axis=0).max() < 1e-6:
        return None, None, None  # no spread to keep (all at one spot): a fresh layout
    init = np.empty((len(ids), 2), dtype=np.float32)
    init[known] = previous.xy[old_rows[known]]
    if (~known).any():
        # The known images' vectors as given now: `previous` may keep positions only.
        init[~known] = _knn_place(
            vectors[known], init[known], vectors[~known], params.place_neighbors
        )
    # UMAP rejects exact duplicate init rows only by jittering them; tiny deterministic jitter
    # here keeps the result reproducible.
    jitter = np.random.default_rng(params.random_state).normal(0, 1e-4, init.shape)
    init += jitter.astype(np.float32)
    known_rows = np.flatnonzero(known)
    return init, known_rows, previous.xy[old_rows[known]]


def _run_umap(vectors: np.ndarray, params: LayoutParams, init: np.ndarray | None) -> np.ndarray:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Deferred: umap/numba cost ~2 s to import and only a fit needs them. Its import warns
        # that the optional TensorFlow (ParametricUMAP) is missing, which we never use.
        import umap

    n_neighbors = min(params.n_neighbors, len(vectors) - 1)
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        n_components=2,
        min_dist=params.min_dist,
        metric="cosine",
        random_state=params.random_state,
        # A fixed random_state forces umap to a single thread anyway; saying so avoids its warning.
        n_jobs=1,
        low_memory=True,
        init="spectral" if init is None else init,
        n_epochs=None if init is None else params.refit_epochs,
        learning_rate=1.0 if init is None else params.refit_learning_rate,
    )
    with warnings.catch_warnings(record=True) as fit_caught:
        warnings.simplefilter("always")
        embedding = reducer.fit_transform(vectors)
    for warning in [*caught, *fit_caught]:
        logger.info("umap: %s", warning.message)
    return np.asarray(embedding, dtype=np.float64)


def _knn_place(
    known_vectors: np.ndarray, known_xy: np.ndarray, new_vectors: np.ndarray, k: int
) -> np.ndarray:
    # In chunks: 12k new x 50k known similarities (plus argpartition's int64 indices) would
    # otherwise take 7 GB at once when a refit places a large batch.
    chunk = max(1, 2**24 // max(len(known_vectors), 1))
    if len(new_vectors) > chunk:
        return np.concatenate(
            [
                _knn_place(known_vectors, known_xy, new_vectors[start : start + chunk], k)
                for start in range(0, len(new_vectors), chunk)
            ]
        )
    k = max(1, min(k, len(known_vectors)))
    similarity = new_vectors @ known_vectors.T
    if k < len(known_vectors):
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    else:
        nearest = np.broadcast_to(np.arange(len(known_vectors)), (len(new_vectors), k))
    near_sim = np.take_along_axis(similarity, nearest, axis=1).astype(np.float64)
    return _weighted_positions(near_sim, known_xy[nearest])


def _weighted_positions(near_sim: np.ndarray, near_xy: np.ndarray) -> np.ndarray:
    """(n, k) similarities + (n, k, 2) positions of the k nearest -> (n, 2) positions."""
    # UMAP-style membership strengths: the nearest neighbour gets weight 1, others decay with
    # their extra distance relative to the local spread, so one far neighbour cannot drag a
    # point into the empty space between two clusters.
    distance = 1.0 - near_sim
    extra = distance - distance.min(axis=1, keepdims=True)
    spread = extra.mean(axis=1, keepdims=True) + 1e-9
    weights = np.exp(-extra / spread)
    weights /= weights.sum(axis=1, keepdims=True)
    xy = np.einsum("nk,nkd->nd", weights, near_xy.astype(np.float64))
    return xy.astype(np.float32)


def _pca_2d(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2))
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ components[:2].T
    if projected.shape[1] < 2:
        projected = np.column_stack([projected, np.zeros(len(projected))])
    # SVD signs are arbitrary; fixing them makes the tiny-album layout deterministic.
    signs = np.sign(projected[np.abs(projected).argmax(axis=0), [0, 1]])
    return projected * np.where(signs == 0, 1, signs)


def _to_unit_square(raw: np.ndarray) -> np.ndarray:
    """Uniform scale + translate into [margin, 1 - margin], aspect ratio kept."""
    if len(raw) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    low, high = raw.min(axis=0), raw.max(axis=0)
    span = float((high - low).max())
    if span <= 0:
        return np.full((len(raw), 2), 0.5, dtype=np.float32)
    scale = (1.0 - 2 * _MARGIN) / span
    centre = (low + high) / 2
    return ((raw - centre) * scale + 0.5).astype(np.float32)


def _align(raw: np.ndarray, rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares affine map of `raw` that best puts raw[rows] onto target: removes a refit's
    global drift. Affine rather than rotation + uniform scale because umap rescales an init
    array to [0, 10] per axis, which a similarity transform cannot undo (measured: mean move of
    known points 6.2 % of the extent with a similarity transform, 3.5 % with affine)."""
    design = np.column_stack([raw[rows], np.ones(len(rows))])
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.column_stack([raw, np.ones(len(raw))]) @ coefficients


def _fit_inside_extent(xy: np.ndarray) -> np.ndarray:
    """Keep an aligned layout in the unit square: untouched if it fits, else shrunk uniformly."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    if low.min() >= EXTENT_MIN and high.max() <= EXTENT_MAX:
        return xy.astype(np.float32)
    return _to_unit_square(xy)
