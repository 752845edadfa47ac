"""The model as indexing uses it: loaded on its one thread with a back-off after a failure, a
batch size fitted to the device, prepared images embedded (one by one when a batch fails), and
unloaded when idle."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from photomapd.events import EventKind
from photomapd.model.lifecycle import ModelState, ModelUnavailable

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from photomapd.events import EventBus, ModelStateEvent
    from photomapd.model.lifecycle import ModelHandle

log = logging.getLogger(__name__)


class ImageToEmbed(Protocol):
    """What the runner reads from one image; indexing's PreparedImage is one. Declared here so
    that model/ never depends on indexing/."""

    @property
    def path(self) -> Path: ...  # for the log line when the image cannot be embedded

    @property
    def image(self) -> Image.Image | None: ...

    @property
    def tensor(self) -> Any: ...  # preprocessed on the I/O pool, or None


class ModelRunner:
    def __init__(
        self,
        embedder: ModelHandle,
        events: EventBus,
        batch_size: int = 0,
        retry_seconds: float = 60.0,
    ) -> None:
        self.embedder = embedder
        self.events = events
        self.auto_batch = batch_size <= 0
        self.batch_size = batch_size if batch_size > 0 else 16
        self.retry_seconds = retry_seconds
        # One thread: the model is never loaded, used and unloaded at the same time.
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="photomapd-model")
        self.last_failure = 0.0

    async def ensure_loaded(self, on_demand: bool = False) -> bool:
        """Load the model on the model thread; False (with state unavailable) when it can't be.

        After a failure, background work retries every retry_seconds; a user's request
        (on_demand) retries at once unless the last try was moments ago.
        """
        if self.embedder.state == ModelState.READY:
            return True
        backoff = 2.0 if on_demand else self.retry_seconds
        if (
            self.embedder.state == ModelState.UNAVAILABLE
            and time.monotonic() - self.last_failure < backoff
        ):
            return False
        loading: ModelStateEvent = {**self.status(), "state": str(ModelState.LOADING)}
        self.events.publish(EventKind.MODEL_STATE, loading)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.pool, self.embedder.load)
        except ModelUnavailable as error:
            self.last_failure = time.monotonic()
            log.warning("model unavailable: %s", error)
            self.events.publish(EventKind.MODEL_STATE, self.status())
            return False
        log.info("model %s loaded on %s", self.embedder.model_id, self.embedder.device)
        if self.auto_batch:
            # A GPU is cheap per image only in larger batches; a CPU gains little past 16.
            self.batch_size = 64 if str(self.embedder.device).startswith("cuda") else 16
        self.events.publish(EventKind.MODEL_STATE, self.status())
        return True

    def status(self) -> ModelStateEvent:
        return {
            "state": str(self.embedder.state),
            "error": self.embedder.error,
            "model_id": self.embedder.model_id,
            "device": self.embedder.device,
        }

    async def embed(self, items: Sequence[ImageToEmbed]) -> np.ndarray:
        """(n, dim) vectors for `items`, on the model thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._embed_blocking, items)

    async def embed_each(self, items: Sequence[ImageToEmbed]) -> list[np.ndarray | None]:
        """A vector per item, in order; None where the model could not embed that image."""
        try:
            computed = await self.embed(items)
            return [vector for vector, _ in zip(computed, items, strict=True)]
        except Exception:
            # One bad image must not sink the batch: retry one by one.
            log.warning("batch embedding failed; retrying %d images one by one", len(items))
        vectors: list[np.ndarray | None] = []
        for item in items:
            try:
                vectors.append((await self.embed([item]))[0])
            except Exception as error:
                log.warning("could not embed %s: %s", item.path, error)
                vectors.append(None)
        return vectors

    def _embed_blocking(self, items: Sequence[ImageToEmbed]) -> np.ndarray:
        if all(item.tensor is not None for item in items):
            import torch  # only reached with an in-process Embedder, which has torch loaded

            return self.embedder.embed_preprocessed(torch.stack([item.tensor for item in items]))
        images = [item.image for item in items]
        if any(image is None for image in images):
            raise ValueError("an image to embed was neither decoded nor preprocessed")
        return self.embedder.embed_images([image for image in images if image is not None])

    async def unload_if_idle(self) -> None:
        loop = asyncio.get_running_loop()
        unloaded = await loop.run_in_executor(self.pool, self.embedder.unload_if_idle)
        if unloaded:
            log.info("model unloaded after idling; memory returned")
            self.events.publish(EventKind.MODEL_STATE, self.status())
