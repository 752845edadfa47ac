"""The steps MapService runs off the event loop: each reads or changes one album's live map on
the service's single live-map thread, or fits a snapshot on a thread of its own."""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field

import numpy as np

from photomapd.map_clusters import DEFAULT_STRENGTH, ClusterInfo
from photomapd.map_layout import LayoutParams, MapLayout
from photomapd.map_payload import MapPoints, encode_payload
from photomapd.map_store import MapState, StoredMap
from photomapd.semantic_map import SemanticMap


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


def restore(
    ids: np.ndarray,
    vectors: np.ndarray,
    stored: StoredMap | None,
    params: LayoutParams,
    prompts: dict[int, str | None] | None = None,
) -> SemanticMap:
    semantic = _restore_layout(ids, vectors, stored, params)
    semantic.prompts.update(prompts or {})
    return semantic


def _restore_layout(
    ids: np.ndarray, vectors: np.ndarray, stored: StoredMap | None, params: LayoutParams
) -> SemanticMap:
    if stored is None or len(stored.points) == 0:
        # No saved map: every point waits at the centre (status "fitting") until the first fit,
        # which the caller starts at once. Tiny albums are laid out here (PCA, instant).
        if len(ids) < 16:
            return (
                SemanticMap.fit(ids, vectors, params=params)
                if len(ids)
                else SemanticMap.empty(params)
            )
        layout = MapLayout(ids[:0], np.zeros((0, 2)), vectors[:0], 0, params)
        semantic = SemanticMap(layout, strength=DEFAULT_STRENGTH)
        semantic.add(ids, vectors)
        return semantic
    row_of = {int(i): row for row, i in enumerate(ids)}
    keep = np.array([int(i) in row_of for i in stored.points.ids], dtype=bool)
    kept_ids = stored.points.ids[keep]
    kept_vectors = vectors[[row_of[int(i)] for i in kept_ids]] if len(kept_ids) else vectors[:0]
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
    new = np.array([int(i) not in layout for i in ids], dtype=bool)
    if new.any():  # indexed while the daemon was down, or before the map was saved
        semantic.add(ids[new], vectors[new])
    return semantic


def apply(entry: AlbumMap, ids, vectors, prompts, removes, replace=()):  # type: ignore[no-untyped-def]
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
        semantic.add(ids, vectors, prompts)
    points = semantic.points()
    placed = np.isin(points.ids, ids)
    placed_points = MapPoints(points.ids[placed], points.xy[placed], points.clusters[placed])
    return placed_points, removed, state(semantic), semantic.needs_refit()


def snapshot(entry: AlbumMap) -> SemanticMap:
    entry.replaced.clear()
    semantic = entry.semantic
    return SemanticMap(
        semantic.layout.snapshot(),
        labels=semantic.labels.copy(),
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


def catch_up(fitted: SemanticMap, entry: AlbumMap) -> None:
    """Apply what changed on the live map while the fit ran (new images, removed images),
    then make the fitted map the live one."""
    live = entry.semantic
    gone = fitted.layout.ids[~np.isin(fitted.layout.ids, live.layout.ids)]
    fitted.remove(gone)
    fitted.remove(np.array(sorted(entry.replaced), dtype=np.int64))  # placed again below
    entry.replaced.clear()
    new = ~np.isin(live.layout.ids, fitted.layout.ids)
    if new.any():
        prompts = [live.prompts.get(int(i)) for i in live.layout.ids[new]]
        fitted.add(live.layout.ids[new], live.layout.vectors[new], prompts)
    fitted.version = max(fitted.version, live.version + 1)
    entry.semantic = fitted


def persistable(entry: AlbumMap) -> tuple[MapPoints, list[ClusterInfo], MapState]:
    semantic = entry.semantic
    return semantic.points(), list(semantic.clusters), state(semantic)


def encode(semantic: SemanticMap, album: str, status: str) -> tuple[bytes, bytes]:
    body = encode_payload(semantic.points(), album, semantic.version)
    body["status"] = status
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, gzip.compress(raw, compresslevel=5)


def state(semantic: SemanticMap) -> MapState:
    return MapState(semantic.version, semantic.layout.fitted_count, semantic.strength, time.time())
