"""Vectors still owed: images indexed while the model was unavailable (or by another model) are
embedded in the background, a batch at a time, when asked and every model retry interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from photomapd import imaging
from photomapd.indexing.failures import failure_reason
from photomapd.indexing.preparation import PreparedImage

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from photomapd.indexing.index_writer import IndexWriter
    from photomapd.model.runner import ModelRunner
    from photomapd.store.store import Store

log = logging.getLogger(__name__)


class EmbeddingCatchUp:
    def __init__(
        self,
        store: Store,
        index_writer: IndexWriter,
        model_runner: ModelRunner,
        io_pool: ThreadPoolExecutor,
        unpaused: asyncio.Event,
        wanted: asyncio.Event,
    ) -> None:
        self.store = store
        self.index_writer = index_writer
        self.model_runner = model_runner
        self.io_pool = io_pool
        self.unpaused = unpaused
        self.wanted = wanted

    async def run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives with the event (a reconcile asks just before a stop), and stop hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.model_runner.retry_seconds):
                    await self.wanted.wait()
            self.wanted.clear()
            await self.unpaused.wait()
            try:
                while await self._embed_next_batch():
                    await self.unpaused.wait()
            except Exception:
                log.exception("catching up on embeddings failed; will retry")

    async def _embed_next_batch(self) -> bool:
        """False once nothing is owed or the model is unavailable."""
        model_id = self.model_runner.embedder.model_id
        rows = await self.store.without_embedding(model_id, self.model_runner.batch_size)
        if not rows or not await self.model_runner.ensure_loaded():
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
        vectors = await self.model_runner.embed(items)
        pairs = [(item.image_id, vector) for item, vector in zip(items, vectors, strict=True)]
        await self.index_writer.save_vectors(model_id, pairs)
        return True
