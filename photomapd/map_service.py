"""Keeps every album's semantic map live: places new images as they are indexed, refits in the
background when an album grew a lot, persists to SQLite and announces `map_updated`.

Threading: all reads and mutations of a live SemanticMap run on one worker thread (`_live`);
fits run on their own daemon thread from a snapshot, so a minute-long refit never delays placing new images and
nothing heavy touches the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from photomapd.events import Event, EventBus, EventKind
from photomapd.map_clusters import DEFAULT_STRENGTH, ClusterInfo
from photomapd.map_layout import LayoutParams, MapLayout
from photomapd.map_payload import MapPoints, cluster_json, encode_payload
from photomapd.map_store import MapState, MapStore
from photomapd.semantic_map import SemanticMap
from photomapd.store import Store

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.3  # batch arrivals: one placement + one event per burst, not per image
MIN_SECONDS_BETWEEN_FITS = 20.0


def prompt_of(metadata_summary: Any) -> str | None:
    """The positive prompt from a metadata summary, whatever parser produced it."""
    if not isinstance(metadata_summary, dict):
        return None
    for key in ("positive_prompt", "prompt", "positive"):
        value = metadata_summary.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


@dataclass(slots=True)
class _AlbumMap:
    semantic: SemanticMap
    fitting: bool = False
    fit_deferred: bool = False
    last_fit_started: float = 0.0
    payload: tuple[int, str, bytes, bytes] | None = None  # (version, status, json, gzip)
    pending_add: dict[int, str | None] = field(default_factory=dict)
    pending_remove: set[int] = field(default_factory=set)


class MapService:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        model_id: Callable[[], str],
        album_keys: Callable[[], Iterable[str]],
        params: LayoutParams | None = None,
        min_seconds_between_fits: float = MIN_SECONDS_BETWEEN_FITS,
    ) -> None:
        self.min_seconds_between_fits = min_seconds_between_fits
        self.store = store
        self.map_store = MapStore(store)
        self.events = events
        self.model_id = model_id
        self.album_keys = album_keys
        self.params = params or LayoutParams()
        self._albums: dict[str, _AlbumMap] = {}
        self._live = ThreadPoolExecutor(1, thread_name_prefix="map-live")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flush_scheduled = False
        self._running = False

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.map_store.ensure_schema()
        self._running = True
        self.events.add_listener(self._on_event)
        for album in self.album_keys():
            await self._open_album(album)

    async def stop(self) -> None:
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._live.shutdown, True, cancel_futures=True)

    async def _open_album(self, album: str) -> None:
        """Restore the saved map, reconciled with the vectors SQLite has now."""
        ids, vectors = await self._album_vectors(album)
        stored = await self.map_store.load(album)
        semantic = await self._run(self._live, _restore, ids, vectors, stored, self.params)
        entry = _AlbumMap(semantic)
        self._albums[album] = entry
        logger.info("map of %s: %d points (version %d)", album, len(semantic), semantic.version)
        if semantic.needs_refit() or (stored is None and len(semantic)):
            self._start_fit(album)

    async def _album_vectors(self, album: str) -> tuple[np.ndarray, np.ndarray]:
        rows = await self.store.fetch_all(
            "SELECT e.image_id, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id "
            "WHERE i.album = ? AND i.status = 'ok' AND e.model_id = ? ORDER BY e.image_id",
            (album, self.model_id()),
        )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        return ids, np.stack([np.frombuffer(row[1], dtype=np.float32) for row in rows])

    # --- queries -----------------------------------------------------------------------

    def has_album(self, album: str) -> bool:
        return album in self._albums

    async def payload(self, album: str) -> tuple[int, bytes, bytes]:
        """(version, JSON body, gzip of it), cached per map version."""
        entry = self._albums[album]
        status = "fitting" if entry.fitting else ("ready" if len(entry.semantic) else "empty")
        if entry.payload is None or entry.payload[:2] != (entry.semantic.version, status):
            encoded = await self._run(self._live, _encode, entry.semantic, album, status)
            entry.payload = (entry.semantic.version, status, *encoded)
        version, _, body, compressed = entry.payload
        return version, body, compressed

    def clusters(self, album: str) -> dict[str, Any]:
        semantic = self._albums[album].semantic
        return {
            "album": album,
            "version": semantic.version,
            "strength": semantic.strength,
            "clusters": [cluster_json(info) for info in semantic.clusters],
        }

    async def members(self, album: str, cluster: int) -> list[int]:
        entry = self._albums[album]
        return await self._run(self._live, lambda: entry.semantic.members(cluster).tolist())

    # --- commands ----------------------------------------------------------------------

    def request_refit(self, album: str) -> str:
        entry = self._albums[album]
        if entry.fitting:
            return "running"
        self._start_fit(album, force=True)
        return "started"

    async def set_strength(self, album: str, strength: float) -> dict[str, Any]:
        entry = self._albums[album]
        await self._run(self._live, lambda: entry.semantic.recluster(strength))
        await self._save_all(album)
        self._announce(album, {"reclustered": True})
        return self.clusters(album)

    # --- events ------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if not self._running:
            return
        data = event.data
        if event.kind in (EventKind.IMAGE_ADDED, EventKind.IMAGE_UPDATED):
            image = data.get("image") or {}
            entry = self._albums.get(image.get("album", ""))
            if entry is None or not image.get("embedded") or image.get("status") != "ok":
                return
            if event.kind == EventKind.IMAGE_UPDATED and image["id"] in entry.semantic.layout:
                return  # metadata/favourite change; position stays until the next fit
            entry.pending_remove.discard(image["id"])
            entry.pending_add[image["id"]] = prompt_of(image.get("metadata_summary"))
        elif event.kind == EventKind.IMAGE_REMOVED:
            entry = self._albums.get(data.get("album", ""))
            if entry is None:
                return
            entry.pending_add.pop(data["id"], None)
            entry.pending_remove.add(data["id"])
        elif event.kind == EventKind.ALBUM_CHANGED:
            self._spawn(self._album_changed(data.get("key", ""), data.get("change", "")))
            return
        else:
            return
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._spawn(self._flush_later())

    async def _album_changed(self, album: str, change: str) -> None:
        if change == "deleted":
            self._albums.pop(album, None)
            await self.map_store.delete(album)
        elif change == "created" and album not in self._albums:
            await self._open_album(album)

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        self._flush_scheduled = False
        for album, entry in list(self._albums.items()):
            if entry.pending_add or entry.pending_remove:
                await self._flush(album, entry)

    async def _flush(self, album: str, entry: _AlbumMap) -> None:
        adds, entry.pending_add = entry.pending_add, {}
        removes, entry.pending_remove = sorted(entry.pending_remove), set()
        ids, vectors = await self._vectors_for(list(adds))
        prompts = [adds[int(i)] for i in ids]
        # entry.semantic is read on the live thread: a finished fit may swap it meanwhile.
        points, removed, state, refit_due = await self._run(
            self._live, _apply, entry, ids, vectors, prompts, removes
        )
        await self.map_store.upsert_points(album, points, removed, state)
        self._announce(
            album,
            {
                "added": [
                    {
                        "id": int(i),
                        "x": round(float(x), 5),
                        "y": round(float(y), 5),
                        "cluster": int(c),
                    }
                    for i, (x, y), c in zip(points.ids, points.xy, points.clusters, strict=True)
                ],
                "removed": removed,
            },
        )
        if refit_due:
            self._start_fit(album)

    async def _vectors_for(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        found: list[int] = []
        vectors: list[np.ndarray] = []
        model_id = self.model_id()
        for image_id in ids:
            vector = await self.store.embedding(image_id, model_id)
            if vector is not None:
                found.append(image_id)
                vectors.append(vector)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
        return np.array(found, dtype=np.int64), np.stack(vectors)

    # --- fits --------------------------------------------------------------------------

    def _start_fit(self, album: str, force: bool = False) -> None:
        entry = self._albums[album]
        if entry.fitting:
            return
        # UMAP fits cost seconds to minutes: at most one per interval, the next one deferred
        # (not dropped). Tiny albums get an instant PCA layout, so they are never held back.
        wait = self.min_seconds_between_fits - (time.monotonic() - entry.last_fit_started)
        if not force and wait > 0 and len(entry.semantic) >= 16:
            if not entry.fit_deferred:
                entry.fit_deferred = True
                self._spawn(self._fit_later(album, entry, wait))
            return
        entry.fitting = True
        entry.last_fit_started = time.monotonic()
        self._spawn(self._fit(album, entry))

    async def _fit_later(self, album: str, entry: _AlbumMap, delay: float) -> None:
        await asyncio.sleep(delay)
        entry.fit_deferred = False
        if self._albums.get(album) is entry and entry.semantic.needs_refit():
            self._start_fit(album)

    async def _fit(self, album: str, entry: _AlbumMap) -> None:
        try:
            snapshot = await self._run(self._live, _snapshot, entry.semantic)
            started = time.perf_counter()
            fitted = await _in_daemon_thread(_fit, snapshot, self.params)
            logger.info(
                "map of %s refitted: %d points in %.1f s",
                album,
                len(fitted),
                time.perf_counter() - started,
            )
            if self._albums.get(album) is not entry:
                return  # album deleted meanwhile
            await self._run(self._live, _catch_up, fitted, entry)
            await self._save_all(album)
            self._announce(album, {"refit": True})
        except Exception:
            logger.exception("refitting the map of %s failed; the current map stays", album)
        finally:
            entry.fitting = False
        if self._running and self._albums.get(album) is entry and entry.semantic.needs_refit():
            self._start_fit(album)  # the album kept growing during the fit

    async def _save_all(self, album: str) -> None:
        points, clusters, state = await self._run(self._live, _persistable, self._albums[album])
        await self.map_store.replace(album, points, clusters, state)

    # --- helpers -----------------------------------------------------------------------

    def _announce(self, album: str, data: dict[str, Any]) -> None:
        semantic = self._albums[album].semantic
        self.events.publish(
            EventKind.MAP_UPDATED,
            {"album": album, "version": semantic.version, "count": len(semantic), **data},
        )

    async def _run(
        self, executor: ThreadPoolExecutor, function: Callable[..., Any], *args: Any
    ) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _in_daemon_thread(function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run a fit on its own daemon thread: a UMAP fit cannot be interrupted, and quitting the
    daemon must not wait a minute for one (an executor thread would be joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def work() -> None:
        try:
            result = function(*args)
        except BaseException as error:  # handed to the awaiting coroutine
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, error)
        else:
            outcome = (future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed while we worked
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=work, name="map-fit", daemon=True).start()
    return future


# --- worker-thread functions (pure, on the executors) --------------------------------------


def _restore(ids, vectors, stored, params: LayoutParams) -> SemanticMap:  # type: ignore[no-untyped-def]
    if stored is None or len(stored.points) == 0:
        # No saved map: every point waits at the centre (status "fitting") until the first fit,
        # which the caller starts at once. Tiny albums are laid out here (PCA, instant).
        if len(ids) < 16:
            return (
                SemanticMap.fit(ids, vectors, params=params)
                if len(ids)
                else SemanticMap(MapLayout(ids, np.zeros((0, 2)), np.zeros((0, 1)), 0, params))
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


def _apply(entry: _AlbumMap, ids, vectors, prompts, removes):  # type: ignore[no-untyped-def]
    """Place/remove on the live map: (placed points, removed ids, state, refit due)."""
    semantic = entry.semantic
    removed = [i for i in removes if i in semantic.layout]
    semantic.remove(np.array(removed, dtype=np.int64))
    if len(ids):
        semantic.add(ids, vectors, prompts)
    points = semantic.points()
    placed = np.isin(points.ids, ids)
    placed_points = MapPoints(points.ids[placed], points.xy[placed], points.clusters[placed])
    return placed_points, removed, _state(semantic), semantic.needs_refit()


def _snapshot(semantic: SemanticMap) -> SemanticMap:
    return SemanticMap(
        semantic.layout.snapshot(),
        labels=semantic.labels.copy(),
        clusters=list(semantic.clusters),
        prompts=dict(semantic.prompts),
        strength=semantic.strength,
        version=semantic.version,
    )


def _fit(snapshot: SemanticMap, params: LayoutParams) -> SemanticMap:
    layout = snapshot.layout
    return SemanticMap.fit(
        layout.ids,
        layout.vectors,
        snapshot.prompts,
        snapshot.strength,
        previous=snapshot,
        params=params,
    )


def _catch_up(fitted: SemanticMap, entry: _AlbumMap) -> None:
    """Apply what changed on the live map while the fit ran (new images, removed images),
    then make the fitted map the live one."""
    live = entry.semantic
    gone = fitted.layout.ids[~np.isin(fitted.layout.ids, live.layout.ids)]
    fitted.remove(gone)
    new = ~np.isin(live.layout.ids, fitted.layout.ids)
    if new.any():
        prompts = [live.prompts.get(int(i)) for i in live.layout.ids[new]]
        fitted.add(live.layout.ids[new], live.layout.vectors[new], prompts)
    fitted.version = max(fitted.version, live.version + 1)
    entry.semantic = fitted


def _persistable(entry: _AlbumMap) -> tuple[MapPoints, list[ClusterInfo], MapState]:
    semantic = entry.semantic
    return semantic.points(), list(semantic.clusters), _state(semantic)


def _encode(semantic: SemanticMap, album: str, status: str) -> tuple[bytes, bytes]:
    body = encode_payload(semantic.points(), album, semantic.version)
    body["status"] = status
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, gzip.compress(raw, compresslevel=5)


def _state(semantic: SemanticMap) -> MapState:
    return MapState(semantic.version, semantic.layout.fitted_count, semantic.strength, time.time())
