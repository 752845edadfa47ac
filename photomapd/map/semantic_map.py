"""One album's semantic map: layout + cluster labels + cluster descriptions, kept consistent as
images come and go. Pure compute; MapService owns threading, persistence and events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from photomapd.map.clusters import (
    DEFAULT_STRENGTH,
    NOISE,
    cluster_points,
    describe_clusters,
)
from photomapd.map.layout import MapLayout, fit_layout
from photomapd.map.payload import MapPoints

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from photomapd.map.clusters import (
        ClusterInfo,
    )
    from photomapd.map.layout import LayoutParams, Neighbours

logger = logging.getLogger(__name__)


class SemanticMap:
    """Mutable map state for one album. Not thread-safe: one owner mutates it."""

    def __init__(
        self,
        layout: MapLayout,
        labels: np.ndarray | None = None,
        clusters: list[ClusterInfo] | None = None,
        prompts: Mapping[int, str | None] | None = None,
        strength: float = DEFAULT_STRENGTH,
        version: int = 0,
    ) -> None:
        self.layout = layout
        self.strength = strength
        self.version = version
        self.prompts: dict[int, str | None] = dict(prompts or {})
        self.labels = (
            np.full(len(layout), NOISE, dtype=np.int32)
            if labels is None
            else np.asarray(labels, dtype=np.int32)
        )
        if len(self.labels) != len(layout):
            raise ValueError(f"{len(self.labels)} labels for {len(layout)} points")
        self.clusters = clusters or []
        self._points: MapPoints | None = None

    @classmethod
    def fit(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        prompts: Mapping[int, str | None] | None = None,
        strength: float = DEFAULT_STRENGTH,
        previous: SemanticMap | None = None,
        params: LayoutParams | None = None,
    ) -> SemanticMap:
        """Full fit (blocking, ~1 min per 100k points on 2 cores); starts from `previous`'s
        layout when given so known images stay where they were."""
        layout = fit_layout(
            ids, vectors, previous.layout if previous is not None else None, params=params
        )
        fitted = cls(
            layout,
            prompts=prompts,
            strength=strength,
            version=(previous.version + 1) if previous is not None else 1,
        )
        fitted.recluster()
        return fitted

    @classmethod
    def empty(cls, params: LayoutParams | None = None) -> SemanticMap:
        return cls(MapLayout(np.zeros(0), np.zeros((0, 2)), None, 0, params))

    def __len__(self) -> int:
        return len(self.layout)

    def needs_refit(self) -> bool:
        return self.layout.needs_refit()

    def add(
        self,
        ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray | None,
        prompts: Sequence[str | None] | None = None,
        neighbours: Neighbours | None = None,
    ) -> np.ndarray:
        """Place new images (a few ms); they join the cluster of their nearest placed point.
        Returns their positions. See MapLayout.add for `vectors` None and `neighbours`."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        self._drop_labels(ids)
        before = len(self.layout)
        xy = self.layout.add(ids, vectors, neighbours)
        self.labels = np.concatenate([self.labels, self._nearest_labels(xy, before)])
        for offset, image_id in enumerate(ids.tolist()):
            self.prompts[image_id] = prompts[offset] if prompts is not None else None
        self._changed()
        return xy

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        removed = self._drop_labels(ids)
        for image_id in ids.tolist():
            self.prompts.pop(image_id, None)
        if removed:
            self._changed()
        return removed

    def recluster(self, strength: float | None = None) -> None:
        """Recompute clusters and their descriptions (~0.5 s at 100k points)."""
        if strength is not None:
            self.strength = strength
        self.labels = cluster_points(self.layout.xy, self.strength)
        prompts = [self.prompts.get(int(i)) for i in self.layout.ids]
        self.clusters = describe_clusters(self.layout.ids, self.layout.xy, self.labels, prompts)
        self._changed()

    def points(self) -> MapPoints:
        """Id-sorted arrays for the API, cached until the next change."""
        if self._points is None:
            self._points = MapPoints.build(self.layout.ids, self.layout.xy, self.labels)
        return self._points

    def members(self, cluster: int) -> np.ndarray:
        return self.layout.ids[self.labels == cluster]

    def _drop_labels(self, ids: np.ndarray) -> int:
        """Remove ids from layout and labels together; returns how many were present."""
        present = np.isin(self.layout.ids, ids)
        if not present.any():
            return 0
        self.labels = self.labels[~present]
        return self.layout.remove(ids)

    def _nearest_labels(self, xy: np.ndarray, known_count: int) -> np.ndarray:
        if known_count == 0:
            return np.full(len(xy), NOISE, dtype=np.int32)
        known_xy = self.layout.xy[:known_count]
        if len(xy) <= 32:  # the usual live arrival: a brute-force scan beats building a tree
            nearest = [int(np.argmin(((known_xy - point) ** 2).sum(axis=1))) for point in xy]
        else:
            from sklearn.neighbors import KDTree

            nearest = KDTree(known_xy).query(xy, k=1, return_distance=False)[:, 0]
        return self.labels[nearest].astype(np.int32)

    def _changed(self) -> None:
        self.version += 1
        self._points = None
