"""The JSON shapes the API answers, as OpenAPI 3.0 schemas (`components/schemas` of
/api/openapi.json); openapi.py says which operation answers which.

Objects list the fields every answer has (`required`) and leave room for more, so adding a field
is not a breaking change; a field that can be null says so (`nullable`).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}
STRINGS: Schema = {"type": "array", "items": STRING}
INTEGERS: Schema = {"type": "array", "items": INTEGER}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object that always has the `required` fields and may have the `optional` ones."""
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


ERROR = obj({"error": obj({"code": STRING, "message": STRING})})

IMAGE = obj(
    {
        "id": INTEGER,
        "album": STRING,
        "path": STRING,
        "name": STRING,
        "folder": STRING,
        "width": nullable(INTEGER),
        "height": nullable(INTEGER),
        "size": nullable(INTEGER),
        "mtime": nullable(NUMBER),
        "created_at": nullable(NUMBER),
        "status": {"type": "string", "enum": ["pending", "ok", "error", "missing"]},
        "error": nullable(STRING),
        "favourite": BOOLEAN,
        "embedded": BOOLEAN,
        "thumbnail_url": STRING,
        "file_url": STRING,
        "metadata_summary": nullable(ANY_OBJECT),
        "board": nullable(STRING),
    }
)

RECONCILE = obj(
    {"album": STRING},
    {
        "state": STRING,  # "already running": the other fields are those of the running one
        "queued": INTEGER,
        "removed": INTEGER,
        "unchanged": INTEGER,
        "missing_folders": STRINGS,
        "warnings": STRINGS,
        "seconds": NUMBER,
        "finished_at": NUMBER,
    },
)

ALBUM = obj(
    {
        "key": STRING,
        "name": STRING,
        "folders": array(obj({"path": STRING, "exists": BOOLEAN})),
        "exclude": STRINGS,
        "boards": array(obj({"id": STRING, "name": nullable(STRING)})),
        "count": INTEGER,
        "failed": INTEGER,
        "pending": INTEGER,
        "state": STRING,
        "problem": nullable(STRING),
        "last_reconcile": nullable(ref("Reconcile")),
    }
)

PROGRESS = obj(
    {
        "paused": BOOLEAN,
        "queued": INTEGER,
        "done": INTEGER,
        "failed": INTEGER,
        "rate": NUMBER,
        "eta_seconds": nullable(NUMBER),
        "problem": nullable(STRING),
    }
)

STATUS = obj(
    {
        "version": STRING,
        "url": STRING,
        "uptime_seconds": NUMBER,
        "albums": array(ref("Album")),
        "total_images": INTEGER,
        "indexing": PROGRESS,
        "model": obj(
            {
                "name": STRING,
                "pretrained": STRING,
                "device": nullable(STRING),
                "state": STRING,
                "error": nullable(STRING),
            }
        ),
        "vectors": ANY_OBJECT,
        "watcher": obj({"mode": STRING}),
        "clients": INTEGER,
    }
)

SCORED = obj({"image": ref("Image"), "score": nullable(NUMBER)})
SEARCH_RESULTS = obj(
    {"results": array(ref("ScoredImage")), "total": INTEGER, "offset": INTEGER, "limit": INTEGER}
)
IMAGE_PAGE = obj(
    {"items": array(ref("Image")), "total": INTEGER, "offset": INTEGER, "limit": INTEGER}
)

FAILURES = obj({"items": array(obj({"path": STRING}, {"id": INTEGER, "error": nullable(STRING)}))})

COUNTS = array(obj({"value": STRING, "count": INTEGER}, {"label": STRING}))
FACETS = obj(
    {
        "album": STRING,
        "total": INTEGER,
        "generators": COUNTS,
        "models": COUNTS,
        "loras": COUNTS,
        "has_reference": INTEGER,
        "without_metadata": INTEGER,
        "created": obj({"first": nullable(NUMBER), "last": nullable(NUMBER)}),
    }
)

IMAGE_METADATA = obj(
    {
        "id": INTEGER,
        "summary": nullable(ANY_OBJECT),
        "raw": {},  # the chunks as the file holds them: usually an object
        "warnings": array({}),
        "parser_version": nullable(INTEGER),
    }
)

CLUSTER = obj(
    {
        "cluster": INTEGER,
        "label": STRING,
        "words": STRINGS,
        "representative_id": nullable(INTEGER),
        "size": INTEGER,
        "centroid": {"type": "array", "items": NUMBER, "minItems": 2, "maxItems": 2},
    }
)
CLUSTERS = obj(
    {"album": STRING, "version": INTEGER, "strength": NUMBER, "clusters": array(CLUSTER)}
)
MAP = obj(
    {
        "format": STRING,
        "album": STRING,
        "version": INTEGER,
        "count": INTEGER,
        "status": {"type": "string", "enum": ["ready", "fitting", "empty"]},
        "ids": STRING,
        "x": STRING,
        "y": STRING,
        "cluster": STRING,
    },
    {"extent": array(NUMBER), "scale": INTEGER, "encoding": ANY_OBJECT},
)

CAPABILITIES = obj(
    {
        "recall": BOOLEAN,
        "strict": BOOLEAN,
        "append": BOOLEAN,
        "reference_images": BOOLEAN,
        "source": STRING,
    }
)
INVOKEAI_SETTINGS = obj(
    {
        "url": nullable(STRING),
        "username": nullable(STRING),
        "board_id": nullable(STRING),
        "has_password": BOOLEAN,
        "password_storage": STRING,
        "password_warning": nullable(STRING),
    }
)
INVOKEAI_STATUS = obj(
    {
        "configured": BOOLEAN,
        "url": nullable(STRING),
        "reachable": BOOLEAN,
        "version": nullable(STRING),
        "multiuser": nullable(BOOLEAN),
        "capabilities": ref("InvokeAICapabilities"),
        "detail": nullable(STRING),
        "authenticated": nullable(BOOLEAN),
    }
)
INVOKEAI_BOARDS = obj(
    {
        "boards": array(
            obj(
                {"board_id": nullable(STRING), "board_name": STRING},
                {"image_count": nullable(INTEGER), "asset_count": nullable(INTEGER)},
            )
        )
    }
)
LOCAL_BOARDS = obj(
    {
        "boards": array(
            obj(
                {
                    "board_id": STRING,
                    "board_name": STRING,
                    "archived": BOOLEAN,
                    "image_count": INTEGER,
                }
            )
        ),
        "root": STRING,
        "images_dir": STRING,
    }
)
IMAGE_ACTIONS = obj(
    {
        "reference": BOOLEAN,
        "reference_append": BOOLEAN,
        "recall": BOOLEAN,
        "remix": BOOLEAN,
        "prompts": BOOLEAN,
        "seed": BOOLEAN,
        "gallery": BOOLEAN,
        "capabilities": ref("InvokeAICapabilities"),
    }
)
ACTION_RESULT = obj(
    {
        "action": STRING,
        "message": STRING,
        "sent": nullable(ANY_OBJECT),
        "query": nullable(ANY_OBJECT),
        "updated_count": nullable(INTEGER),
        "accepted": nullable(ANY_OBJECT),
        "unresolved_models": STRINGS,
        "uploaded": array(ANY_OBJECT),
        "reused": STRINGS,
        "warnings": STRINGS,
    }
)

SETTINGS = obj(
    {
        "model": obj(
            {
                "name": STRING,
                "pretrained": STRING,
                "device": STRING,
                "idle_unload_seconds": NUMBER,
            }
        ),
        "host": STRING,
        "port": INTEGER,
    },
    {"changed": STRINGS, "restart_needed": BOOLEAN},
)

COMPONENTS: dict[str, Schema] = {
    "Error": ERROR,
    "Image": IMAGE,
    "Album": ALBUM,
    "Reconcile": RECONCILE,
    "Status": STATUS,
    "ImagePage": IMAGE_PAGE,
    "ScoredImage": SCORED,
    "SearchResults": SEARCH_RESULTS,
    "Failures": FAILURES,
    "Facets": FACETS,
    "ImageMetadata": IMAGE_METADATA,
    "Map": MAP,
    "Clusters": CLUSTERS,
    "InvokeAICapabilities": CAPABILITIES,
    "InvokeAISettings": INVOKEAI_SETTINGS,
    "InvokeAIStatus": INVOKEAI_STATUS,
    "InvokeAIBoards": INVOKEAI_BOARDS,
    "LocalBoards": LOCAL_BOARDS,
    "ImageActions": IMAGE_ACTIONS,
    "ActionResult": ACTION_RESULT,
    "Settings": SETTINGS,
}
