"""Search: text with optional negative text, by uploaded image, or both combined."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import TYPE_CHECKING

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image, UnidentifiedImageError

from photomapd.api import keys
from photomapd.api.errors import BadRequest, NotFound
from photomapd.api.filters import (
    allowed_ids,
    has_metadata_filter,
    metadata_filter,
    metadata_index,
)
from photomapd.api.hits import hits_json, unscored_json
from photomapd.api.params import (
    float_param,
    float_value,
    image_ids_param,
    int_param,
    int_value,
)
from photomapd.search.searcher import SearchQuery

if TYPE_CHECKING:
    from photomapd.store.metadata_index import MetadataFilter

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
UPLOAD_CHUNK_BYTES = 256 * 1024


def _check_album(request: web.Request, album: str | None) -> None:
    if album and request.app[keys.CONFIG].album(album) is None:
        raise NotFound("album_not_found", f"no album with key {album!r}")


async def _run(request: web.Request, query: SearchQuery) -> web.Response:
    _check_album(request, query.album)
    try:
        hits = await request.app[keys.SEARCHER].search(query)
    except ValueError as error:  # the searcher's "nothing to search for"
        raise BadRequest("empty_query", str(error)) from error
    results = await hits_json(request, hits)
    return web.json_response(
        {"results": results, "total": len(results), "offset": query.offset, "limit": query.limit}
    )


async def get_search(request: web.Request) -> web.Response:
    """Semantic text search (q, negative, negative_weight), optionally in one album.

    Metadata filters (prompt, model, lora, generator, seed, since, until, has_reference;
    filters.py) restrict the semantic results, or without q are the whole search.
    """
    text = request.query.get("q", "")
    album = request.query.get("album") or None
    if not text.strip() and has_metadata_filter(request.query):
        return await _metadata_search(request, metadata_filter(request.query))
    allowed = await allowed_ids(request, request.query, album)
    query = SearchQuery(
        text=text,
        negative=request.query.get("negative", ""),
        negative_weight=float_param(request, "negative_weight", 0.5, 0.0, 2.0),
        album=album,
        limit=int_param(request, "limit", 50, 1, 500),
        offset=int_param(request, "offset", 0, 0, 10_000),
        allowed_ids=allowed,
    )
    if not query.text.strip():
        raise BadRequest(
            "empty_query",
            "q is empty: type something to search for, or filter with prompt=, model=, lora=, "
            "generator=, seed=, since= or until=",
        )
    return await _run(request, query)


async def _metadata_search(request: web.Request, filters: MetadataFilter) -> web.Response:
    """`GET /api/search` without q: prompt full-text and filters only, no model needed."""
    album = request.query.get("album") or None
    _check_album(request, album)
    limit = int_param(request, "limit", 50, 1, 500)
    offset = int_param(request, "offset", 0, 0, 100_000)
    ids, total = await metadata_index(request).search(filters, album, limit, offset)
    results = await unscored_json(request, ids)
    return web.json_response({"results": results, "total": total, "offset": offset, "limit": limit})


async def _read_upload(part: BodyPartReader) -> bytes:
    """The part's bytes, refused as soon as it passes the limit (never held whole in memory)."""
    data = bytearray()
    while chunk := await part.read_chunk(UPLOAD_CHUNK_BYTES):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise BadRequest(
                "image_too_large",
                f"the uploaded image is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                "upload a smaller copy",
            )
    return bytes(data)


def _decode_upload(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as error:
        raise BadRequest(
            "image_too_large",
            f"the uploaded image has too many pixels to decode safely ({error}); "
            "upload a smaller copy",
        ) from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        reason = (
            "unknown format or corrupt header"
            if isinstance(error, UnidentifiedImageError)
            else str(error)
        )
        raise BadRequest(
            "invalid_image",
            f"the uploaded file is not a readable image ({reason}); "
            "upload a PNG, JPEG, WebP, GIF, BMP or TIFF file",
        ) from error
    return image


async def _read_multipart(request: web.Request) -> tuple[dict[str, str], Image.Image | None]:
    """The text fields and the decoded `image` of a multipart form.

    A body cut short (no closing boundary, a part header cut in two, the client gone mid-upload)
    is the client's fault: aiohttp reports it as ValueError or a header parse error.
    """
    fields: dict[str, str] = {}
    image: Image.Image | None = None
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("invalid_parameter", "nested multipart bodies are not supported")
            if part.name == "image":
                image = _decode_upload(await _read_upload(part))
            elif part.name:
                fields[part.name] = (await part.text())[:10_000]
    except (ValueError, HttpProcessingError, ConnectionResetError) as error:
        # Short: aiohttp's reasons can quote kilobytes of the body back.
        reason = (getattr(error, "message", "") or str(error) or type(error).__name__)[:120]
        raise BadRequest(
            "invalid_multipart",
            f"the multipart/form-data body is incomplete or malformed ({reason}); "
            "send the whole form again (e.g. curl -F image=@photo.png -F q=cat)",
        ) from error
    return fields, image


async def post_search(request: web.Request) -> web.Response:
    """Search by an uploaded image (multipart field `image`), text (`q`), or both combined.

    Other fields: negative, negative_weight, image_weight (share of the image, default 0.5),
    album, limit, offset, and the metadata filters of GET (prompt, model, lora, ...).
    """
    fields: dict[str, str] = {}
    image: Image.Image | None = None
    if request.content_type == "application/x-www-form-urlencoded":  # text fields only
        fields = {name: str(value)[:10_000] for name, value in (await request.post()).items()}
    elif request.content_type.startswith("multipart/"):
        fields, image = await _read_multipart(request)
    else:
        raise BadRequest(
            "invalid_content_type",
            "POST /api/search takes multipart/form-data (fields image, q, negative, ...); "
            "for a text-only search use GET /api/search?q=...",
        )
    query = SearchQuery(
        text=fields.get("q", ""),
        negative=fields.get("negative", ""),
        negative_weight=float_value(fields, "negative_weight", 0.5, 0.0, 2.0),
        image=image,
        image_weight=float_value(fields, "image_weight", 0.5, 0.0, 1.0),
        album=fields.get("album") or None,
        limit=int_value(fields, "limit", 50, 1, 500),
        offset=int_value(fields, "offset", 0, 0, 10_000),
    )
    allowed = await allowed_ids(request, fields, query.album)
    return await _run(request, replace(query, allowed_ids=allowed))


MAX_MATCH_IDS = 1000


async def get_search_matching(request: web.Request) -> web.Response:
    """Which of the given image ids pass a search's album, favourite and metadata filters.

    An open search in the UI asks this about the images added since it ran, so its
    "N new images" count leaves out images the filters would drop. ids: comma-separated,
    at most 1000; the filters are those of GET /api/search (q itself is not judged).
    """
    ids = image_ids_param(request, "ids")
    if len(ids) > MAX_MATCH_IDS:
        raise BadRequest(
            "invalid_parameter", f"ids holds {len(ids)} ids; ask about {MAX_MATCH_IDS} at most"
        )
    album = request.query.get("album") or None
    _check_album(request, album)
    filters = metadata_filter(request.query)
    matching = await metadata_index(request).matching_among(filters, album, ids)
    return web.json_response({"ids": matching})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/search/matching", get_search_matching)
    app.router.add_get("/api/search", get_search)
    app.router.add_post("/api/search", post_search)
