from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from photomapd.map.clusters import ClusterInfo
from photomapd.map.payload import (
    MapPoints,
    cluster_json,
    cluster_rows,
    clusters_from_rows,
    decode_payload,
    encode_payload,
    point_rows,
    points_from_rows,
)


def _points(n: int, seed: int = 0) -> MapPoints:
    rng = np.random.default_rng(seed)
    # Ids as an album really has them: ascending with gaps where images were deleted.
    ids = np.cumsum(rng.integers(1, 4, n))
    rng.shuffle(ids)
    return MapPoints.build(ids, rng.random((n, 2)), rng.integers(-1, 40, n))


def test_payload_round_trips_to_within_quantisation() -> None:
    points = _points(1000)
    payload = json.loads(json.dumps(encode_payload(points, "album", version=3)))
    decoded = decode_payload(payload)
    assert payload["count"] == 1000 and payload["version"] == 3 and payload["album"] == "album"
    assert np.array_equal(decoded.ids, points.ids)
    assert np.abs(decoded.xy - points.xy).max() <= 0.5 / 65535 + 1e-7
    assert np.array_equal(decoded.clusters, points.clusters)


def test_payload_for_100k_points_is_under_2_mb_gzipped() -> None:
    body = json.dumps(encode_payload(_points(100_000), "big", version=1)).encode()
    compressed = gzip.compress(body, compresslevel=6)
    assert len(compressed) < 2_000_000
    # Measured ~0.6 MB; a regression to per-point JSON objects would be ~5 MB.
    assert len(compressed) < 1_000_000, len(compressed)


def test_empty_map_payload() -> None:
    empty = MapPoints.build(np.zeros(0), np.zeros((0, 2)), np.zeros(0))
    decoded = decode_payload(encode_payload(empty, "a", version=0))
    assert len(decoded) == 0


def test_bad_payload_and_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match="uint32"):
        encode_payload(MapPoints.build(np.array([-1]), np.zeros((1, 2)), np.zeros(1)), "a", 1)
    with pytest.raises(ValueError, match="unknown map payload format"):
        decode_payload({"format": "other"})


def test_sqlite_rows_round_trip() -> None:
    points = _points(50)
    rows = list(point_rows("album", points))
    assert rows[0][0] == "album" and len(rows) == 50
    again = points_from_rows(row[1:] for row in rows)
    assert np.array_equal(again.ids, points.ids)
    assert np.allclose(again.xy, points.xy)
    assert np.array_equal(again.clusters, points.clusters)
    assert len(points_from_rows([])) == 0

    info = ClusterInfo(2, "castle · dragon", ("castle", "dragon"), 17, 40, (0.25, 0.5))
    (row,) = cluster_rows("album", [info])
    assert clusters_from_rows([row[1:]]) == [info]
    assert cluster_json(info)["words"] == ["castle", "dragon"]
