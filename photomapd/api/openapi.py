"""OpenAPI 3 document built from the live router, so a route can't exist undocumented.

Each handler's docstring gives the summary (first line) and description. OPERATIONS below is the
contract of every route: its query parameters with their limits, its request body, and what it
answers: the success body and the error statuses, all in the error shape. A route missing from
the table is still listed (with a plain "OK"), and tests/core/test_api_contract.py fails on it;
the same test runs schemathesis against a live daemon to check the answers match.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import photomapd
from photomapd.api.params import MAX_ROW_ID
from photomapd.api.schemas import (
    ANY_OBJECT,
    BOOLEAN,
    COMPONENTS,
    INTEGER,
    INTEGERS,
    STRING,
    STRINGS,
    array,
    nullable,
    obj,
    ref,
)

if TYPE_CHECKING:
    from aiohttp import web

    from photomapd.api.schemas import Schema

JSON = "application/json"
ERROR_SCHEMA = ref("Error")

# Why a route answers each error status (the body is always {"error": {"code", "message"}}).
ERROR_STATUSES = {
    400: "Bad request: a parameter or the body is invalid; the message says which and why",
    401: "LAN mode: the token is missing or wrong (?token=, cookie, or Authorization: Bearer)",
    403: "Refused: a foreign Host header (DNS rebinding), a cross-origin write, "
    "or a folder photomapd may not read",
    404: "Not found: no such album, image, file or action",
    409: "Conflict: the album exists, the image could not be indexed (similar), "
    "or InvokeAI's version lacks the feature",
    413: "The request body is larger than 64 MB",
    502: "InvokeAI answered with an error or could not be reached",
    503: "Not available yet: the model is unavailable (semantic search) or the map is loading",
}
SUCCESS_STATUSES = {200: "OK", 201: "Created", 202: "Accepted (runs in the background)"}
NOT_MODIFIED = {"description": "Not modified (If-None-Match matched the ETag)"}
# Answered by the security middleware before any route runs.
EVERY_ROUTE_ERRORS = (401, 403)
BODY_ERRORS = (400, 413)


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route's contract. `ok` maps each success status to {media type: body schema}."""

    ok: dict[int, dict[str, Schema]]
    errors: tuple[int, ...] = ()
    query: tuple[Param, ...] = ()
    body: dict[str, Schema] = field(default_factory=dict)
    body_required: bool = False
    not_modified: bool = False  # answers 304 to a matching If-None-Match


def json_ok(schema: Schema, status: int = 200) -> dict[int, dict[str, Schema]]:
    return {status: {JSON: schema}}


def _int(low: int, high: int) -> Schema:
    return {"type": "integer", "minimum": low, "maximum": high}


# --- path parameters ---------------------------------------------------------------------

PATH_PARAMETERS: dict[str, tuple[Schema, str]] = {
    # SQLite row ids: positive signed 64-bit integers; a larger one is simply not found.
    "id": (_int(1, MAX_ROW_ID), "image id"),
    "key": (
        {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
        "album key (`all`: every album, where the route says so)",
    ),
    "cluster": (INTEGER, "cluster label (-1: points in no cluster)"),
    "action": (
        {"type": "string", "enum": ["recall", "reference", "gallery"]},
        "InvokeAI action",
    ),
}

# --- query parameters --------------------------------------------------------------------

FAVOURITE = Param("favourite", STRING, "1 or true: favourites only; anything else: no filter")
ALBUM = Param("album", STRING, "album key filter")
# Generation-metadata filters (filters.py); without q they are the whole search.
METADATA_FILTERS = (
    Param("prompt", STRING, 'full-text prompt search: words ANDed, "phrase", prefix*, OR'),
    Param("model", STRING, "model name (exact, case-insensitive)"),
    Param("lora", STRING, "LoRA name (exact, case-insensitive)"),
    Param("generator", STRING, "invokeai, a1111, forge, comfyui, novelai, fooocus, swarmui, ..."),
    # ComfyUI seeds go up to 2**64 - 1, beyond SQLite's signed 64-bit INTEGER.
    Param("seed", _int(-(2**63), 2**64 - 1), "exact seed"),
    Param("since", STRING, "created at or after: epoch seconds or ISO date/date-time (UTC)"),
    Param("until", STRING, "created before: epoch seconds or ISO date/date-time (UTC)"),
    Param(
        "has_reference",
        {"type": "string", "enum": ["true", "false", "1", "0"]},
        "true: only images made with reference images; false: only those without",
    ),
)
SEARCH_PARAMETERS = (
    Param("q", STRING, "text to search for"),
    Param("negative", STRING, "text to steer away from"),
    Param("negative_weight", {"type": "number", "minimum": 0, "maximum": 2}, "default 0.5"),
    ALBUM,
    Param("limit", _int(1, 500), "results (default 50)"),
    Param("offset", _int(0, 100_000), "paging offset (at most 10000 with q, 100000 without)"),
    FAVOURITE,
    *METADATA_FILTERS,
)

# --- request bodies ----------------------------------------------------------------------

STRING_OR_LIST: Schema = {"oneOf": [STRING, STRINGS], "nullable": True}
ALBUM_FIELDS: dict[str, Schema] = {
    "name": nullable(STRING),
    "folders": {**STRING_OR_LIST, "description": "absolute folder paths"},
    "exclude": {**STRING_OR_LIST, "description": "glob patterns left out"},
    "boards": {**STRING_OR_LIST, "description": "InvokeAI board ids or names (board album)"},
}
ALBUM_CREATE = {
    "type": "object",
    "description": "name or key is needed; folders or boards, not both",
    "properties": {**ALBUM_FIELDS, "key": nullable(PATH_PARAMETERS["key"][0])},
}
SETTINGS_BODY = {
    "type": "object",
    "properties": {
        "model": {
            "type": "object",
            "properties": {
                "name": STRING,
                "pretrained": STRING,
                "device": {"type": "string", "description": "auto, cpu, cuda, cuda:N or mps"},
                "idle_unload_seconds": {"type": "number", "minimum": 0},
            },
        },
        "port": _int(0, 65535),
    },
}
INVOKEAI_SETTINGS_BODY = {
    "type": "object",
    "additionalProperties": False,
    "description": 'partial: absent keys stay, "" or null clears',
    "properties": {
        name: nullable(STRING) for name in ("url", "username", "password", "board_id", "queue_id")
    },
}
ACTION_BODY = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": ["recall", "remix", "prompts", "seed"]},
        "append": BOOLEAN,
    },
}
SEARCH_FORM = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "format": "binary", "description": "at most 50 MB"},
        "image_weight": {"type": "number", "minimum": 0, "maximum": 1},
        **{param.name: param.schema for param in SEARCH_PARAMETERS if param.name != "offset"},
        "offset": _int(0, 10_000),
    },
}

# --- the table ---------------------------------------------------------------------------

IMAGE_ERRORS = (400, 404)
INVOKEAI_ERRORS = (400, 404, 409, 502)
MAP_ERRORS = (404, 503)

OPERATIONS: dict[str, Operation] = {
    "GET /api/status": Operation(json_ok(ref("Status"))),
    "GET /api/events": Operation(
        {200: {"text/event-stream": STRING}},
        query=(Param("kinds", STRING, "comma-separated event kinds to receive"),),
    ),
    "GET /api/openapi.json": Operation(json_ok(ANY_OBJECT)),
    "GET /api/settings": Operation(json_ok(ref("Settings"))),
    "PUT /api/settings": Operation(
        json_ok(ref("Settings")), BODY_ERRORS, body={JSON: SETTINGS_BODY}
    ),
    "GET /api/fs/list": Operation(
        json_ok(obj({"path": STRING, "parent": nullable(STRING), "dirs": STRINGS})),
        (400, 403, 404),
        query=(Param("path", STRING, "absolute folder (default: the home folder)"),),
    ),
    # albums
    "GET /api/albums": Operation(json_ok(obj({"albums": array(ref("Album"))}))),
    "POST /api/albums": Operation(
        json_ok(ref("Album"), 201),
        (*BODY_ERRORS, 409),
        body={JSON: ALBUM_CREATE},
        body_required=True,
    ),
    "POST /api/albums/reindex": Operation(json_ok(obj({"albums": array(ref("Reconcile"))}), 202)),
    "GET /api/albums/{key}": Operation(json_ok(ref("Album")), (404,)),
    "PATCH /api/albums/{key}": Operation(
        json_ok(ref("Album")),
        (*BODY_ERRORS, 404),
        body={JSON: {"type": "object", "properties": ALBUM_FIELDS}},
        body_required=True,
    ),
    "DELETE /api/albums/{key}": Operation(
        json_ok(obj({"deleted": STRING, "images_removed": INTEGER})), (404,)
    ),
    "POST /api/albums/{key}/reindex": Operation(json_ok(ref("Reconcile"), 202), (404,)),
    "GET /api/albums/{key}/failures": Operation(json_ok(ref("Failures")), (404,)),
    "GET /api/albums/{key}/images": Operation(
        json_ok(ref("ImagePage")),
        (400, 404),
        query=(
            Param("offset", _int(0, 10_000_000), "first row (default 0)"),
            Param("limit", _int(1, 1000), "rows per page (default 100)"),
            Param("order", {"type": "string", "enum": ["newest", "oldest"]}, "default newest"),
            FAVOURITE,
        ),
    ),
    "GET /api/albums/{key}/facets": Operation(
        json_ok(ref("Facets")),
        (400, 404),
        query=(
            *METADATA_FILTERS,
            FAVOURITE,
            Param("top", _int(1, 1000), "values per facet (default 100)"),
        ),
    ),
    # the semantic map
    "GET /api/albums/{key}/map": Operation(json_ok(ref("Map")), MAP_ERRORS, not_modified=True),
    "GET /api/albums/{key}/map/clusters": Operation(json_ok(ref("Clusters")), MAP_ERRORS),
    "GET /api/albums/{key}/map/clusters/{cluster}": Operation(
        json_ok(obj({"album": STRING, "cluster": INTEGER, "ids": INTEGERS})), (400, *MAP_ERRORS)
    ),
    "PUT /api/albums/{key}/map/strength": Operation(
        json_ok(ref("Clusters")),
        (*BODY_ERRORS, *MAP_ERRORS),
        body={
            JSON: {
                "type": "object",
                "required": ["strength"],
                "properties": {"strength": {"type": "number", "minimum": 0, "maximum": 1}},
            }
        },
        body_required=True,
    ),
    "POST /api/albums/{key}/map/refit": Operation(
        json_ok(
            obj({"album": STRING, "refit": {"type": "string", "enum": ["started", "running"]}}),
            202,
        ),
        MAP_ERRORS,
    ),
    # images
    "GET /api/images/{id}": Operation(json_ok(ref("Image")), IMAGE_ERRORS),
    "GET /api/images/{id}/file": Operation(
        {200: {"image/*": {"type": "string", "format": "binary"}}},
        IMAGE_ERRORS,
        not_modified=True,
    ),
    "GET /api/images/{id}/thumbnail": Operation(
        # WebP, or an SVG placeholder while the image is pending or when it failed to index
        {200: {"image/*": {"type": "string", "format": "binary"}}},
        IMAGE_ERRORS,
        not_modified=True,
    ),
    "PUT /api/images/{id}/favourite": Operation(json_ok(ref("Image")), IMAGE_ERRORS),
    "DELETE /api/images/{id}/favourite": Operation(json_ok(ref("Image")), IMAGE_ERRORS),
    "GET /api/images/{id}/similar": Operation(
        json_ok(obj({"results": array(ref("ScoredImage"))})),
        (*IMAGE_ERRORS, 409, 503),
        query=(
            Param("limit", _int(1, 500), "results (default 50)"),
            Param("offset", _int(0, 100_000), "paging offset"),
            ALBUM,
            FAVOURITE,
        ),
    ),
    "GET /api/images/{id}/metadata": Operation(json_ok(ref("ImageMetadata")), IMAGE_ERRORS),
    "GET /api/images/{id}/workflow": Operation(json_ok(ANY_OBJECT), IMAGE_ERRORS),
    "GET /api/images/{id}/exif": Operation(
        json_ok(obj({"id": INTEGER, "exif": {"type": "object", "additionalProperties": STRING}})),
        IMAGE_ERRORS,
    ),
    "POST /api/images/zip": Operation(
        {200: {"application/zip": {"type": "string", "format": "binary"}}},
        (*BODY_ERRORS, 404),
        body={
            JSON: {
                "type": "object",
                "required": ["ids"],
                "properties": {
                    "ids": {
                        "type": "array",
                        "items": _int(0, MAX_ROW_ID),
                        "minItems": 1,
                        "maxItems": 5000,
                    }
                },
            }
        },
        body_required=True,
    ),
    "GET /api/image-lookup": Operation(
        json_ok(ref("Image")),
        IMAGE_ERRORS,
        query=(Param("name", {"type": "string", "minLength": 1}, "bare file name", True),),
    ),
    # search
    "GET /api/search": Operation(
        json_ok(ref("SearchResults")), (400, 404, 503), query=SEARCH_PARAMETERS
    ),
    "POST /api/search": Operation(
        json_ok(ref("SearchResults")),
        (*BODY_ERRORS, 404, 503),
        body={"multipart/form-data": SEARCH_FORM, "application/x-www-form-urlencoded": SEARCH_FORM},
        body_required=True,
    ),
    "GET /api/search/matching": Operation(
        json_ok(obj({"ids": INTEGERS})),
        (400, 404),
        query=(
            Param(
                "ids",
                {"type": "string", "pattern": r"^([0-9]+(,[0-9]+)*)?$"},
                "comma-separated image ids (at most 1000)",
            ),
            ALBUM,
            FAVOURITE,
            *METADATA_FILTERS,
        ),
    ),
    # InvokeAI
    "GET /api/invokeai/settings": Operation(json_ok(ref("InvokeAISettings"))),
    "PUT /api/invokeai/settings": Operation(
        json_ok({"allOf": [ref("InvokeAISettings"), obj({"status": ref("InvokeAIStatus")})]}),
        BODY_ERRORS,
        body={JSON: INVOKEAI_SETTINGS_BODY},
    ),
    "GET /api/invokeai/status": Operation(json_ok(ref("InvokeAIStatus"))),
    "GET /api/invokeai/boards": Operation(json_ok(ref("InvokeAIBoards")), INVOKEAI_ERRORS),
    "GET /api/invokeai/local/boards": Operation(json_ok(ref("LocalBoards")), (400,)),
    "GET /api/images/{id}/invokeai": Operation(json_ok(ref("ImageActions")), INVOKEAI_ERRORS),
    "POST /api/images/{id}/invokeai/{action}": Operation(
        json_ok(ref("ActionResult")), (*INVOKEAI_ERRORS, 413), body={JSON: ACTION_BODY}
    ),
}


def _parameter(param: Param, where: str = "query") -> dict[str, Any]:
    return {
        "name": param.name,
        "in": where,
        "required": param.required or where == "path",
        "schema": param.schema,
        "description": param.description,
    }


def _responses(contract: Operation | None) -> dict[str, Any]:
    if contract is None:  # tests/core/test_api_contract.py fails on this
        return {"200": {"description": "OK"}}
    responses: dict[str, Any] = {
        str(status): {
            "description": SUCCESS_STATUSES[status],
            "content": {media: {"schema": schema} for media, schema in content.items()},
        }
        for status, content in contract.ok.items()
    }
    if contract.not_modified:
        responses["304"] = NOT_MODIFIED
    for status in sorted({*contract.errors, *EVERY_ROUTE_ERRORS}):
        responses[str(status)] = {
            "description": ERROR_STATUSES[status],
            "content": {JSON: {"schema": ERROR_SCHEMA}},
        }
    return responses


def _operation(method: str, path: str, handler: Any) -> dict[str, Any]:
    doc = inspect.getdoc(handler) or handler.__name__.replace("_", " ")
    summary, _, description = doc.partition("\n")
    contract = OPERATIONS.get(f"{method} {path}")
    operation: dict[str, Any] = {
        "summary": summary.strip(),
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "responses": _responses(contract),
    }
    if description.strip():
        operation["description"] = description.strip()
    parameters = []
    for name in re.findall(r"{(\w+)}", path):
        schema, text = PATH_PARAMETERS.get(name, (STRING, name))
        parameters.append(_parameter(Param(name, schema, text), "path"))
    if contract is not None:
        parameters += [_parameter(param) for param in contract.query]
        if contract.body:
            operation["requestBody"] = {
                "required": contract.body_required,
                "content": {media: {"schema": schema} for media, schema in contract.body.items()},
            }
    if parameters:
        operation["parameters"] = parameters
    return operation


def build_openapi(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/api/"):
            continue
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            route.method, path, route.handler
        )
    return {
        "openapi": "3.0.3",
        "info": {"title": "photomapd", "version": photomapd.__version__},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": COMPONENTS},
    }
