"""Semantic search: text (with negative text), similar to an image, by an uploaded image, combined."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from photomapd.model import history as model_history
from photomapd.model.lifecycle import ModelState, ModelUnavailable
from photomapd.search.vector_space import VectorSpace

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from PIL import Image

    from photomapd.model.lifecycle import ModelHandle
    from photomapd.model.runner import ModelRunner
    from photomapd.store.store import Store

log = logging.getLogger(__name__)


class SearchUnavailable(Exception):
    """Semantic search needs the model; the message says why it is not there."""


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    negative: str = ""
    negative_weight: float = 0.5
    image: Image.Image | None = None
    image_weight: float = 0.5  # share of the image when both text and image are given
    album: str | None = None
    limit: int = 50
    offset: int = 0
    # Metadata filters (prompt, model, LoRA, ...) narrow the candidates; None: no restriction.
    allowed_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class SearchHit:
    image_id: int
    score: float


class Searcher:
    """Searches the current model's vectors; right after a model change, while the new model
    re-embeds the library in the background, the previous model's vectors keep answering."""

    def __init__(
        self,
        store: Store,
        runner: ModelRunner,
        vectors: VectorSpace,
        data_dir: Path | None = None,
        make_embedder: Callable[[str, str], ModelHandle] | None = None,
    ) -> None:
        self.store = store
        # The model runner owns the current model and its one thread: a query embeds there,
        # between indexing batches, and loading it on demand follows the runner's back-off.
        self.runner = runner
        self.vectors = vectors
        self.data_dir = data_dir
        self.make_embedder = make_embedder
        self._previous: tuple[ModelHandle, VectorSpace] | None = None
        self._no_previous_model = False

    async def _space(self) -> tuple[ModelHandle, VectorSpace]:
        """The (embedder, vectors) pair that covers more of the library right now."""
        current = (self.runner.embedder, self.vectors)
        if self.data_dir is None or self.make_embedder is None:
            return current
        if self._no_previous_model:
            return current  # the common case: one model ever, no file read, no count
        record = model_history.previous(self.data_dir, self.runner.embedder.model_id)
        if record is None:
            self._no_previous_model = True
            return current
        owed = await self.store.count_without_embedding(self.runner.embedder.model_id)
        if owed == 0:
            await self.retire_previous_models()
            return current
        if self._previous is None or self._previous[0].model_id != record.model_id:
            old_vectors = VectorSpace(self.data_dir, record.model_id)
            await old_vectors.sync(self.store)
            if len(old_vectors) <= len(self.vectors):
                return current
            self._previous = (
                self.make_embedder(record.name, record.pretrained),
                old_vectors,
            )
            log.info(
                "model changed: searching with %s until the new model has caught up",
                record.model_id,
            )
        return self._previous if len(self._previous[1]) > len(self.vectors) else current

    def close(self) -> None:
        """Blocking: end the previous model's worker, if one was started for searches."""
        if self._previous is not None:
            self._previous[0].unload()
            self._previous = None

    async def retire_previous_models(self) -> None:
        """The new model covers everything: drop older models' vectors and files."""
        assert self.data_dir is not None
        current_id = self.runner.embedder.model_id
        await self.store.write("DELETE FROM embeddings WHERE model_id != ?", (current_id,))
        for path in self.data_dir.glob("vectors-*.usearch"):
            if path != self.vectors.path:
                path.unlink(missing_ok=True)
        model_history.forget_all_but(self.data_dir, current_id)
        self._no_previous_model = True
        if self._previous is not None:
            log.info("new model caught up; previous model's vectors removed")
            await asyncio.to_thread(self.close)

    async def _require_model(self, embedder: ModelHandle) -> None:
        if embedder is not self.runner.embedder:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self.runner.pool, embedder.load
                )
                return
            except ModelUnavailable:
                self._previous = None  # fall back to the current model below
                embedder = self.runner.embedder
        if not await self.runner.ensure_loaded(on_demand=True):
            reason = self.runner.embedder.error or "the model could not be loaded"
            raise SearchUnavailable(f"model unavailable: {reason}")

    async def query_vector(
        self, query: SearchQuery, embedder: ModelHandle | None = None
    ) -> np.ndarray:
        embedder = embedder or self.runner.embedder
        await self._require_model(embedder)
        if embedder is not self.runner.embedder and self._previous is None:
            embedder = self.runner.embedder
        loop = asyncio.get_running_loop()
        parts: list[np.ndarray] = []
        weights: list[float] = []
        if query.text.strip():
            text_vector = await loop.run_in_executor(
                self.runner.pool, embedder.embed_text, [query.text.strip()]
            )
            parts.append(text_vector[0])
            weights.append(1.0 - query.image_weight if query.image is not None else 1.0)
        if query.image is not None:
            image_vector = await loop.run_in_executor(
                self.runner.pool, embedder.embed_images, [query.image.convert("RGB")]
            )
            parts.append(image_vector[0])
            weights.append(query.image_weight if query.text.strip() else 1.0)
        if not parts:
            raise ValueError("give a text, an image, or both to search for")
        vector = sum(w * p for w, p in zip(weights, parts, strict=True))
        if query.negative.strip():
            negative = await loop.run_in_executor(
                self.runner.pool, embedder.embed_text, [query.negative.strip()]
            )
            vector = vector - query.negative_weight * negative[0]
        return _normalised(np.asarray(vector, dtype=np.float32))

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        embedder, vectors = await self._space()
        vector = await self.query_vector(query, embedder)
        if self._previous is None:
            vectors = self.vectors  # the previous model could not load: current one answers
        return await self.nearest(
            vector,
            query.album,
            query.limit + query.offset,
            query.offset,
            query.allowed_ids,
            vectors,
        )

    async def similar(
        self,
        image_id: int,
        album: str | None,
        limit: int,
        offset: int = 0,
        allowed_ids: frozenset[int] | None = None,
    ) -> list[SearchHit]:
        embedder, vectors = await self._space()
        vector = await self.store.embedding(image_id, embedder.model_id)
        if vector is None:
            if self.runner.embedder.state == ModelState.UNAVAILABLE:
                raise SearchUnavailable(f"model unavailable: {self.runner.embedder.error}")
            raise SearchUnavailable("this image has no embedding yet; it is queued for indexing")
        hits = await self.nearest(vector, album, limit + offset + 1, 0, allowed_ids, vectors)
        hits = [hit for hit in hits if hit.image_id != image_id]
        return hits[offset : offset + limit]

    async def nearest(
        self,
        vector: np.ndarray,
        album: str | None,
        k: int,
        offset: int,
        restrict: frozenset[int] | None = None,
        vectors: VectorSpace | None = None,
    ) -> list[SearchHit]:
        allowed = await self.store.ids_in_album(album) if album else None
        if restrict is not None:
            allowed = set(restrict) if allowed is None else allowed & restrict
        if allowed is not None and not allowed:
            return []
        found = await asyncio.to_thread((vectors or self.vectors).search, vector, k, allowed)
        return [SearchHit(image_id, score) for image_id, score in found[offset:]]

    def describe(self) -> dict[str, Any]:
        return {"vectors": len(self.vectors), "model_id": self.runner.embedder.model_id}


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
