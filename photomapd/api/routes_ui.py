"""Routes the browser UI needs beyond the core API: server-side folder picker, zip download of
selected images, and looking an image up by file name (reference-image thumbnails)."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import BadRequest, Forbidden, NotFound
from photomapd.api.params import json_body
from photomapd.image_json import image_json

log = logging.getLogger(__name__)

MAX_ZIP_IMAGES = 5000
MAX_ZIP_BYTES = 2 * 1024**3  # a browser download larger than this is better done in a file manager
MAX_LISTED_DIRS = 2000
CHUNK = 256 * 1024


def _list_dirs(path: Path) -> list[str]:
    names = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    names.append(entry.name)
            except OSError:
                continue  # a broken link or a folder we may not stat: skip it, list the rest
    return sorted(names, key=str.casefold)[:MAX_LISTED_DIRS]


async def fs_list(request: web.Request) -> web.Response:
    """Sub-folders of `path` (default: the home folder), for the album folder picker."""
    raw = request.query.get("path", "").strip()
    path = Path(raw).expanduser() if raw else Path.home()
    if not path.is_absolute():
        raise BadRequest("relative_path", f"{raw!r} is not an absolute path; start from / or ~")
    path = path.resolve()
    if not path.is_dir():
        raise NotFound("folder_not_found", f"{path} is not a folder (missing or not mounted)")
    try:
        dirs = await asyncio.to_thread(_list_dirs, path)
    except PermissionError as error:
        raise Forbidden(
            "folder_forbidden", f"photomapd may not read {path}: {error.strerror}"
        ) from error
    parent = str(path.parent) if path.parent != path else None
    return web.json_response({"path": str(path), "parent": parent, "dirs": dirs})


def _archive_names(rows: list[dict[str, Any]]) -> list[tuple[Path, str]]:
    """(source, name in zip) pairs; equal file names from different folders get the id prefixed."""
    seen: set[str] = set()
    pairs = []
    for row in rows:
        source = Path(row["path"])
        name = source.name
        if name in seen:
            name = f"{row['id']}-{name}"
        seen.add(name)
        pairs.append((source, name))
    return pairs


def _write_zip(pairs: list[tuple[Path, str]], handle: IO[bytes]) -> list[str]:
    skipped = []
    total = 0
    # Stored, not deflated: PNG/JPEG/WebP are already compressed and deflating costs CPU for ~0%.
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for source, name in pairs:
            try:
                size = source.stat().st_size
                if total + size > MAX_ZIP_BYTES:
                    skipped.append(f"{source} (zip would exceed 2 GB)")
                    continue
                archive.write(source, name)
                total += size
            except OSError as error:
                skipped.append(f"{source} ({error.strerror or error})")
        if skipped:
            archive.writestr("NOT-INCLUDED.txt", "\n".join(skipped) + "\n")
    handle.seek(0)
    return skipped


async def images_zip(request: web.Request) -> web.StreamResponse:
    """A zip of the images whose ids are posted as {"ids": [...]}, streamed as a download."""
    body = await json_body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
        raise BadRequest("invalid_ids", 'send {"ids": [1, 2, ...]} with at least one image id')
    if len(ids) > MAX_ZIP_IMAGES:
        raise BadRequest(
            "too_many_images", f"at most {MAX_ZIP_IMAGES} images per zip; select fewer"
        )
    found = await request.app[keys.STORE].get_images(ids)
    rows = [found[i] for i in ids if i in found]
    if not rows:
        raise NotFound("image_not_found", "none of the selected images exist any more")
    with tempfile.TemporaryFile() as handle:
        skipped = await asyncio.to_thread(_write_zip, _archive_names(rows), handle)
        if skipped:
            log.info("zip download skipped %d file(s), first: %s", len(skipped), skipped[0])
        size = os.fstat(handle.fileno()).st_size
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Length": str(size),
                "Content-Disposition": f'attachment; filename="photomapd-{len(rows)}-images.zip"',
            }
        )
        await response.prepare(request)
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response


async def image_lookup(request: web.Request) -> web.Response:
    """The image whose file name is `name` (InvokeAI reference images are stored by name)."""
    name = request.query.get("name", "").strip()
    if not name or "/" in name or "\\" in name:
        raise BadRequest("invalid_name", "give a bare file name, for example name=abc.png")
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    # TODO(lead): move into Store (it owns SQL); kept here so this module lands on its own.
    row = await request.app[keys.STORE].fetch_one(
        "SELECT id FROM images WHERE status = 'ok' AND (path = ? OR path LIKE ? ESCAPE '\\') "
        "ORDER BY id DESC LIMIT 1",
        (name, f"%/{escaped}"),
    )
    if row is None:
        raise NotFound("image_not_found", f"no indexed image is named {name}")
    image = await request.app[keys.STORE].get_image(row["id"])
    if image is None:
        raise NotFound("image_not_found", f"no indexed image is named {name}")
    return web.json_response(image_json(image))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/fs/list", fs_list)
    app.router.add_post("/api/images/zip", images_zip)
    app.router.add_get("/api/image-lookup", image_lookup)
