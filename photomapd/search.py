"""Semantic search: text (with negative text), similar to an image, by an uploaded image, combined."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from photomapd.embedder import ModelState
from photomapd.pipeline import Pipeline
from photomapd.store import Store
from photomapd.vector_space import VectorSpace

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


@dataclass(frozen=True)
class SearchHit:
    image_id: int
    score: float


class Searcher:
    def __init__(self, store: Store, pipeline: Pipeline, vectors: VectorSpace) -> None:
        self.store = store
        self.pipeline = pipeline
        self.vectors = vectors

    async def _require_model(self) -> None:
        if not await self.pipeline.ensure_model(on_demand=True):
            reason = self.pipeline.embedder.error or "the model could not be loaded"
            raise SearchUnavailable(f"model unavailable: {reason}")

    async def query_vector(self, query: SearchQuery) -> np.ndarray:
        await self._require_model()
        embedder = self.pipeline.embedder
        loop = asyncio.get_running_loop()
        parts: list[np.ndarray] = []
        weights: list[float] = []
        if query.text.strip():
            text_vector = await loop.run_in_executor(
                self.pipeline.model_pool, embedder.embed_text, [query.text.strip()]
            )
            parts.append(text_vector[0])
            weights.append(1.0 - query.image_weight if query.image is not None else 1.0)
        if query.image is not None:
            image_vector = await loop.run_in_executor(
                self.pipeline.model_pool, embedder.embed_images, [query.image.convert("RGB")]
            )
            parts.append(image_vector[0])
            weights.append(query.image_weight if query.text.strip() else 1.0)
        if not parts:
            raise ValueError("give a text, an image, or both to search for")
        vector = sum(w * p for w, p in zip(weights, parts, strict=True))
        if query.negative.strip():
            negative = await loop.run_in_executor(
                self.pipeline.model_pool, embedder.embed_text, [query.negative.strip()]
            )
            vector = vector - query.negative_weight * negative[0]
        return _normalised(np.asarray(vector, dtype=np.float32))

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        vector = await self.query_vector(query)
        return await self.nearest(vector, query.album, query.limit + query.offset, query.offset)

    async def similar(
        self, image_id: int, album: str | None, limit: int, offset: int = 0
    ) -> list[SearchHit]:
        vector = await self.store.embedding(image_id, self.pipeline.embedder.model_id)
        if vector is None:
            if self.pipeline.embedder.state == ModelState.UNAVAILABLE:
                raise SearchUnavailable(f"model unavailable: {self.pipeline.embedder.error}")
            raise SearchUnavailable("this image has no embedding yet; it is queued for indexing")
        hits = await self.nearest(vector, album, limit + offset + 1, 0)
        hits = [hit for hit in hits if hit.image_id != image_id]
        return hits[offset : offset + limit]

    async def nearest(
        self, vector: np.ndarray, album: str | None, k: int, offset: int
    ) -> list[SearchHit]:
        allowed = await self.store.ids_in_album(album) if album else None
        found = await asyncio.to_thread(self.vectors.search, vector, k, allowed)
        return [SearchHit(image_id, score) for image_id, score in found[offset:]]

    def describe(self) -> dict[str, Any]:
        return {"vectors": len(self.vectors), "model_id": self.pipeline.embedder.model_id}


def _normalised(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
