"""From Change values to indexed rows: wait for complete files, decode on the I/O pool, embed in
batches on the model thread, write rows + vectors in one transaction, publish events.

Stages are connected by queues so decoding the next images overlaps embedding the current batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photomapd import imaging
from photomapd.changes import Change, ChangeKind
from photomapd.events import EventBus, EventKind
from photomapd.image_json import image_json
from photomapd.indexed_rows import IndexedImage
from photomapd.model_types import ModelState, ModelUnavailable
from photomapd.preparation import MetadataReader, PreparedImage, prepare_file
from photomapd.sentences import clause
from photomapd.store import Store
from photomapd.vector_space import VectorSpace

log = logging.getLogger(__name__)

STABLE_CHECK_INTERVAL = 0.1
# A file whose last write is older than this is taken as complete without waiting.
SETTLED_AGE_SECONDS = 2.0
# A live file that fails to decode is retried for this long: writers flush in pieces.
INCOMPLETE_GRACE_SECONDS = 10.0
BATCH_WINDOW_SECONDS = 0.05
DISK_FULL_RETRY_SECONDS = 30.0


def failure_reason(error: Exception) -> tuple[str, str]:
    """(reason, stored message) for a file that could not be decoded: the message says what to
    do once (ImageError reasons already end with the retry hint), without the path the row has."""
    reason = str(error.reason) if isinstance(error, imaging.ImageError) else str(error)
    if "retried" in reason:
        return reason, reason
    return reason, f"{clause(reason)}. Fix or re-export the file; it is retried when it changes"


@dataclass
class PendingFile:
    album: str
    path: Path
    from_scan: bool
    first_seen: float = field(default_factory=time.monotonic)
    last_signature: tuple[int, float] | None = None


@dataclass
class Counters:
    done: int = 0
    failed: int = 0
    completions: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def rate(self) -> float:
        now = time.monotonic()
        recent = [t for t in self.completions if now - t <= 10.0]
        if len(recent) < 2:
            return 0.0
        return len(recent) / max(now - recent[0], 1e-3)


class Pipeline:
    def __init__(
        self,
        store: Store,
        embedder: Any,  # Embedder (in process) or ModelClient (worker process)
        vectors: VectorSpace,
        events: EventBus,
        thumbnails_dir: Path,
        read_metadata: MetadataReader,
        batch_size: int = 0,
        io_workers: int | None = None,
        model_retry_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.vectors = vectors
        self.events = events
        self.thumbnails_dir = thumbnails_dir
        self.read_metadata = read_metadata
        self.auto_batch = batch_size <= 0
        self.batch_size = batch_size if batch_size > 0 else 16
        # Decoding is the bottleneck once a GPU embeds (~22 PNGs/s per thread vs thousands of
        # images/s on an H100, bench/RESULTS.md): one decode thread per core, up to 8. On a
        # 2-core CPU machine that is 2, sharing the cores with torch.
        self.io_workers = io_workers or max(2, min(8, os.cpu_count() or 2))
        self.model_retry_seconds = model_retry_seconds
        self.io_pool = ThreadPoolExecutor(self.io_workers, thread_name_prefix="photomapd-io")
        self.model_pool = ThreadPoolExecutor(1, thread_name_prefix="photomapd-model")
        self.pending: dict[tuple[str, Path], PendingFile] = {}
        self.ready: asyncio.Queue[PendingFile] = asyncio.Queue()
        self.prepared: asyncio.Queue[PreparedImage] = asyncio.Queue(maxsize=256)
        self.in_flight = 0
        self.counters = Counters()
        self.problem: str | None = None  # a condition the user must fix (disk full)
        self.unpaused = asyncio.Event()
        self.unpaused.set()
        self.catch_up_wanted = asyncio.Event()
        self.last_model_failure = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._last_progress = 0.0
        self.on_album_folder_deleted: Callable[[str, Path], None] | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._stability_loop(), name="stability")]
        self._tasks += [
            asyncio.create_task(self._decode_worker(), name=f"decode-{n}")
            for n in range(self.io_workers)
        ]
        self._tasks.append(asyncio.create_task(self._embed_loop(), name="embed"))
        self._tasks.append(asyncio.create_task(self._catch_up_loop(), name="catch-up"))
        self._tasks.append(asyncio.create_task(self._housekeeping_loop(), name="housekeeping"))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._background, return_exceptions=True)
        self._tasks = []
        self.io_pool.shutdown(wait=True, cancel_futures=True)
        self.model_pool.shutdown(wait=True, cancel_futures=True)
        await asyncio.to_thread(self.vectors.save_if_dirty)

    @property
    def paused(self) -> bool:
        return not self.unpaused.is_set()

    def pause(self) -> None:
        self.unpaused.clear()
        self.publish_progress(force=True)

    def retry_model_now(self) -> None:
        """Update Index and similar user actions: try the model again without waiting."""
        self.last_model_failure = 0.0
        self.catch_up_wanted.set()

    def resume(self) -> None:
        self.unpaused.set()
        self.catch_up_wanted.set()
        self.publish_progress(force=True)

    @property
    def queued(self) -> int:
        return len(self.pending) + self.ready.qsize() + self.prepared.qsize() + self.in_flight

    def progress(self) -> dict[str, Any]:
        rate = self.counters.rate()
        queued = self.queued
        return {
            "paused": self.paused,
            "queued": queued,
            "done": self.counters.done,
            "failed": self.counters.failed,
            "rate": round(rate, 2),
            "eta_seconds": round(queued / rate, 1) if rate > 0 and queued else None,
            "problem": self.problem,
        }

    def publish_progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= 0.5:
            self._last_progress = now
            self.events.publish(EventKind.PROGRESS, self.progress())

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """A fire-and-forget task that is kept referenced (and cancelled on stop)."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # --- intake --------------------------------------------------------------------------

    def submit(self, change: Change) -> None:
        """Called on the loop (the watcher uses call_soon_threadsafe)."""
        if change.kind in (ChangeKind.CREATED, ChangeKind.MODIFIED):
            key = (change.album, change.path)
            if key not in self.pending:
                self.pending[key] = PendingFile(change.album, change.path, change.from_scan)
        elif change.kind == ChangeKind.DELETED:
            self.pending.pop((change.album, change.path), None)
            self.spawn(self.handle_deleted(change.album, change.path))
        elif change.kind == ChangeKind.MOVED and change.dest is not None:
            self.spawn(self.handle_moved(change.album, change.path, change.dest))

    async def handle_deleted(self, album: str, path: Path) -> None:
        known = await self.store.known_files(album)
        prefix = str(path) + os.sep
        paths = [p for p in known if p == str(path) or p.startswith(prefix)]
        ids = await self.store.mark_missing(album, paths)
        if ids:
            await asyncio.to_thread(self.vectors.remove, ids)
            for image_id in ids:
                self.events.publish(EventKind.IMAGE_REMOVED, {"id": image_id, "album": album})

    async def handle_moved(self, album: str, source: Path, dest: Path) -> None:
        known = await self.store.known_files(album)
        prefix = str(source) + os.sep
        moved = [
            (p, str(dest) + p[len(str(source)) :])
            for p in known
            if p == str(source) or p.startswith(prefix)
        ]
        if not moved and dest.is_file():
            self.submit(Change(ChangeKind.CREATED, album, dest))
        for old_path, new_path in moved:
            image_id = await self.store.rename(album, old_path, new_path)
            if image_id is not None:
                image = await self.store.get_image(image_id)
                if image:
                    self.events.publish(EventKind.IMAGE_UPDATED, {"image": image_json(image)})

    # --- stage 1: wait until files are complete ------------------------------------------

    async def _stability_loop(self) -> None:
        while True:
            await asyncio.sleep(STABLE_CHECK_INTERVAL)
            if self.pending:
                await self._promote_stable_files()
            self.publish_progress()

    async def _promote_stable_files(self) -> None:
        now = time.time()
        for key, pending in list(self.pending.items()):
            try:
                stat = pending.path.stat()
            except OSError:
                self.pending.pop(key, None)  # gone before it settled; a delete event follows
                continue
            signature = (stat.st_size, stat.st_mtime)
            settled = pending.from_scan or now - stat.st_mtime >= SETTLED_AGE_SECONDS
            unchanged = signature == pending.last_signature
            pending.last_signature = signature
            # An empty file may still be filled in; once it has sat empty a while it is taken
            # as it is, so it gets an error row instead of waiting in the queue forever.
            if (stat.st_size > 0 and (settled or unchanged)) or (stat.st_size == 0 and settled):
                self.pending.pop(key, None)
                self.ready.put_nowait(pending)

    # --- stage 2: decode on the I/O pool -------------------------------------------------

    async def _decode_worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pending = await self.ready.get()
            self.in_flight += 1
            try:
                await self.unpaused.wait()
                prepared = await loop.run_in_executor(
                    self.io_pool,
                    prepare_file,
                    pending.album,
                    pending.path,
                    self.thumbnails_dir,
                    self.read_metadata,
                    self.embedder.preprocess,
                )
                await self.prepared.put(prepared)
            except (imaging.ImageError, OSError) as error:
                await self._decode_failed(pending, error)
            except Exception as error:  # a bug in one file's handling must not stop the worker
                log.exception("unexpected failure preparing %s", pending.path)
                await self._decode_failed(pending, error)
            finally:
                self.in_flight -= 1

    def _disk_full(self, error: BaseException) -> bool:
        """A full disk is not the file's fault: hold the work, say so, retry later."""
        full = (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or (
            isinstance(error, sqlite3.OperationalError) and "full" in str(error)
        )
        if full:
            where = getattr(error, "filename", None) or "the data folder"
            message = (
                f"disk full while writing {where} ({error}); free some space — waiting images "
                f"are retried every {DISK_FULL_RETRY_SECONDS:g} s and nothing is lost"
            )
            if self.problem != message:
                log.error("%s", message)
            self.problem = message
            self.publish_progress(force=True)
        return full

    def _retry_later(self, album: str, paths: list[Path]) -> None:
        async def later() -> None:
            await asyncio.sleep(DISK_FULL_RETRY_SECONDS)
            for path in paths:
                self.submit(Change(ChangeKind.CREATED, album, path, from_scan=True))

        self.spawn(later())

    async def _decode_failed(self, pending: PendingFile, error: Exception) -> None:
        if self._disk_full(error):
            self._retry_later(pending.album, [pending.path])
            return
        try:
            stat = pending.path.stat()
        except OSError:
            return  # the file went away; nothing to record
        young = time.time() - stat.st_mtime < INCOMPLETE_GRACE_SECONDS
        if young and not pending.from_scan and time.monotonic() - pending.first_seen < 30:
            # Probably still being written: look again once it changes or settles.
            await asyncio.sleep(0.3)
            self.pending.setdefault((pending.album, pending.path), pending)
            return
        reason, message = failure_reason(error)
        image_id, is_new = await self.store.save_error(
            pending.album, str(pending.path), stat.st_size, stat.st_mtime, message
        )
        self.counters.failed += 1
        log.warning("could not index %s: %s", pending.path, reason)
        image = await self.store.get_image(image_id)
        if image:
            kind = EventKind.IMAGE_ADDED if is_new else EventKind.IMAGE_UPDATED
            self.events.publish(kind, {"image": image_json(image)})

    # --- stage 3: embed in batches on the model thread -----------------------------------

    async def _embed_loop(self) -> None:
        # The write of one batch overlaps the embedding of the next (at most one write in
        # flight, so rows land in order): on a GPU the two are of similar cost.
        writing: asyncio.Task[None] | None = None
        while True:
            batch = [await self.prepared.get()]
            self.in_flight += 1  # counted at once, so "queued" never dips to 0 mid-flight
            deadline = time.monotonic() + BATCH_WINDOW_SECONDS
            while len(batch) < self.batch_size:
                timeout = deadline - time.monotonic()
                if timeout <= 0 and self.prepared.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(self.prepared.get(), max(timeout, 0)))
                except TimeoutError:
                    break
                self.in_flight += 1
            try:
                vectors = await self._embed_batch(batch)
            except Exception as error:
                vectors = [None] * len(batch)  # rows still land; the catch-up embeds them later
                log.exception("embedding a batch of %d images failed: %s", len(batch), error)
            if writing is not None:
                await writing
            writing = self.spawn(self._write_counted(batch, vectors))

    async def _write_counted(self, batch: list[PreparedImage], vectors: list[Any]) -> None:
        try:
            await self._write_batch(batch, vectors)
        except Exception as error:
            if self._disk_full(error):
                for item in batch:
                    self._retry_later(item.album, [item.path])
            else:
                log.exception("writing a batch of %d images failed", len(batch))
        finally:
            self.in_flight -= len(batch)

    async def ensure_model(self, on_demand: bool = False) -> bool:
        """Load the model on the model thread; False (with state unavailable) when it can't be.

        After a failure, background work retries every model_retry_seconds; a user's request
        (on_demand) retries at once unless the last try was moments ago.
        """
        if self.embedder.state == ModelState.READY:
            return True
        backoff = 2.0 if on_demand else self.model_retry_seconds
        if (
            self.embedder.state == ModelState.UNAVAILABLE
            and time.monotonic() - self.last_model_failure < backoff
        ):
            return False
        self.events.publish(EventKind.MODEL_STATE, {**self.model_status(), "state": "loading"})
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.model_pool, self.embedder.load)
        except ModelUnavailable as error:
            self.last_model_failure = time.monotonic()
            log.warning("model unavailable: %s", error)
            self.events.publish(EventKind.MODEL_STATE, self.model_status())
            return False
        log.info("model %s loaded on %s", self.embedder.model_id, self.embedder.device)
        if self.auto_batch:
            # A GPU is cheap per image only in larger batches; a CPU gains little past 16.
            self.batch_size = 64 if str(self.embedder.device).startswith("cuda") else 16
        self.events.publish(EventKind.MODEL_STATE, self.model_status())
        return True

    def model_status(self) -> dict[str, Any]:
        return {
            "state": str(self.embedder.state),
            "error": self.embedder.error,
            "model_id": self.embedder.model_id,
            "device": self.embedder.device,
        }

    async def _embed_batch(self, batch: list[PreparedImage]) -> list[np.ndarray | None]:
        vectors: list[np.ndarray | None] = [None] * len(batch)
        model_id = self.embedder.model_id
        todo = []
        known = await self.store.embeddings_by_hash([item.content_hash for item in batch], model_id)
        for position, item in enumerate(batch):
            reused = known.get(item.content_hash)
            if reused is not None:
                vectors[position] = reused
            else:
                todo.append(position)
        if not todo or not await self.ensure_model():
            return vectors
        loop = asyncio.get_running_loop()
        try:
            computed = await loop.run_in_executor(
                self.model_pool, self._embed_blocking, [batch[p] for p in todo]
            )
            for position, vector in zip(todo, computed, strict=True):
                vectors[position] = vector
        except Exception:
            # One bad image must not sink the batch: retry one by one.
            log.warning("batch embedding failed; retrying %d images one by one", len(todo))
            for position in todo:
                try:
                    single = await loop.run_in_executor(
                        self.model_pool, self._embed_blocking, [batch[position]]
                    )
                    vectors[position] = single[0]
                except Exception as error:
                    log.warning("could not embed %s: %s", batch[position].path, error)
        return vectors

    def _embed_blocking(self, items: list[PreparedImage]) -> np.ndarray:
        if all(item.tensor is not None for item in items):
            import torch  # only reached with an in-process Embedder, which has torch loaded

            return self.embedder.embed_preprocessed(torch.stack([item.tensor for item in items]))
        return self.embedder.embed_images([item.image for item in items])

    # --- stage 4: one transaction, then usearch, then events -----------------------------

    async def _write_batch(
        self, batch: list[PreparedImage], vectors: list[np.ndarray | None]
    ) -> None:
        model_id = self.embedder.model_id
        records = [
            (item.album, str(item.path), _record(item, model_id, vector))
            for item, vector in zip(batch, vectors, strict=True)
        ]
        announcements = await self.store.save_indexed_batch(records)
        added_ids = [i for (i, _), v in zip(announcements, vectors, strict=True) if v is not None]
        added_vectors = [v for v in vectors if v is not None]
        if added_ids:
            await asyncio.to_thread(
                self.vectors.add, np.asarray(added_ids, dtype=np.int64), np.stack(added_vectors)
            )
        rows = await self.store.get_images([image_id for image_id, _ in announcements])
        for image_id, is_new in announcements:
            if image_id in rows:
                kind = EventKind.IMAGE_ADDED if is_new else EventKind.IMAGE_UPDATED
                self.events.publish(kind, {"image": image_json(rows[image_id])})
        now = time.monotonic()
        self.problem = None  # a batch was written: whatever blocked writes is gone
        self.counters.done += len(batch)
        self.counters.completions.extend([now] * len(batch))
        if any(vector is None for vector in vectors):
            self.catch_up_wanted.set()
        self.publish_progress(force=self.queued == 0)

    # --- background: embeddings that are owed, idle unload, saving ------------------------

    async def _catch_up_loop(self) -> None:
        """Embed images indexed while the model was unavailable (or indexed by another model)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.catch_up_wanted.wait(), self.model_retry_seconds)
            self.catch_up_wanted.clear()
            await self.unpaused.wait()
            try:
                while await self._catch_up_once():
                    await self.unpaused.wait()
            except Exception:
                log.exception("catching up on embeddings failed; will retry")

    async def _catch_up_once(self) -> bool:
        model_id = self.embedder.model_id
        rows = await self.store.without_embedding(model_id, self.batch_size)
        if not rows or not await self.ensure_model():
            return False
        loop = asyncio.get_running_loop()
        items: list[PreparedImage] = []
        for row in rows:
            try:
                image = await loop.run_in_executor(
                    self.io_pool, imaging.open_image, Path(row["path"]), 256
                )
            except (imaging.ImageError, OSError) as error:
                await self.store.save_error(
                    row["album"],
                    row["path"],
                    row["size"],
                    row["mtime"],
                    failure_reason(error)[1],
                )
                continue
            items.append(
                PreparedImage(
                    row["album"],
                    Path(row["path"]),
                    row["size"],
                    row["mtime"],
                    "",
                    0,
                    0,
                    None,
                    None,
                    None,
                    None,
                    image=image,
                    image_id=row["id"],
                )
            )
        if not items:
            return True
        vectors = await loop.run_in_executor(self.model_pool, self._embed_blocking, items)
        pairs = [(item.image_id, vector) for item, vector in zip(items, vectors, strict=True)]
        await self.store.put_embeddings(model_id, pairs)
        ids = np.asarray([image_id for image_id, _ in pairs], dtype=np.int64)
        await asyncio.to_thread(self.vectors.add, ids, np.stack([v for _, v in pairs]))
        updated = await self.store.get_images(ids.tolist())
        for image in updated.values():
            self.events.publish(EventKind.IMAGE_UPDATED, {"image": image_json(image)})
        return True

    async def _housekeeping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(5)
            if self.queued == 0 and self.embedder.state == ModelState.READY:
                unloaded = await loop.run_in_executor(self.model_pool, self.embedder.unload_if_idle)
                if unloaded:
                    log.info("model unloaded after idling; memory returned")
                    self.events.publish(EventKind.MODEL_STATE, self.model_status())
            if time.monotonic() - last_save > 30 or self.queued == 0:
                await asyncio.to_thread(self.vectors.save_if_dirty)
                last_save = time.monotonic()


def _record(item: PreparedImage, model_id: str, vector: np.ndarray | None) -> IndexedImage:
    return IndexedImage(
        image_id=0,
        size=item.size,
        mtime=item.mtime,
        content_hash=item.content_hash,
        width=item.width,
        height=item.height,
        metadata_json=item.metadata_json,
        raw_metadata_json=item.raw_metadata_json,
        parser_version=item.parser_version,
        thumbnail=item.thumbnail,
        model_id=model_id if vector is not None else None,
        vector=vector,
    )
