"""The semantic map API: compact point arrays, clusters, strength, refit; and the MapService's
lifetime (started with the app, stopped and awaited on cleanup)."""

from __future__ import annotations

import json

from aiohttp import web

from photomapd.api import keys
from photomapd.api.errors import BadRequest, NotFound, Unavailable
from photomapd.api.keys import MAP_SERVICE


def _album(request: web.Request) -> str:
    key = request.match_info["key"]
    service = request.app[MAP_SERVICE]
    if request.app[keys.CONFIG].album(key) is None:
        raise NotFound("album_not_found", f"no album with key {key!r}")
    if not service.has_album(key) or service.is_loading(key):
        raise Unavailable("map_loading", "the map is being loaded; try again in a few seconds")
    return key


async def get_map(request: web.Request) -> web.Response:
    """Every point of the album's map: base64 typed arrays (see photomapd/map_payload.py)."""
    album = _album(request)
    version, body, compressed = await request.app[MAP_SERVICE].payload(album)
    etag = f'"map-{album}-{version}-{len(body)}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=compressed, content_type="application/json", headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


async def get_clusters(request: web.Request) -> web.Response:
    """Cluster labels, sizes, centroids and representative image ids."""
    return web.json_response(request.app[MAP_SERVICE].clusters(_album(request)))


async def get_cluster_members(request: web.Request) -> web.Response:
    """Image ids of one cluster (a result set for the grid)."""
    album = _album(request)
    try:
        cluster = int(request.match_info["cluster"])
    except ValueError as error:
        raise BadRequest("invalid_parameter", "cluster must be an integer") from error
    return web.json_response(
        {
            "album": album,
            "cluster": cluster,
            "ids": await request.app[MAP_SERVICE].members(album, cluster),
        }
    )


async def put_strength(request: web.Request) -> web.Response:
    """Body {"strength": 0..1}: 0 many small clusters, 1 a few large ones; saved per album."""
    album = _album(request)
    try:
        body = await request.json()
        strength = body["strength"]
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise BadRequest(
            "invalid_body", 'send JSON {"strength": <number between 0 and 1>}'
        ) from error
    # A number only: float() would also take true, false and "0.5".
    if isinstance(strength, bool) or not isinstance(strength, int | float):
        raise BadRequest("invalid_body", 'send JSON {"strength": <number between 0 and 1>}')
    if not 0 <= strength <= 1:  # before float(): a huge JSON integer overflows it
        raise BadRequest("invalid_parameter", f"strength must be between 0 and 1, got {strength}")
    return web.json_response(await request.app[MAP_SERVICE].set_strength(album, float(strength)))


async def post_refit(request: web.Request) -> web.Response:
    """Recompute the layout now in the background (normally automatic after 20 % growth)."""
    album = _album(request)
    state = request.app[MAP_SERVICE].request_refit(album)
    return web.json_response({"album": album, "refit": state}, status=202)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/albums/{key}/map", get_map)
    app.router.add_get("/api/albums/{key}/map/clusters", get_clusters)
    app.router.add_get("/api/albums/{key}/map/clusters/{cluster}", get_cluster_members)
    app.router.add_put("/api/albums/{key}/map/strength", put_strength)
    app.router.add_post("/api/albums/{key}/map/refit", post_refit)
