"""Search results as JSON: each hit's image (as GET /api/images/{id} gives it) and its score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.api import keys
from photomapd.image_json import image_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiohttp import web

    from photomapd.search.searcher import SearchHit


async def scored_json(
    request: web.Request, scored: Sequence[tuple[int, float | None]]
) -> list[dict[str, Any]]:
    """{image, score} per (image id, score), in order; ids no longer stored are left out."""
    rows = await request.app[keys.STORE].get_images([image_id for image_id, _ in scored])
    return [
        {"image": image_json(rows[image_id]), "score": None if score is None else round(score, 4)}
        for image_id, score in scored
        if image_id in rows
    ]


async def hits_json(request: web.Request, hits: list[SearchHit]) -> list[dict[str, Any]]:
    return await scored_json(request, [(hit.image_id, hit.score) for hit in hits])


async def unscored_json(request: web.Request, image_ids: list[int]) -> list[dict[str, Any]]:
    """Results of a metadata-only search: no model judged them, so the score is null."""
    return await scored_json(request, [(image_id, None) for image_id in image_ids])
