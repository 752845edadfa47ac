"""Generation metadata over HTTP: per-image metadata, album facets, and the metadata filters
that `GET /api/search` accepts (prompt=, model=, lora=, generator=, seed=, since=, until=,
has_reference=). Also re-parses rows written by an older parser, in the background.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import BadRequest, NotFound
from photomapd.api.params import image_id_param, int_param
from photomapd.image_json import image_json
from photomapd.store.metadata_index import MetadataFilter, MetadataIndex

log = logging.getLogger(__name__)

FILTER_PARAMS = ("prompt", "model", "lora", "generator", "seed", "since", "until", "has_reference")
TRUE_WORDS = ("1", "true")


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value[:1000] or None


def _time(params: Mapping[str, str], name: str) -> float | None:
    """Epoch seconds, or an ISO date / date-time (UTC when no zone is given)."""
    raw = _text(params, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadRequest(
            "invalid_parameter",
            f"{name} must be epoch seconds or an ISO date like 2026-11-25, got {raw!r}",
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def metadata_filter(params: Mapping[str, str]) -> MetadataFilter:
    """The metadata filters in query or form fields; BadRequest says which value is wrong."""
    seed_text = _text(params, "seed")
    try:
        seed: int | float | None = int(seed_text) if seed_text is not None else None
    except ValueError as error:
        raise BadRequest(
            "invalid_parameter", f"seed must be an integer, got {seed_text!r}"
        ) from error
    if seed is not None and not -(2**63) <= seed < 2**64:
        raise BadRequest(
            "invalid_parameter", f"seed must be between {-(2**63)} and {2**64 - 1}, got {seed}"
        )
    if seed is not None and seed >= 2**63:
        # ComfyUI seeds go up to 2**64 - 1; SQLite keeps those beyond its signed 64-bit INTEGER
        # as REAL (json_extract does so), so they match as a float.
        seed = float(seed)
    reference_text = _text(params, "has_reference")
    has_reference = None
    if reference_text is not None:
        if reference_text.lower() not in ("true", "false", "1", "0"):
            raise BadRequest("invalid_parameter", "has_reference must be true or false")
        has_reference = reference_text.lower() in ("true", "1")
    return MetadataFilter(
        prompt=_text(params, "prompt") or "",
        model=_text(params, "model"),
        lora=_text(params, "lora"),
        generator=_text(params, "generator"),
        seed=seed,
        since=_time(params, "since"),
        until=_time(params, "until"),
        has_reference=has_reference,
        favourite=_favourite(params),
    )


def _favourite(params: Mapping[str, str]) -> bool:
    return params.get("favourite", "").strip().lower() in TRUE_WORDS


def has_metadata_filter(params: Mapping[str, str]) -> bool:
    """Any metadata filter set, favourite=1 included (favourite=0 means no filter)."""
    return _favourite(params) or any(params.get(name, "").strip() for name in FILTER_PARAMS)


def index(request: web.Request) -> MetadataIndex:
    return MetadataIndex(request.app[keys.STORE])


async def metadata_search(request: web.Request, filters: MetadataFilter) -> web.Response:
    """`GET /api/search` without q: prompt full-text and filters only, no model needed."""
    album = request.query.get("album") or None
    if album and request.app[keys.CONFIG].album(album) is None:
        raise NotFound("album_not_found", f"no album with key {album!r}")
    limit = int_param(request, "limit", 50, 1, 500)
    offset = int_param(request, "offset", 0, 0, 100_000)
    ids, total = await index(request).search(filters, album, limit, offset)
    rows = await request.app[keys.STORE].get_images(ids)
    results = [{"image": image_json(rows[i]), "score": None} for i in ids if i in rows]
    return web.json_response({"results": results, "total": total, "offset": offset, "limit": limit})


async def allowed_ids(
    request: web.Request, params: Mapping[str, str], album: str | None
) -> frozenset[int] | None:
    """Ids a semantic search may return under these metadata filters (None: no filter)."""
    if not has_metadata_filter(params):
        return None
    return frozenset(await index(request).matching_ids(metadata_filter(params), album))


async def get_facets(request: web.Request) -> web.Response:
    """Counts per generator, model and LoRA (+ reference images) for an album, under the
    same filters as search, so a UI can show what narrowing further would leave."""
    key = request.match_info["key"]
    if request.app[keys.CONFIG].album(key) is None:
        raise NotFound("album_not_found", f"no album with key {key!r}")
    top = int_param(request, "top", 100, 1, 1000)
    facets = await index(request).facets(key, metadata_filter(request.query), top)
    return web.json_response(facets)


async def get_image_metadata(request: web.Request) -> web.Response:
    """The normalized record and every raw chunk of one image (the "full metadata" view)."""
    image_id = image_id_param(request)
    row = await index(request).image_metadata(image_id)
    if row is None:
        raise NotFound("image_not_found", f"no image with id {image_id}")
    summary = _loads(row["metadata_json"])
    stored_raw = _loads(row["raw_metadata_json"])
    raw: Any = stored_raw
    warnings: list[Any] = []
    if isinstance(stored_raw, dict) and "chunks" in stored_raw:
        raw, warnings = stored_raw.get("chunks"), stored_raw.get("warnings") or []
    return web.json_response(
        {
            "id": image_id,
            "summary": summary,
            "raw": raw or {},
            "warnings": warnings,
            "parser_version": row["parser_version"],
        }
    )


def embedded_workflow(chunks: dict[str, Any]) -> dict[str, Any] | None:
    """InvokeAI `invokeai_workflow`, ComfyUI `workflow`, or ComfyUI's EXIF variants."""
    for key in ("invokeai_workflow", "workflow"):
        if isinstance(chunks.get(key), dict):
            return chunks[key]
    bundle = chunks.get("EXIF:UserComment")
    if isinstance(bundle, dict) and isinstance(bundle.get("workflow"), dict):
        return bundle["workflow"]
    for value in chunks.values():
        if isinstance(value, str) and value[:9].lower() == "workflow:":
            workflow = _loads(value[9:])
            if isinstance(workflow, dict):
                return workflow
    return None


async def get_image_workflow(request: web.Request) -> web.Response:
    """The workflow embedded in an image (InvokeAI or ComfyUI), as a JSON download.

    This is the file InvokeAI's or ComfyUI's "load workflow" accepts; 404 when the image
    carries none.
    """
    image_id = image_id_param(request)
    row = await index(request).image_metadata(image_id)
    if row is None:
        raise NotFound("image_not_found", f"no image with id {image_id}")
    stored = _loads(row["raw_metadata_json"])
    chunks = stored.get("chunks", stored) if isinstance(stored, dict) else {}
    workflow = embedded_workflow(chunks if isinstance(chunks, dict) else {})
    if workflow is None:
        raise NotFound(
            "no_workflow",
            f"image {image_id} has no embedded workflow (only images made from a workflow, "
            "or by ComfyUI, carry one)",
        )
    name = PurePath(str((await request.app[keys.STORE].get_image(image_id) or {}).get("path")))
    response = web.json_response(workflow)
    response.headers["Content-Disposition"] = f'attachment; filename="{name.stem}.workflow.json"'
    return response


def _loads(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def setup(app: web.Application) -> None:
    app.router.add_get("/api/albums/{key}/facets", get_facets)
    app.router.add_get("/api/images/{id}/metadata", get_image_metadata)
    app.router.add_get("/api/images/{id}/workflow", get_image_workflow)
