"""Wire and storage formats of a map: the compact API payload and rows for SQLite.

API payload (JSON, arrays as base64 of little-endian typed arrays, sorted by id):
  ids      uint32 deltas (first value absolute): mostly 1s, which gzip shrinks to almost nothing
  x, y     uint16, position * 65535 in the unit square (1/65535 of the extent is below a pixel)
  cluster  int16, -1 = noise
100,000 points: ~1.2 MB JSON, ~0.5 MB gzip (bench/bench_map.py measures it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from photomapd.map.clusters import ClusterInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

PAYLOAD_FORMAT = "photomapd-map/1"
_QUANT = 65535


@dataclass(frozen=True, slots=True)
class MapPoints:
    """Ids with their positions and cluster labels, sorted by id."""

    ids: np.ndarray  # int64
    xy: np.ndarray  # float32 (n, 2) in the unit square
    clusters: np.ndarray  # int32, -1 = noise

    @classmethod
    def build(cls, ids: np.ndarray, xy: np.ndarray, clusters: np.ndarray) -> MapPoints:
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        return cls(
            ids=ids[order],
            xy=np.asarray(xy, dtype=np.float32).reshape(-1, 2)[order],
            clusters=np.asarray(clusters, dtype=np.int32)[order],
        )

    def __len__(self) -> int:
        return len(self.ids)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _unb64(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def quantise(values: np.ndarray) -> np.ndarray:
    return np.round(np.clip(values, 0.0, 1.0) * _QUANT).astype("<u2")


def encode_payload(points: MapPoints, album: str, version: int) -> dict[str, Any]:
    """The body of GET /api/albums/{key}/map."""
    if len(points) and (points.ids.min() < 0 or points.ids.max() > np.iinfo(np.uint32).max):
        raise ValueError("image ids must fit in uint32 for the compact map payload")
    deltas = np.diff(points.ids, prepend=0).astype("<u4")
    return {
        "format": PAYLOAD_FORMAT,
        "album": album,
        "version": version,
        "count": len(points),
        "extent": [0.0, 1.0],
        "scale": _QUANT,
        "encoding": {
            "ids": "base64 uint32le, delta from previous id (first from 0), ascending",
            "x": "base64 uint16le, x * scale",
            "y": "base64 uint16le, y * scale",
            "cluster": "base64 int16le, -1 = noise",
        },
        "ids": _b64(deltas),
        "x": _b64(quantise(points.xy[:, 0])),
        "y": _b64(quantise(points.xy[:, 1])),
        "cluster": _b64(points.clusters.astype("<i2")),
    }


def decode_payload(payload: dict[str, Any]) -> MapPoints:
    """Inverse of encode_payload (positions quantised to 1/65535); used by tests and tools."""
    if payload.get("format") != PAYLOAD_FORMAT:
        raise ValueError(f"unknown map payload format {payload.get('format')!r}")
    ids = np.cumsum(_unb64(payload["ids"], "<u4").astype(np.int64))
    x = _unb64(payload["x"], "<u2").astype(np.float32) / _QUANT
    y = _unb64(payload["y"], "<u2").astype(np.float32) / _QUANT
    clusters = _unb64(payload["cluster"], "<i2").astype(np.int32)
    return MapPoints(ids=ids, xy=np.column_stack([x, y]), clusters=clusters)


def cluster_json(info: ClusterInfo) -> dict[str, Any]:
    return {
        "cluster": info.cluster,
        "label": info.label,
        "words": list(info.words),
        "representative_id": info.representative_id,
        "size": info.size,
        "centroid": [round(info.centroid[0], 5), round(info.centroid[1], 5)],
    }


# --- SQLite rows (tables map_points, map_clusters; see docs/map.md) ------------------------


def point_rows(album: str, points: MapPoints) -> Iterator[tuple[str, int, float, float, int]]:
    """Rows for `map_points(album, image_id, x, y, cluster)`."""
    for image_id, (x, y), cluster in zip(
        points.ids.tolist(), points.xy.tolist(), points.clusters.tolist(), strict=True
    ):
        yield album, image_id, x, y, cluster


def points_from_rows(rows: Iterable[Sequence[Any]]) -> MapPoints:
    """Inverse of point_rows; rows are (image_id, x, y, cluster)."""
    data = np.array([tuple(row) for row in rows], dtype=np.float64).reshape(-1, 4)
    return MapPoints.build(data[:, 0].astype(np.int64), data[:, 1:3], data[:, 3].astype(np.int32))


def cluster_rows(
    album: str, infos: Iterable[ClusterInfo]
) -> Iterator[tuple[str, int, str, int, int, str, float, float]]:
    """Rows for `map_clusters(album, cluster, label, representative_id, size, words, cx, cy)`."""
    for info in infos:
        yield (
            album,
            info.cluster,
            info.label,
            info.representative_id,
            info.size,
            " ".join(info.words),
            info.centroid[0],
            info.centroid[1],
        )


def clusters_from_rows(rows: Iterable[Sequence[Any]]) -> list[ClusterInfo]:
    """Inverse of cluster_rows, rows without the album column."""
    return [
        ClusterInfo(
            cluster=int(cluster),
            label=str(label),
            words=tuple(str(words).split()),
            representative_id=int(representative_id),
            size=int(size),
            centroid=(float(cx), float(cy)),
        )
        for cluster, label, representative_id, size, words, cx, cy in rows
    ]
