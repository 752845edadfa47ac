"""One image: its JSON, its file and thumbnail (served by id only, never by a client path),
its favourite flag, and images similar to it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from photomapd import imaging
from photomapd.api import keys
from photomapd.api.errors import Conflict, NotFound
from photomapd.api.files import servable_file
from photomapd.api.filters import allowed_ids
from photomapd.api.hits import hits_json
from photomapd.api.params import image_id_param, int_param
from photomapd.api.placeholders import Placeholder, placeholder_response
from photomapd.events import EventKind
from photomapd.file_paths import shown
from photomapd.image_json import image_json

CACHE_SECONDS = 7 * 24 * 3600


async def _row(request: web.Request) -> dict[str, Any]:
    image_id = image_id_param(request)
    row = await request.app[keys.STORE].get_image(image_id)
    if row is None or row["status"] == "missing":
        raise NotFound("image_not_found", f"no image with id {image_id}")
    return row


async def get_image(request: web.Request) -> web.Response:
    """One image's JSON (path, size, status, metadata summary, favourite, embedded)."""
    return web.json_response(image_json(await _row(request)))


def _cached_file(request: web.Request, path: Path, etag: str) -> web.StreamResponse:
    if request.headers.get("If-None-Match") == f'"{etag}"':
        return web.Response(status=304, headers={"ETag": f'"{etag}"'})
    response = web.FileResponse(path)
    if path.suffix.lower() == ".webp":
        # aiohttp's own type table lacks .webp before Python 3.13 (application/octet-stream).
        response.content_type = "image/webp"
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = f"private, max-age={CACHE_SECONDS}"
    return response


async def get_file(request: web.Request) -> web.StreamResponse:
    """The original file, by id."""
    row = await _row(request)
    path = await servable_file(request, row)
    if not path.is_file():
        raise NotFound("file_missing", f"{path} is no longer on disk (moved, deleted or unmounted)")
    etag = row["content_hash"] or f"{row['size']}-{row['mtime']}"
    response = _cached_file(request, path, etag)
    response.headers["Content-Disposition"] = f'inline; filename="{shown(path.name)}"'
    return response


async def get_thumbnail(request: web.Request) -> web.StreamResponse:
    """A 256-px WebP thumbnail (InvokeAI's own when it wrote one), made on demand if missing.

    A file that failed to index answers a "can't read" placeholder, and one still waiting to be
    indexed whose thumbnail cannot be made yet (still being written) an "indexing" one, so no
    client shows a broken image; the `X-Photomapd-Placeholder` header tells them apart."""
    row = await _row(request)
    if row["status"] == "error":
        return placeholder_response(Placeholder.UNREADABLE)
    thumbnail = Path(row["thumbnail"]) if row["thumbnail"] else None
    if thumbnail is None or not thumbnail.is_file():
        try:
            thumbnail = await _make_thumbnail(request, row)
        except NotFound:
            if row["status"] == "pending":
                return placeholder_response(Placeholder.PENDING)
            raise
    etag = f"t-{row['content_hash'] or row['id']}"
    return _cached_file(request, thumbnail, etag)


async def _make_thumbnail(request: web.Request, row: dict[str, Any]) -> Path:
    source = await servable_file(request, row)
    target = request.app[keys.CONFIG].thumbnails_dir / "by-id" / f"{row['id']}.webp"

    def make() -> Path:
        if not target.exists():
            image = imaging.open_image(source, target_size=256)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(imaging.make_thumbnail(image))
        return target

    try:
        return await asyncio.to_thread(make)
    except (imaging.ImageError, OSError) as error:
        raise NotFound(
            "thumbnail_unavailable", f"no thumbnail for image {row['id']}: {error}"
        ) from error


async def put_favourite(request: web.Request) -> web.Response:
    """Star an image (kept by id: survives reloads, devices and re-indexing)."""
    return await _set_favourite(request, True)


async def delete_favourite(request: web.Request) -> web.Response:
    """Unstar an image."""
    return await _set_favourite(request, False)


async def _set_favourite(request: web.Request, favourite: bool) -> web.Response:
    row = await _row(request)
    await request.app[keys.STORE].set_favourite(row["id"], favourite)
    updated = await request.app[keys.STORE].get_image(row["id"])
    payload = image_json(updated or row)
    request.app[keys.EVENTS].publish(EventKind.IMAGE_UPDATED, {"image": payload})
    return web.json_response(payload)


async def get_similar(request: web.Request) -> web.Response:
    """Images that look like this one ("more like this"), best first, with scores.

    favourite=1 keeps starred images only (the UI's "Favourites" filter)."""
    row = await _row(request)
    if row["status"] == "error":
        # Never embedded, and never will be until the file changes: not a "try again later".
        raise Conflict(
            "image_not_indexed",
            f"image {row['id']} could not be indexed ({row['error']}), so there is nothing to "
            "compare it with; replace or re-save the file and it is indexed again",
        )
    limit = int_param(request, "limit", 50, 1, 500)
    offset = int_param(request, "offset", 0, 0, 100_000)
    album = request.query.get("album") or None
    favourites = {"favourite": request.query.get("favourite", "")}
    allowed = await allowed_ids(request, favourites, album)
    hits = await request.app[keys.SEARCHER].similar(row["id"], album, limit, offset, allowed)
    return web.json_response({"results": await hits_json(request, hits)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/images/{id}", get_image)
    app.router.add_get("/api/images/{id}/file", get_file)
    app.router.add_get("/api/images/{id}/thumbnail", get_thumbnail)
    app.router.add_put("/api/images/{id}/favourite", put_favourite)
    app.router.add_delete("/api/images/{id}/favourite", delete_favourite)
    app.router.add_get("/api/images/{id}/similar", get_similar)
