"""Generation metadata over HTTP: per-image metadata and embedded workflow, and album facets
under the search filters (filters.py). Also re-parses rows written by an older parser, in the
background.
"""

from __future__ import annotations

import json
import logging
from pathlib import PurePath
from typing import Any

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import NotFound
from photomapd.api.filters import metadata_filter, metadata_index
from photomapd.api.params import image_id_param, int_param
from photomapd.file_paths import shown

log = logging.getLogger(__name__)



async def get_facets(request: web.Request) -> web.Response:
    """Counts per generator, model and LoRA (+ reference images) for an album, under the
    same filters as search, so a UI can show what narrowing further would leave."""
    key = request.match_info["key"]
    if request.app[keys.CONFIG].album(key) is None:
        raise NotFound("album_not_found", f"no album with key {key!r}")
    top = int_param(request, "top", 100, 1, 1000)
    facets = await metadata_index(request).facets(key, metadata_filter(request.query), top)
    return web.json_response(facets)


async def get_image_metadata(request: web.Request) -> web.Response:
    """The normalized record and every raw chunk of one image (the "full metadata" view)."""
    image_id = image_id_param(request)
    row = await metadata_index(request).image_metadata(image_id)
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
    row = await metadata_index(request).image_metadata(image_id)
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
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{shown(name.stem)}.workflow.json"'
    )
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
