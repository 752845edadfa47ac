"""Status, the live event stream (Server-Sent Events) and the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

from photomapd.api import keys
from photomapd.api.openapi import build_openapi

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[keys.DAEMON].status())


async def get_events(request: web.Request) -> web.StreamResponse:
    """SSE: `event: <kind>` + `data: <json>`; a comment line every 15 s keeps proxies open."""
    events = request.app[keys.EVENTS]
    kinds_param = request.query.get("kinds")
    kinds = frozenset(kinds_param.split(",")) if kinds_param else None
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    daemon = request.app[keys.DAEMON]
    # The current state first, so a (re)connecting page never shows stale progress.
    hello = {"progress": daemon.pipeline.progress(), "model": daemon.model_status()}
    await response.write(f"event: hello\ndata: {json.dumps(hello)}\n\n".encode())
    stream = events.subscribe(kinds).__aiter__()
    try:
        while True:
            try:
                event = await asyncio.wait_for(stream.__anext__(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            payload = json.dumps(event.data, default=str)
            await response.write(f"id: {event.sequence}\nevent: {event.kind}\ndata: {payload}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return response


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(request.app))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/events", get_events)
    app.router.add_get("/api/openapi.json", get_openapi)
