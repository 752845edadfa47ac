"""OpenAPI 3 document built from the live router, so a route can't exist undocumented.

Each handler's docstring gives the summary (first line) and description; query parameters are
declared next to the routes in QUERY_PARAMETERS.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

import photomapd

if TYPE_CHECKING:
    from aiohttp import web

# Generation-metadata filters (filters.py); without q they are the whole search.
METADATA_FILTERS: list[tuple[str, str, str]] = [
    ("prompt", "string", 'full-text prompt search: words ANDed, "phrase", prefix*, OR'),
    ("model", "string", "model name (exact, case-insensitive)"),
    ("lora", "string", "LoRA name (exact, case-insensitive)"),
    ("generator", "string", "invokeai, a1111, forge, comfyui, novelai, fooocus, swarmui, ..."),
    ("seed", "integer", "exact seed"),
    ("since", "string", "created at or after: epoch seconds or ISO date/date-time (UTC)"),
    ("until", "string", "created before: epoch seconds or ISO date/date-time (UTC)"),
    ("has_reference", "boolean", "true: only images made with reference images"),
]

QUERY_PARAMETERS: dict[str, list[tuple[str, str, str]]] = {
    "GET /api/albums/{key}/images": [
        ("offset", "integer", "first row (default 0)"),
        ("limit", "integer", "rows per page (default 100, max 1000)"),
        ("order", "string", "newest (default) or oldest"),
        ("favourite", "integer", "1: favourites only"),
    ],
    "GET /api/search": [
        ("q", "string", "text to search for"),
        ("negative", "string", "text to steer away from"),
        ("negative_weight", "number", "0..2, default 0.5"),
        ("album", "string", "album key filter"),
        ("limit", "integer", "results (default 50)"),
        ("offset", "integer", "paging offset"),
        ("favourite", "integer", "1: favourites only"),
        *METADATA_FILTERS,
    ],
    "GET /api/search/matching": [
        ("ids", "string", "comma-separated image ids (at most 1000)"),
        ("album", "string", "album key filter"),
        ("favourite", "integer", "1: favourites only"),
        *METADATA_FILTERS,
    ],
    "GET /api/albums/{key}/facets": [
        *METADATA_FILTERS,
        ("top", "integer", "values per facet (default 100)"),
    ],
    "GET /api/images/{id}/similar": [
        ("limit", "integer", "results (default 50)"),
        ("album", "string", "album key filter"),
        ("favourite", "integer", "1: favourites only"),
    ],
    "GET /api/events": [("kinds", "string", "comma-separated event kinds to receive")],
}


def build_openapi(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/api/"):
            continue
        handler = route.handler
        doc = inspect.getdoc(handler) or handler.__name__.replace("_", " ")
        summary, _, description = doc.partition("\n")
        operation: dict[str, Any] = {
            "summary": summary.strip(),
            "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": 'Error: {"error": {"code", "message"}}'},
            },
        }
        if description.strip():
            operation["description"] = description.strip()
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        for name, kind, text in QUERY_PARAMETERS.get(f"{route.method} {path}", []):
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": {"type": kind},
                    "description": text,
                }
            )
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "photomapd", "version": photomapd.__version__},
        "paths": dict(sorted(paths.items())),
    }
