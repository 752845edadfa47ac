"""InvokeAI routes: settings, status, boards, and the drawer actions for one image.

Only the daemon talks to InvokeAI; the browser only talks to these routes, so photomapd and
InvokeAI may run on different machines.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from photomapd.albums.service import NO_INVOKEAI_ROOT
from photomapd.api import keys
from photomapd.api.errors import BadRequest, NotFound
from photomapd.api.keys import BRIDGE
from photomapd.api.params import image_id_param
from photomapd.image_json import image_json

log = logging.getLogger(__name__)

ACTIONS = ("recall", "reference", "gallery")


async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest("invalid_json", f"request body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", "request body must be a JSON object")
    return body


async def get_settings(request: web.Request) -> web.Response:
    """URL, username, board; the password is write-only (`has_password`)."""
    return web.json_response(await request.app[BRIDGE].settings_json())


async def put_settings(request: web.Request) -> web.Response:
    """Save settings (partial). Returns them plus a fresh probe of the URL under `status`."""
    bridge = request.app[BRIDGE]
    settings = await bridge.update_settings(await _json_body(request))
    status = await bridge.status()
    return web.json_response({**settings, "status": status})


async def get_status(request: web.Request) -> web.Response:
    """reachable / version / multiuser / capabilities / detail (never an error status)."""
    return web.json_response(await request.app[BRIDGE].status())


async def get_boards(request: web.Request) -> web.Response:
    """Boards for the upload dropdown, Uncategorized (board_id null) first."""
    boards = await request.app[BRIDGE].boards()
    return web.json_response({"boards": [board.to_dict() for board in boards]})


async def get_local_boards(request: web.Request) -> web.Response:
    """Boards from InvokeAI's own database (for board albums; Uncategorized, board id "none",
    is not listed), archived ones too (flagged: InvokeAI hides them, a board album may still
    want them), with the folder their files come from. Needs an InvokeAI root; the error codes
    are those of creating a board album."""
    local = request.app[keys.ALBUMS].local_index()
    if local is None:
        raise BadRequest("invokeai_root_not_set", NO_INVOKEAI_ROOT)
    boards = await asyncio.to_thread(local.database.boards, include_archived=True)
    return web.json_response(
        {
            "boards": [vars(board) for board in boards],
            "root": str(local.database.root),
            "images_dir": str(local.images_dir),
        }
    )


async def _image(request: web.Request) -> tuple[Path, Any]:
    image_id = image_id_param(request)
    row = await request.app[keys.STORE].get_image(image_id)
    if row is None or row["status"] == "missing":
        raise NotFound("image_not_found", f"no image with id {image_id}")
    return Path(row["path"]), image_json(row)["metadata_summary"]


async def get_image_actions(request: web.Request) -> web.Response:
    """Which InvokeAI buttons to show for this image."""
    path, summary = await _image(request)
    available = await request.app[BRIDGE].available_actions(path, summary)
    return web.json_response(available)


async def post_image_action(request: web.Request) -> web.Response:
    """recall {"mode"}, reference {"append"}, gallery: says what was sent and what InvokeAI said."""
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise NotFound("unknown_action", f"unknown InvokeAI action {action!r}")
    path, summary = await _image(request)
    body = await _json_body(request)
    result = await request.app[BRIDGE].run(action, path, summary, body)
    return web.json_response(result.to_dict())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/invokeai/settings", get_settings)
    app.router.add_put("/api/invokeai/settings", put_settings)
    app.router.add_get("/api/invokeai/status", get_status)
    app.router.add_get("/api/invokeai/boards", get_boards)
    app.router.add_get("/api/invokeai/local/boards", get_local_boards)
    app.router.add_get("/api/images/{id}/invokeai", get_image_actions)
    app.router.add_post("/api/images/{id}/invokeai/{action}", post_image_action)
