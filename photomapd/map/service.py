"""Keeps every album's semantic map live: places new images as they are indexed, refits in the
background when an album grew a lot, persists to SQLite and announces `map_updated`.

Threading: all reads and mutations of a live SemanticMap run on one worker thread (`_live`);
UMAP fits run from a snapshot in a low-priority worker process (map/fit_process.py), so a
minute-long refit never delays placing new images and never holds the daemon's GIL; that
process ends when idle and comes back with the next fit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypedDict, cast

import numpy as np

from photomapd.events import EventKind
from photomapd.map import worker as map_worker
from photomapd.map.fit_process import FitProcess
from photomapd.map.layout import LayoutParams
from photomapd.map.payload import cluster_json
from photomapd.map.semantic_map import SemanticMap
from photomapd.map.store import MapStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from photomapd.events import (
        AlbumChangedEvent,
        Event,
        EventBus,
        ImageEvent,
        ImageRemovedEvent,
        MapUpdatedEvent,
    )
    from photomapd.map.layout import MapLayout
    from photomapd.search.vector_space import VectorSpace
    from photomapd.store.store import Store

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.3  # batch arrivals: one placement + one event per burst, not per image
BUSY_RECHECK_SECONDS = 10.0
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


def file_stamp(image: dict[str, Any]) -> int:
    """What changes when a file is rewritten (size, mtime), as one int: 100k of them cost a few
    MB where the embeddings they stand for would cost 200 MB. A favourite, a metadata refresh
    or a move keeps it, so those never move a point."""
    return hash((image.get("size"), image.get("mtime")))


def _stored_prompt(metadata_json: str | None) -> str | None:
    if not metadata_json:
        return None
    try:
        return prompt_of(json.loads(metadata_json))
    except ValueError:
        return None


class MapChange(TypedDict, total=False):
    """What changed in an album's map, announced with its version and size (map_updated)."""

    refit: bool
    reclustered: bool
    added: list[dict[str, float]]
    removed: list[int]


class MapService:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        model_id: Callable[[], str],
        album_keys: Callable[[], Iterable[str]],
        params: LayoutParams | None = None,
        min_seconds_between_fits: float = MIN_SECONDS_BETWEEN_FITS,
        indexing_busy: Callable[[], bool] = lambda: False,
        vector_space: Callable[[], VectorSpace | None] = lambda: None,
        fit_idle_seconds: Callable[[], float] = lambda: 120.0,
    ) -> None:
        # Live maps keep positions only; new images are placed by their neighbours in the
        # daemon's usearch index (None: they wait at the centre until the next fit).
        self.vector_space = vector_space
        self.min_seconds_between_fits = min_seconds_between_fits
        self.indexing_busy = indexing_busy
        self.store = store
        self.map_store = MapStore(store)
        self.events = events
        self.model_id = model_id
        self.album_keys = album_keys
        self.params = params or LayoutParams()
        self._albums: dict[str, map_worker.AlbumMap] = {}
        self._live = ThreadPoolExecutor(1, thread_name_prefix="map-live")
        # The fit worker ends this long after its last fit (the model's idle setting, live).
        self._fit_process = FitProcess(fit_idle_seconds)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flush_scheduled = False
        self._running = False

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.map_store.ensure_schema()
        self._running = True
        self.events.add_listener(self._on_event)
        # Loading 100k vectors takes a second or two: in the background, so the daemon starts
        # serving at once (the map routes answer 503 map_loading meanwhile).
        for album in self.album_keys():
            self._spawn(self._open_album(album))

    async def stop(self) -> None:
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fit_process.close()
        await asyncio.to_thread(self._live.shutdown, True, cancel_futures=True)

    async def _open_album(self, album: str) -> None:
        """Restore the saved map, reconciled with the vectors SQLite has now. Events arriving
        meanwhile queue on the entry and are applied once it is loaded."""
        entry = map_worker.AlbumMap(SemanticMap.empty(self.params), loading=True)
        self._albums[album] = entry
        stored = None
        try:
            ids, prompts, stamps = await self._album_rows(album)
            # Events that arrived while loading are newer than what was read here.
            entry.stamps = {**stamps, **entry.stamps}
            stored = await self.map_store.load(album)
            needed = map_worker.vectors_needed(ids, stored)
            vectors = None
            if len(needed) == len(ids) and len(ids):  # every one: one streamed album read
                vectors = await self._album_vectors(album)
            elif len(needed):
                vectors = await self._vectors_for(needed.tolist())
            entry.semantic = await self._run(
                self._live,
                map_worker.restore,
                ids,
                stored,
                self.params,
                prompts,
                vectors,
                self._neighbours,
            )
        except Exception:
            logger.exception(
                "could not restore the map of %s; it is rebuilt from new images", album
            )
        finally:
            entry.loading = False
        semantic = entry.semantic
        logger.info("map of %s: %d points (version %d)", album, len(semantic), semantic.version)
        if (
            semantic.needs_refit()
            or (stored is None and len(semantic))
            or semantic.layout.collapsed()
        ):
            self._start_fit(album)
        if entry.pending_add or entry.pending_remove:
            self._schedule_flush()

    async def _album_rows(
        self, album: str
    ) -> tuple[np.ndarray, dict[int, str | None], dict[int, int]]:
        """(ids, prompts, file stamps) of the album's embedded images; prompts label the
        clusters. No vectors: the map keeps positions only."""
        rows = await self.store.fetch_all(
            "SELECT e.image_id, i.metadata_json, i.size, i.mtime FROM embeddings e "
            "JOIN images i ON i.id = e.image_id "
            "WHERE i.album = ? AND i.status = 'ok' AND e.model_id = ? ORDER BY e.image_id",
            (album, self.model_id()),
        )
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        prompts = {int(row[0]): _stored_prompt(row[1]) for row in rows}
        stamps = {int(row[0]): file_stamp({"size": row[2], "mtime": row[3]}) for row in rows}
        return ids, prompts, stamps

    async def _album_vectors(self, album: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the album's embedded images, for a fit. Read in chunks into one
        preallocated array: a list of 100k rows first would double the peak (~400 MB)."""
        where = (
            "FROM embeddings e JOIN images i ON i.id = e.image_id "
            "WHERE i.album = ? AND i.status = 'ok' AND e.model_id = ?"
        )
        parameters = (album, self.model_id())
        count_row = await self.store.fetch_one(f"SELECT COUNT(*) {where}", parameters)
        count = int(count_row[0]) if count_row else 0
        ids = np.zeros(count, dtype=np.int64)
        vectors: np.ndarray | None = None
        filled = 0
        async with self.store.reader.execute(
            f"SELECT e.image_id, e.vector {where} ORDER BY e.image_id", parameters
        ) as cursor:
            while rows := await cursor.fetchmany(2000):
                for image_id, blob in rows:
                    if filled == count:  # rows added since the count: the next fit has them
                        break
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vectors is None:
                        vectors = np.empty((count, len(vector)), dtype=np.float32)
                    ids[filled], vectors[filled] = image_id, vector
                    filled += 1
        if vectors is None:
            return ids[:0], np.zeros((0, 1), dtype=np.float32)
        return ids[:filled], vectors[:filled]

    def _neighbours(
        self, vectors: np.ndarray, k: int, layout: MapLayout
    ) -> list[list[tuple[int, float]]]:
        """On the live thread: the k nearest images on `layout` for each vector (usearch)."""
        space = self.vector_space()
        if space is None:
            return [[] for _ in vectors]
        # A small map as a set: usearch then scores it exactly. A large one as a predicate
        # over HNSW candidates (building a 100k-id set would cost more than the search).
        allowed: Any = set(layout.ids.tolist()) if len(layout) <= 4096 else layout.__contains__
        return [space.search(vector, k, allowed) for vector in vectors]

    # --- queries -----------------------------------------------------------------------

    def has_album(self, album: str) -> bool:
        return album in self._albums

    def is_loading(self, album: str) -> bool:
        return self._albums[album].loading

    async def payload(self, album: str) -> tuple[int, bytes, bytes]:
        """(version, JSON body, gzip of it), cached per map version."""
        entry = self._albums[album]
        status = "fitting" if entry.fitting else ("ready" if len(entry.semantic) else "empty")
        if entry.payload is None or entry.payload[:2] != (entry.semantic.version, status):
            encoded = await self._run(self._live, map_worker.encode, entry.semantic, album, status)
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
        if event.kind in (EventKind.IMAGE_ADDED, EventKind.IMAGE_UPDATED):
            image = cast("ImageEvent", event.data)["image"]
            entry = self._albums.get(image.get("album", ""))
            if entry is None or "id" not in image:
                return
            image_id = int(image["id"])
            if not image.get("embedded") or image.get("status") != "ok":
                # Rewritten into something that does not decode (or lost its vector): it
                # leaves the map now, as it would after a restart; re-indexing brings it back.
                if image_id in entry.stamps:
                    self._remove(entry, image_id)
                    self._schedule_flush()
                return
            stamp = file_stamp(image)
            previous = entry.stamps.get(image_id)
            if previous == stamp:
                return  # metadata/favourite change or a move: the position stays
            entry.stamps[image_id] = stamp
            entry.pending_remove.discard(image_id)
            entry.pending_add[image_id] = prompt_of(image.get("metadata_summary"))
            if previous is not None:  # same file, new content: a new embedding, a new place
                entry.pending_replace.add(image_id)
        elif event.kind == EventKind.IMAGE_REMOVED:
            removed = cast("ImageRemovedEvent", event.data)
            entry = self._albums.get(removed["album"])
            if entry is None:
                return
            self._remove(entry, int(removed["id"]))
        elif event.kind == EventKind.ALBUM_CHANGED:
            changed = cast("AlbumChangedEvent", event.data)
            self._spawn(self._album_changed(changed["key"], changed["change"]))
            return
        else:
            return
        self._schedule_flush()

    @staticmethod
    def _remove(entry: map_worker.AlbumMap, image_id: int) -> None:
        entry.stamps.pop(image_id, None)
        entry.pending_add.pop(image_id, None)
        entry.pending_replace.discard(image_id)
        entry.pending_remove.add(image_id)

    def _schedule_flush(self) -> None:
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
            if not entry.loading and (entry.pending_add or entry.pending_remove):
                try:
                    await self._flush(album, entry)
                except Exception:  # one album's failure must not stop the others' updates
                    logger.exception("updating the map of %s failed; it catches up on refit", album)

    async def _flush(self, album: str, entry: map_worker.AlbumMap) -> None:
        adds, entry.pending_add = entry.pending_add, {}
        removes, entry.pending_remove = sorted(entry.pending_remove), set()
        replace, entry.pending_replace = entry.pending_replace, set()
        ids, vectors = await self._vectors_for(list(adds))
        prompts = [adds[int(i)] for i in ids]
        # entry.semantic is read on the live thread: a finished fit may swap it meanwhile.
        points, removed, state, refit_due = await self._run(
            self._live,
            map_worker.apply,
            entry,
            ids,
            vectors,
            prompts,
            removes,
            replace,
            self._neighbours,
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
        """One query for the whole flush (a bulk import flushes hundreds of images at once)."""
        found: list[int] = []
        vectors: list[np.ndarray] = []
        model_id = self.model_id()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self.store.fetch_all(
                f"SELECT image_id, vector FROM embeddings WHERE model_id = ? "
                f"AND image_id IN ({','.join('?' * len(chunk))}) ORDER BY image_id",
                [model_id, *chunk],
            )
            for row in rows:
                found.append(int(row[0]))
                vectors.append(np.frombuffer(row[1], dtype=np.float32))
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
        if not force and len(entry.semantic) >= 16 and self.indexing_busy():
            # A bulk import grows the album by 20 % again and again: refitting each time would
            # take the CPU from indexing. New images are placed meanwhile; fit once it is done.
            wait = max(wait, BUSY_RECHECK_SECONDS)
        if not force and wait > 0 and len(entry.semantic) >= 16:
            if not entry.fit_deferred:
                entry.fit_deferred = True
                self._spawn(self._fit_later(album, entry, wait))
            return
        entry.fitting = True
        entry.last_fit_started = time.monotonic()
        self._spawn(self._fit(album, entry))

    async def _fit_later(self, album: str, entry: map_worker.AlbumMap, delay: float) -> None:
        await asyncio.sleep(delay)
        entry.fit_deferred = False
        if self._albums.get(album) is entry and entry.semantic.needs_refit():
            self._start_fit(album)  # defers itself again while indexing is still busy

    async def _fit(self, album: str, entry: map_worker.AlbumMap) -> None:
        try:
            # Vectors are loaded for the fit only (~2 s per 100k from SQLite) and dropped after.
            ids, vectors = await self._album_vectors(album)
            snapshot = await self._run(self._live, map_worker.snapshot, entry, ids, vectors)
            del ids, vectors
            started = time.perf_counter()
            if len(snapshot) < map_worker.SMALL_ALBUM:  # PCA layout, instant: no process
                fitted = await self._run(self._live, map_worker.fit, snapshot, self.params)
            else:
                fitted = await self._fit_process.fit(snapshot, self.params)
            del snapshot
            logger.info(
                "map of %s refitted: %d points in %.1f s",
                album,
                len(fitted),
                time.perf_counter() - started,
            )
            if self._albums.get(album) is not entry:
                return  # album deleted meanwhile
            missing = await self._run(self._live, map_worker.missing_from, fitted, entry)
            found, found_vectors = await self._vectors_for(missing)
            late = await self._run(
                self._live, map_worker.catch_up, fitted, entry, found, found_vectors
            )
            for image_id, prompt in late.items():  # arrived during the catch-up itself
                entry.pending_add.setdefault(image_id, prompt)
            if late:
                self._schedule_flush()
            await self._save_all(album)
            self._announce(album, {"refit": True})
        except Exception:
            logger.exception("refitting the map of %s failed; the current map stays", album)
        finally:
            entry.fitting = False
        if self._running and self._albums.get(album) is entry and entry.semantic.needs_refit():
            self._start_fit(album)  # the album kept growing during the fit

    async def _save_all(self, album: str) -> None:
        points, clusters, state = await self._run(
            self._live, map_worker.persistable, self._albums[album]
        )
        await self.map_store.replace(album, points, clusters, state)

    # --- helpers -----------------------------------------------------------------------

    def _announce(self, album: str, change: MapChange) -> None:
        entry = self._albums.get(album)
        if entry is None:  # deleted meanwhile
            return
        semantic = entry.semantic
        update: MapUpdatedEvent = {
            "album": album,
            "version": semantic.version,
            "count": len(semantic),
            **change,
        }
        self.events.publish(EventKind.MAP_UPDATED, update)

    async def _run(
        self, executor: ThreadPoolExecutor, function: Callable[..., Any], *args: Any
    ) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, function, *args)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
