"""Shared test helpers: images written the way real writers do, an SSE reader, waiting."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image, PngImagePlugin


def png_bytes(
    color: tuple[int, int, int], size: int = 64, text: dict[str, str] | None = None
) -> bytes:
    image = Image.new("RGB", (size, size), color)
    # Some structure so different colours give different embeddings.
    for x in range(0, size, 8):
        image.putpixel((x, x), (255 - color[0], 255 - color[1], 255 - color[2]))
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


async def write_slowly(
    path: Path, data: bytes, pieces: int = 4, pause: float = 0.15, via_temp_name: bool = True
) -> None:
    """Write in pieces with pauses (as InvokeAI and copy tools do), optionally renaming into place."""
    target = path.with_name(path.name + ".tmp") if via_temp_name else path
    step = max(1, len(data) // pieces)
    with open(target, "wb") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            os.fsync(handle.fileno())
            await asyncio.sleep(pause)
    if via_temp_name:
        os.replace(target, path)


async def wait_for(
    predicate: Callable[[], Awaitable[Any]],
    timeout: float = 20.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(interval)


class EventStream:
    """Reads the daemon's SSE stream into a list, in the background."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        async with self.session.get(
            self.url, timeout=aiohttp.ClientTimeout(total=None)
        ) as response:
            kind = None
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.events.append((kind, json.loads(line[6:]), time.monotonic()))
                    if kind == "hello":
                        self.connected.set()
                    kind = None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [data for event_kind, data, _ in self.events if event_kind == kind]

    async def wait_kind(
        self,
        kind: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda d: True,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            return next((data for data in self.of_kind(kind) if predicate(data)), None)

        return await wait_for(found, timeout, message=f"event {kind}")


async def raw_http(port: int, request: bytes, timeout: float = 20.0) -> tuple[int, Any]:
    """Send bytes as they are to 127.0.0.1:port and return (status, JSON body or raw bytes).

    For requests a client library would refuse or repair: odd Host headers, truncated bodies.
    The request should say "Connection: close" so the answer ends with the connection.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=timeout)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"chunked" in head.lower():
        body = _unchunk(body)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out
