"""Albums: list, create, read, update, delete, reindex ("Update Index"), failures, images."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import BadRequest, NotFound
from photomapd.api.params import int_param, json_body
from photomapd.file_paths import shown
from photomapd.image_json import image_json


def _string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest("invalid_parameter", f"{name} must be a list of strings")
    return value


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise BadRequest("invalid_parameter", f"{name} must be true or false")


async def list_albums(request: web.Request) -> web.Response:
    """List albums with counts, folder states and the last reconcile."""
    service = request.app[keys.ALBUMS]
    return web.json_response({"albums": [await service.describe(a) for a in service.all_albums()]})


async def create_album(request: web.Request) -> web.Response:
    """Create an album from {name, folders | boards, key?, exclude?, follow_symlinks?};
    indexing starts at once.

    With `boards` (InvokeAI board ids or names, "Uncategorized" for none) the album holds those
    boards' images from InvokeAI's outputs folder. `follow_symlinks` (default false) indexes
    symlinks that lead outside every album folder too."""
    body = await json_body(request)
    folders = _string_list(body, "folders") or []
    if body.get("name") is not None and not isinstance(body["name"], str):
        raise BadRequest("missing_name", "name must be a text")
    name = (body.get("name") or "").strip()
    if body.get("key") is not None and not isinstance(body["key"], str):
        raise BadRequest("invalid_album_key", 'key must be a text like "holiday-2024"')
    if not name and not body.get("key"):
        raise BadRequest("missing_name", "give the album a name")
    service = request.app[keys.ALBUMS]
    album = await service.create(
        name or str(body["key"]),
        folders,
        body.get("key"),
        _string_list(body, "exclude"),
        _string_list(body, "boards"),
        bool(_flag(body, "follow_symlinks")),
    )
    return web.json_response(await service.describe(album), status=201)


async def get_album(request: web.Request) -> web.Response:
    """One album with counts, folder states and the last reconcile."""
    service = request.app[keys.ALBUMS]
    album = service.get(request.match_info["key"])
    return web.json_response(await service.describe(album))


async def patch_album(request: web.Request) -> web.Response:
    """Change an album's name, folders, boards, exclude globs or follow_symlinks."""
    body = await json_body(request)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise BadRequest("missing_name", "name must be a non-empty text")
    service = request.app[keys.ALBUMS]
    album = await service.update(
        request.match_info["key"],
        name.strip() if name is not None else None,
        _string_list(body, "folders"),
        _string_list(body, "exclude"),
        _string_list(body, "boards"),
        _flag(body, "follow_symlinks"),
    )
    return web.json_response(await service.describe(album))


async def delete_album(request: web.Request) -> web.Response:
    """Remove an album and its index (the image files are never touched)."""
    service = request.app[keys.ALBUMS]
    removed = await service.delete(request.match_info["key"])
    return web.json_response({"deleted": request.match_info["key"], "images_removed": removed})


async def reindex_album(request: web.Request) -> web.Response:
    """Update Index: reconcile the album's folders with the database now."""
    service = request.app[keys.ALBUMS]
    summary = await service.reconcile(request.match_info["key"])
    return web.json_response(summary, status=202)


async def reindex_all(request: web.Request) -> web.Response:
    """Update Index for every album."""
    service = request.app[keys.ALBUMS]
    results = [await service.reconcile(album.key) for album in service.all_albums()]
    return web.json_response({"albums": results}, status=202)


async def album_failures(request: web.Request) -> web.Response:
    """Files of the album that could not be indexed, and links (leading outside every album
    folder, loops, dangling) and folders (unreadable) that could not be used, with the reason
    and what to do. `kind` says which; only files have an image `id`."""
    key = request.match_info["key"]
    if request.app[keys.CONFIG].album(key) is None:
        raise NotFound("album_not_found", f"no album with key {key!r}")
    items = await request.app[keys.ALBUMS].failures(key)
    return web.json_response({"items": [{**item, "path": shown(item["path"])} for item in items]})


async def album_images(request: web.Request) -> web.Response:
    """Images of an album, newest first by default, with paging."""
    key = request.match_info["key"]
    if key != "all" and request.app[keys.CONFIG].album(key) is None:
        raise NotFound("album_not_found", f"no album with key {key!r}")
    order = request.query.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise BadRequest("invalid_parameter", "order must be newest or oldest")
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    limit = int_param(request, "limit", 100, 1, 1000)
    rows, total = await request.app[keys.STORE].list_images(
        None if key == "all" else key,
        offset,
        limit,
        order == "newest",
        request.query.get("favourite") == "1",
    )
    return web.json_response(
        {
            "items": [image_json(row) for row in rows],
            "total": total,
            "offset": offset,
            "limit": limit,
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/albums", list_albums)
    app.router.add_post("/api/albums", create_album)
    app.router.add_post("/api/albums/reindex", reindex_all)
    app.router.add_get("/api/albums/{key}", get_album)
    app.router.add_patch("/api/albums/{key}", patch_album)
    app.router.add_delete("/api/albums/{key}", delete_album)
    app.router.add_post("/api/albums/{key}/reindex", reindex_album)
    app.router.add_get("/api/albums/{key}/failures", album_failures)
    app.router.add_get("/api/albums/{key}/images", album_images)
