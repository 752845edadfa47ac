"""Routes the browser UI needs beyond the core API: server-side folder picker, zip download of
selected images, looking an image up by file name (reference-image thumbnails), and the
settings dialog's model/port settings (GET/PUT /api/settings)."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import BadRequest, Forbidden, NotFound
from photomapd.api.files import link_guard, servable_file
from photomapd.api.params import image_id_param, is_image_id, json_body
from photomapd.file_paths import shown
from photomapd.image_json import image_json

if TYPE_CHECKING:
    from photomapd.intake.links import LinkGuard

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


def _archive_names(rows: list[dict[str, Any]]) -> list[tuple[Path, str, str]]:
    """(source, name in zip) pairs; equal file names from different folders get the id prefixed."""
    seen: set[str] = set()
    pairs = []
    for row in rows:
        source = Path(row["path"])
        name = shown(source.name)  # a zip entry name is UTF-8: U+FFFD for a byte that is not
        if name in seen:
            name = f"{row['id']}-{name}"
        seen.add(name)
        pairs.append((source, name, row["album"]))
    return pairs


def _write_zip(
    pairs: list[tuple[Path, str, str]], handle: IO[bytes], links: LinkGuard
) -> list[str]:
    skipped = []
    total = 0
    # Stored, not deflated: PNG/JPEG/WebP are already compressed and deflating costs CPU for ~0%.
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for source, name, album in pairs:
            refused = links.refusal(album, source)
            if refused is not None:
                skipped.append(f"{source} ({refused.reason})")
                continue
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
    if not isinstance(ids, list) or not ids or not all(map(is_image_id, ids)):
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
        skipped = await asyncio.to_thread(
            _write_zip, _archive_names(rows), handle, link_guard(request)
        )
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


# EXIF tags worth showing for photos and other non-AI images: (IFD, tag id, label).
EXIF_IFD = 0x8769
EXIF_FIELDS = (
    (0, 0x010F, "Camera make"),
    (0, 0x0110, "Camera model"),
    (EXIF_IFD, 0xA434, "Lens"),
    (EXIF_IFD, 0x9003, "Taken"),
    (0, 0x0132, "Modified"),
    (EXIF_IFD, 0x829A, "Exposure"),
    (EXIF_IFD, 0x829D, "Aperture"),
    (EXIF_IFD, 0x8827, "ISO"),
    (EXIF_IFD, 0x920A, "Focal length"),
    (0, 0x0112, "Orientation"),
    (0, 0x0131, "Software"),
    (0, 0x013B, "Artist"),
    (0, 0x8298, "Copyright"),
)


def _exif_text(label: str, value: Any) -> str | None:
    if isinstance(value, bytes):
        return None  # maker notes and other binary blobs mean nothing to a reader
    try:
        number = float(value)
    except (TypeError, ValueError):
        text = str(value).strip("\x00 ").strip()
        return text[:300] or None
    if label == "Exposure":
        return f"1/{round(1 / number)} s" if 0 < number < 1 else f"{number:g} s"
    if label == "Aperture":
        return f"f/{number:g}"
    if label == "Focal length":
        return f"{number:g} mm"
    return f"{number:g}"


def _read_exif(path: Path) -> dict[str, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            tables = {0: dict(exif), EXIF_IFD: dict(exif.get_ifd(EXIF_IFD))}
    except (OSError, UnidentifiedImageError, ValueError):
        return {}
    found = {}
    for ifd, tag, label in EXIF_FIELDS:
        value = tables[ifd].get(tag)
        text = _exif_text(label, value) if value is not None else None
        if text:
            found[label] = text
    return found


async def image_exif(request: web.Request) -> web.Response:
    """Camera EXIF basics of one image (make, model, lens, date, exposure...), for non-AI images."""
    image_id = image_id_param(request)
    row = await request.app[keys.STORE].get_image(image_id)
    if row is None or row["status"] == "missing":
        raise NotFound("image_not_found", f"no image with id {image_id}")
    path = await servable_file(request, row)
    return web.json_response({"id": image_id, "exif": await asyncio.to_thread(_read_exif, path)})


DEVICES = ("auto", "cpu", "cuda", "mps")


def _settings_json(request: web.Request) -> dict[str, Any]:
    config = request.app[keys.CONFIG]
    return {
        "model": {
            "name": config.model.name,
            "pretrained": config.model.pretrained,
            "device": config.model.device,
            "idle_unload_seconds": config.model.idle_unload_seconds,
        },
        "host": config.host,
        "port": config.port,
    }


async def get_settings(request: web.Request) -> web.Response:
    """Model name/weights/device/idle unload and the port, as saved in config.toml."""
    return web.json_response(_settings_json(request))


def _checked_model(model: Any) -> dict[str, Any]:
    if not isinstance(model, dict):
        raise BadRequest("invalid_settings", "model must be an object")
    checked: dict[str, Any] = {}
    for name in ("name", "pretrained"):
        if name in model:
            value = model[name]
            if not isinstance(value, str) or not value.strip():
                raise BadRequest("invalid_settings", f"model.{name} must be a non-empty text")
            checked[name] = value.strip()
    if "device" in model:
        device = model["device"]
        if not isinstance(device, str) or not (device in DEVICES or device.startswith("cuda:")):
            raise BadRequest(
                "invalid_settings", "model.device must be auto, cpu, cuda, cuda:N or mps"
            )
        checked["device"] = device
    if "idle_unload_seconds" in model:
        idle = model["idle_unload_seconds"]
        if isinstance(idle, bool) or not isinstance(idle, int | float) or idle < 0:
            raise BadRequest("invalid_settings", "model.idle_unload_seconds must be a number ≥ 0")
        checked["idle_unload_seconds"] = float(idle)
    return checked


async def put_settings(request: web.Request) -> web.Response:
    """Save settings to config.toml. The idle unload applies at once; a new model, device or
    port applies at the next start (`restart_needed`), when a model change re-embeds in the
    background while the old vectors keep answering."""
    body = await json_body(request)
    config = request.app[keys.CONFIG]
    model = _checked_model(body.get("model", {}))
    port = body.get("port", config.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise BadRequest("invalid_settings", "port must be a whole number from 1 to 65535")
    changed = [
        f"model.{key}" for key, value in model.items() if getattr(config.model, key) != value
    ]
    if port != config.port:
        changed.append("port")
    for key, value in model.items():
        setattr(config.model, key, value)
    config.port = port
    if "idle_unload_seconds" in model:
        request.app[keys.MODEL].idle_unload_seconds = model["idle_unload_seconds"]
    await asyncio.to_thread(config.save)
    restart = any(name != "model.idle_unload_seconds" for name in changed)
    log.info("settings saved: %s", ", ".join(changed) or "no change")
    return web.json_response(
        {**_settings_json(request), "changed": changed, "restart_needed": restart}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/settings", get_settings)
    app.router.add_put("/api/settings", put_settings)
    app.router.add_get("/api/fs/list", fs_list)
    app.router.add_post("/api/images/zip", images_zip)
    app.router.add_get("/api/image-lookup", image_lookup)
    app.router.add_get("/api/images/{id}/exif", image_exif)
