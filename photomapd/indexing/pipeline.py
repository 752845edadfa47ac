"""From Change values to indexed rows: wait for complete files, decode on the I/O pool, embed in
batches on the model thread, write rows + vectors in one transaction, publish events.

Stages are connected by queues so decoding the next images overlaps embedding the current batch.
Parts with a job of their own live beside it: file_stability.py (when a file is complete),
model/runner.py (the model thread), index_writer.py (rows, then vectors, then events),
embedding_catch_up.py (vectors still owed) and failures.py (what a failed row says).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from photomapd import imaging
from photomapd.events import EventKind
from photomapd.image_json import image_json
from photomapd.indexing.embedding_catch_up import EmbeddingCatchUp
from photomapd.indexing.failures import disk_full_message, failure_reason, is_disk_full
from photomapd.indexing.file_stability import (
    STABLE_CHECK_INTERVAL,
    PendingFile,
    take_complete_files,
)
from photomapd.indexing.index_writer import IndexWriter
from photomapd.indexing.preparation import prepare_file
from photomapd.intake.changes import Change, ChangeKind
from photomapd.intake.links import LinkRefused
from photomapd.model.lifecycle import ModelState

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from photomapd.events import EventBus, ModelStateEvent, ProgressEvent
    from photomapd.indexing.preparation import PreparedImage
    from photomapd.intake.links import LinkGuard
    from photomapd.metadata.json_reader import MetadataReader
    from photomapd.model.runner import ModelRunner
    from photomapd.search.vector_space import VectorSpace
    from photomapd.store.store import Store

log = logging.getLogger(__name__)

# A live file that fails to decode is retried for this long: writers flush in pieces.
INCOMPLETE_GRACE_SECONDS = 10.0
BATCH_WINDOW_SECONDS = 0.05
DISK_FULL_RETRY_SECONDS = 30.0


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
        model_runner: ModelRunner,
        vectors: VectorSpace,
        events: EventBus,
        thumbnails_dir: Path,
        read_metadata: MetadataReader,
        io_workers: int | None = None,
        links: LinkGuard | None = None,
    ) -> None:
        self.store = store
        self.links = links  # a file that became a link leading out is refused at decode time
        self.model_runner = model_runner
        self.embedder = model_runner.embedder
        self.vectors = vectors
        self.events = events
        self.thumbnails_dir = thumbnails_dir
        self.read_metadata = read_metadata
        self.index_writer = IndexWriter(store, vectors, events)
        # Decoding is the bottleneck once a GPU embeds (~22 PNGs/s per thread vs thousands of
        # images/s on an H100, bench/RESULTS.md): one decode thread per core, up to 8. On a
        # 2-core CPU machine that is 2, sharing the cores with torch.
        self.io_workers = io_workers or max(2, min(8, os.cpu_count() or 2))
        self.io_pool = ThreadPoolExecutor(self.io_workers, thread_name_prefix="photomapd-io")
        self.pending: dict[tuple[str, Path], PendingFile] = {}
        self.ready: asyncio.Queue[PendingFile] = asyncio.Queue()
        self.prepared: asyncio.Queue[PreparedImage] = asyncio.Queue(maxsize=256)
        self.in_flight = 0
        self.counters = Counters()
        self.problem: str | None = None  # a condition the user must fix (disk full)
        self.unpaused = asyncio.Event()
        self.unpaused.set()
        self.catch_up_wanted = asyncio.Event()
        self.catch_up = EmbeddingCatchUp(
            store,
            self.index_writer,
            self.model_runner,
            self.io_pool,
            self.unpaused,
            self.catch_up_wanted,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._last_progress = 0.0

    @property
    def model_pool(self) -> ThreadPoolExecutor:
        """The model's one thread: searches embed their query there too."""
        return self.model_runner.pool

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._stability_loop(), name="stability")]
        self._tasks += [
            asyncio.create_task(self._decode_worker(), name=f"decode-{n}")
            for n in range(self.io_workers)
        ]
        self._tasks.append(asyncio.create_task(self._embed_loop(), name="embed"))
        self._tasks.append(asyncio.create_task(self.catch_up.run(), name="catch-up"))
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
        self.model_runner.last_failure = 0.0
        self.catch_up_wanted.set()

    def resume(self) -> None:
        self.unpaused.set()
        self.catch_up_wanted.set()
        self.publish_progress(force=True)

    @property
    def queued(self) -> int:
        return len(self.pending) + self.ready.qsize() + self.prepared.qsize() + self.in_flight

    def progress(self) -> ProgressEvent:
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

    async def ensure_model(self, on_demand: bool = False) -> bool:
        """Load the model if it is not loaded; False when it can't be (see ModelRunner)."""
        return await self.model_runner.ensure_loaded(on_demand)

    def model_status(self) -> ModelStateEvent:
        return self.model_runner.status()

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
        await self.index_writer.forget(album, path)

    async def handle_moved(self, album: str, source: Path, dest: Path) -> None:
        # Nothing indexed at the source (moved in from elsewhere, or not indexed yet): a new file.
        if not await self.index_writer.move(album, source, dest) and dest.is_file():
            self.submit(Change(ChangeKind.CREATED, album, dest))

    # --- stage 1: wait until files are complete (file_stability.py) ----------------------

    async def _stability_loop(self) -> None:
        while True:
            await asyncio.sleep(STABLE_CHECK_INTERVAL)
            if self.pending:
                for complete in take_complete_files(self.pending):
                    self.ready.put_nowait(complete)
            self.publish_progress()

    # --- stage 2: decode on the I/O pool -------------------------------------------------

    async def _decode_worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pending = await self.ready.get()
            self.in_flight += 1
            try:
                await self.unpaused.wait()
                prepared = await loop.run_in_executor(self.io_pool, self._prepare, pending)
                await self.prepared.put(prepared)
            except LinkRefused as refused:
                await self._link_refused(pending, refused)
            except (imaging.ImageError, OSError) as error:
                await self._decode_failed(pending, error)
            except Exception as error:  # a bug in one file's handling must not stop the worker
                log.exception("unexpected failure preparing %s", pending.path)
                await self._decode_failed(pending, error)
            finally:
                self.in_flight -= 1

    def _prepare(self, pending: PendingFile) -> PreparedImage:
        """On the I/O pool. The link check comes last before reading, so a file swapped for a
        link since it was reported is still refused."""
        if self.links is not None:
            problem = self.links.refusal(pending.album, pending.path)
            if problem is not None:
                raise LinkRefused(problem)
        return prepare_file(
            pending.album,
            pending.path,
            self.thumbnails_dir,
            self.read_metadata,
            self.embedder.preprocess,
        )

    async def _link_refused(self, pending: PendingFile, refused: LinkRefused) -> None:
        """Not indexed: listed with the album's failures, and a row it had is dropped."""
        if self.links is not None:
            self.links.note(pending.album, refused.problem)
        log.warning("not indexing %s: %s", pending.path, refused.problem.reason)
        await self.index_writer.forget(pending.album, pending.path)

    def _disk_full(self, error: BaseException) -> bool:
        """A full disk is not the file's fault: hold the work, say so, retry later."""
        full = is_disk_full(error)
        if full:
            message = disk_full_message(error, DISK_FULL_RETRY_SECONDS)
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

    # --- stage 3: embed in batches on the model thread (model/runner.py) -----------------

    async def _embed_loop(self) -> None:
        # The write of one batch overlaps the embedding of the next (at most one write in
        # flight, so rows land in order): on a GPU the two are of similar cost.
        writing: asyncio.Task[None] | None = None
        while True:
            batch = [await self.prepared.get()]
            self.in_flight += 1  # counted at once, so "queued" never dips to 0 mid-flight
            deadline = time.monotonic() + BATCH_WINDOW_SECONDS
            while len(batch) < self.model_runner.batch_size:
                timeout = deadline - time.monotonic()
                if timeout <= 0 and self.prepared.empty():
                    break
                try:  # asyncio.timeout: a stop's cancel is never swallowed (see catch-up)
                    async with asyncio.timeout(max(timeout, 0)):
                        batch.append(await self.prepared.get())
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

    async def _embed_batch(self, batch: list[PreparedImage]) -> list[np.ndarray | None]:
        """A vector per image: reused where the same bytes were embedded before, else computed."""
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
        computed = await self.model_runner.embed_each([batch[p] for p in todo])
        for position, vector in zip(todo, computed, strict=True):
            vectors[position] = vector
        return vectors

    # --- stage 4: one transaction, then usearch, then events (index_writer.py) ----------

    async def _write_batch(
        self, batch: list[PreparedImage], vectors: list[np.ndarray | None]
    ) -> None:
        failed = await self.index_writer.save_batch(batch, vectors, self.embedder.model_id)
        now = time.monotonic()
        self.problem = None  # a batch was written: whatever blocked writes is gone
        self.counters.done += len(batch) - failed
        self.counters.failed += failed
        self.counters.completions.extend([now] * len(batch))
        if any(vector is None for vector in vectors):
            self.catch_up_wanted.set()
        self.publish_progress(force=self.queued == 0)

    # --- background: idle unload, saving (the catch-up is embedding_catch_up.py) ----------

    async def _housekeeping_loop(self) -> None:
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(5)
            if self.queued == 0 and self.embedder.state == ModelState.READY:
                await self.model_runner.unload_if_idle()
            if time.monotonic() - last_save > 30 or self.queued == 0:
                await asyncio.to_thread(self.vectors.save_if_dirty)
                last_save = time.monotonic()
