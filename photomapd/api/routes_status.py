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
STREAM_TASKS: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("stream_tasks")


async def get_status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[keys.STATUS].status())


async def get_events(request: web.Request) -> web.StreamResponse:
    """SSE: `event: <kind>` + `data: <json>`; a comment line every 15 s keeps proxies open."""
    events = request.app[keys.EVENTS]
    kinds_param = request.query.get("kinds")
    kinds = frozenset(kinds_param.split(",")) if kinds_param else None
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    # The current state first, so a (re)connecting page never shows stale progress.
    hello = {
        "progress": request.app[keys.PIPELINE].progress(),
        "model": request.app[keys.STATUS].model_status(),
    }
    await response.write(f"event: hello\ndata: {json.dumps(hello)}\n\n".encode())
    stream = events.subscribe(kinds).__aiter__()
    streams = request.app[STREAM_TASKS]
    task = asyncio.current_task()
    assert task is not None
    streams.add(task)
    # The wait for the next event outlives each heartbeat: a timeout that cancelled it would
    # close the subscription (the cancel lands inside the generator) and end the stream.
    # asyncio.wait neither cancels on timeout nor swallows the stop's cancel.
    next_event = asyncio.ensure_future(anext(stream))
    try:
        while True:
            done, _ = await asyncio.wait({next_event}, timeout=HEARTBEAT_SECONDS)
            if not done:
                await response.write(b": heartbeat\n\n")
                continue
            event = next_event.result()
            next_event = asyncio.ensure_future(anext(stream))
            payload = json.dumps(event.data, default=str)
            await response.write(
                f"id: {event.sequence}\nevent: {event.kind}\ndata: {payload}\n\n".encode()
            )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        streams.discard(task)
        next_event.cancel()
        await asyncio.gather(next_event, return_exceptions=True)
        await stream.aclose()  # type: ignore[attr-defined]
    return response


async def _close_streams(app: web.Application) -> None:
    """Open event streams never end by themselves: end them so shutdown is immediate."""
    streams = app[STREAM_TASKS]
    for task in list(streams):
        task.cancel()


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(request.app))


def setup(app: web.Application) -> None:
    app[STREAM_TASKS] = set()
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/events", get_events)
    app.router.add_get("/api/openapi.json", get_openapi)
