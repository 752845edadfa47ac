"""The steps MapService runs off the event loop: each reads or changes one album's live map on
the service's single live-map thread, or fits a snapshot on a thread of its own."""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from photomapd.map.clusters import DEFAULT_STRENGTH
from photomapd.map.layout import MapLayout
from photomapd.map.payload import MapPoints, encode_payload
from photomapd.map.semantic_map import SemanticMap
from photomapd.map.store import MapState

if TYPE_CHECKING:
    from photomapd.map.clusters import ClusterInfo
    from photomapd.map.layout import LayoutParams, Neighbours
    from photomapd.map.store import StoredMap


@dataclass(slots=True)
class AlbumMap:
    """MapService's state for one album; `semantic` is touched only on the live-map thread."""

    semantic: SemanticMap
    loading: bool = False
    fitting: bool = False
    fit_deferred: bool = False
    last_fit_started: float = 0.0
    payload: tuple[int, str, bytes, bytes] | None = None  # (version, status, json, gzip)
    pending_add: dict[int, str | None] = field(default_factory=dict)
    pending_remove: set[int] = field(default_factory=set)
    # ids whose file was rewritten (new embedding): placed again at once, not at the next fit
    pending_replace: set[int] = field(default_factory=set)
    # file_stamp() of every image on the map or waiting to be placed; touched on the loop only
    stamps: dict[int, int] = field(default_factory=dict)
    # ids re-placed since the running fit took its snapshot (live thread): catch_up re-places
    # them in the fitted map too, which was computed from their old vectors
    replaced: set[int] = field(default_factory=set)


# --- on the live-map thread ---------------------------------------------------------------
# Live maps keep positions only (MapLayout without vectors): vectors come from SQLite for a
# fit, and new images are placed by their neighbours in the daemon's usearch index.

SMALL_ALBUM = 16  # below this a "fit" is a PCA projection (map_layout), done in-thread


# Placing more images than this at start (indexed by `photomapd index` while the daemon was
# down) reads every vector and places them exactly in memory: one usearch query each would
# take ~1 ms x thousands on the live-map thread.
BULK_PLACEMENT = 1000


def vectors_needed(ids: np.ndarray, stored: StoredMap | None) -> np.ndarray:
    """The ids whose vectors `restore` needs: those not on the saved map (all of them when
    that is more than BULK_PLACEMENT), except for a large album without one (its points wait
    at the centre for the first fit, which loads them)."""
    if stored is None or len(stored.points) == 0:
        return ids if len(ids) < SMALL_ALBUM else ids[:0]
    new = ids[~np.isin(ids, stored.points.ids)]
    return ids if len(new) > BULK_PLACEMENT else new


def restore(
    ids: np.ndarray,
    stored: StoredMap | None,
    params: LayoutParams,
    prompts: dict[int, str | None] | None = None,
    vectors: tuple[np.ndarray, np.ndarray] | None = None,
    neighbours: Neighbours | None = None,
) -> SemanticMap:
    """The saved map reconciled with the album's images now. `vectors`: (ids, vectors) for
    `vectors_needed(ids, stored)`."""
    new_ids, new_vectors = vectors if vectors is not None else (ids[:0], None)
    semantic = _restore_layout(ids, stored, params, new_ids, new_vectors, neighbours)
    semantic.layout.drop_vectors()
    semantic.prompts.update(prompts or {})
    return semantic


def _restore_layout(
    ids: np.ndarray,
    stored: StoredMap | None,
    params: LayoutParams,
    new_ids: np.ndarray,
    new_vectors: np.ndarray | None,
    neighbours: Neighbours | None,
) -> SemanticMap:
    if stored is None or len(stored.points) == 0:
        # No saved map: every point waits at the centre (status "fitting") until the first fit,
        # which the caller starts at once. Tiny albums are laid out here (PCA, instant).
        if 0 < len(ids) < SMALL_ALBUM and new_vectors is not None and len(new_ids):
            return SemanticMap.fit(new_ids, new_vectors, params=params)
        semantic = SemanticMap(SemanticMap.empty(params).layout, strength=DEFAULT_STRENGTH)
        semantic.add(ids, None)
        return semantic
    current = {int(i) for i in ids}
    keep = np.array([int(i) in current for i in stored.points.ids], dtype=bool)
    kept_ids = stored.points.ids[keep]
    # Given every image's vector (a bulk restore, see vectors_needed): place exactly in memory
    # (one chunked matmul) instead of one index query per image; dropped right after.
    row_of = {int(i): row for row, i in enumerate(new_ids.tolist())}
    covered = new_vectors is not None and all(int(i) in row_of for i in kept_ids)
    kept_vectors = new_vectors[[row_of[int(i)] for i in kept_ids]] if covered else None  # type: ignore[index]
    if covered:
        fresh = ~np.isin(new_ids, kept_ids)
        new_ids, new_vectors = new_ids[fresh], new_vectors[fresh]  # type: ignore[index]
    layout = MapLayout(
        kept_ids, stored.points.xy[keep], kept_vectors, stored.state.fitted_count, params
    )
    semantic = SemanticMap(
        layout,
        labels=stored.points.clusters[keep],
        clusters=stored.clusters,
        strength=stored.state.strength,
        version=stored.state.version,
    )
    if len(new_ids):  # indexed while the daemon was down, or before the map was saved
        semantic.add(new_ids, new_vectors, neighbours=neighbours)
    return semantic


def apply(entry, ids, vectors, prompts, removes, replace=(), neighbours=None):  # type: ignore[no-untyped-def]
    """Place/remove on the live map: (placed points, removed ids, state, refit due).
    Ids in `replace` (rewritten files) are placed again from their new vector."""
    semantic = entry.semantic
    removed = [i for i in removes if i in semantic.layout]
    semantic.remove(np.array(removed, dtype=np.int64))
    with_vector = set(ids.tolist())
    replaced = [i for i in replace if i in with_vector]
    semantic.remove(np.array(replaced, dtype=np.int64))
    entry.replaced.update(replaced)
    # An id already on the map (re-announced, or restored from SQLite) keeps its position.
    new = np.array([int(i) not in semantic.layout for i in ids], dtype=bool)
    ids, vectors = ids[new], vectors[new]
    prompts = [prompt for prompt, keep in zip(prompts, new, strict=True) if keep]
    if len(ids):
        semantic.add(ids, vectors, prompts, neighbours)
    points = semantic.points()
    placed = np.isin(points.ids, ids)
    placed_points = MapPoints(points.ids[placed], points.xy[placed], points.clusters[placed])
    return placed_points, removed, state(semantic), semantic.needs_refit()


def snapshot(entry: AlbumMap, ids: np.ndarray, vectors: np.ndarray) -> SemanticMap:
    """What a fit starts from: the live positions of the images `ids` (the album's vectors just
    loaded from SQLite); live ids without a vector (being deleted) are left out."""
    entry.replaced.clear()
    semantic = entry.semantic
    layout = semantic.layout
    row_of = {int(image_id): row for row, image_id in enumerate(ids.tolist())}
    on_map = np.array([int(i) in row_of for i in layout.ids], dtype=bool)
    kept_ids = layout.ids[on_map]
    rows = [row_of[int(i)] for i in kept_ids]
    return SemanticMap(
        MapLayout(kept_ids, layout.xy[on_map], vectors[rows], layout.fitted_count, layout.params),
        labels=semantic.labels[on_map],
        clusters=list(semantic.clusters),
        prompts=dict(semantic.prompts),
        strength=semantic.strength,
        version=semantic.version,
    )


def fit(snapshot: SemanticMap, params: LayoutParams) -> SemanticMap:
    layout = snapshot.layout
    return SemanticMap.fit(
        layout.ids,
        layout.vectors,
        snapshot.prompts,
        snapshot.strength,
        previous=snapshot,
        params=params,
    )


def missing_from(fitted: SemanticMap, entry: AlbumMap) -> list[int]:
    """Live ids the fitted map must (re)place: new since the snapshot, or rewritten."""
    live_ids = entry.semantic.layout.ids
    new = live_ids[~np.isin(live_ids, fitted.layout.ids)]
    return sorted({*new.tolist(), *(i for i in entry.replaced if i in entry.semantic.layout)})


def catch_up(
    fitted: SemanticMap, entry: AlbumMap, ids: np.ndarray, vectors: np.ndarray
) -> dict[int, str | None]:
    """Apply what changed on the live map while the fit ran (new, rewritten and removed
    images; `ids`/`vectors`: those of `missing_from`), then make the fitted map the live one,
    positions only. Returns the live images still to place (arrived after `missing_from`)
    with their prompts, for the next flush."""
    live = entry.semantic
    gone = fitted.layout.ids[~np.isin(fitted.layout.ids, live.layout.ids)]
    fitted.remove(gone)
    fitted.remove(np.array(sorted(entry.replaced), dtype=np.int64))  # placed again below
    entry.replaced.clear()
    wanted = ~np.isin(ids, fitted.layout.ids) & np.isin(ids, live.layout.ids)
    if wanted.any():
        prompts = [live.prompts.get(int(i)) for i in ids[wanted]]
        fitted.add(ids[wanted], vectors[wanted], prompts)
    fitted.layout.drop_vectors()
    late = live.layout.ids[~np.isin(live.layout.ids, fitted.layout.ids)]
    fitted.version = max(fitted.version, live.version + 1)
    entry.semantic = fitted
    return {int(i): live.prompts.get(int(i)) for i in late}


def persistable(entry: AlbumMap) -> tuple[MapPoints, list[ClusterInfo], MapState]:
    semantic = entry.semantic
    return semantic.points(), list(semantic.clusters), state(semantic)


def encode(semantic: SemanticMap, album: str, status: str) -> tuple[bytes, bytes]:
    body = encode_payload(semantic.points(), album, semantic.version)
    if status == "ready" and semantic.layout.collapsed():
        status = "fitting"  # every point waits at the centre for a fit (deferred while indexing)
    body["status"] = status
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, gzip.compress(raw, compresslevel=5)


def state(semantic: SemanticMap) -> MapState:
    return MapState(semantic.version, semantic.layout.fitted_count, semantic.strength, time.time())
