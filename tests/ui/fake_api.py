"""A small stand-in for the daemon's JSON API, serving web/ plus canned data and an SSE stream.

Used by the UI tests that exercise pure front-end behaviour (virtualized grid at 100k rows,
drawer rendering, slideshow) where the real daemon would add nothing but minutes. Tests that
need real indexing run against the real app (see test_live_daemon.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from tests.ui.loop_thread import serve_on_thread

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
PALETTE = [(230, 253, 19), (90, 166, 255), (240, 98, 90), (60, 207, 120), (198, 166, 255)]


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class FakeImage:
    id: int
    album: str
    name: str
    prompt: str
    created_at: float
    favourite: bool = False
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "album": self.album,
            "path": f"/data/{self.album}/{self.name}",
            "name": self.name,
            "width": 64,
            "height": 64,
            "size": 1234,
            "mtime": self.created_at,
            "created_at": self.created_at,
            "status": "ok",
            "error": None,
            "favourite": self.favourite,
            "embedded": True,
            "thumbnail_url": f"/api/images/{self.id}/thumbnail",
            "file_url": f"/api/images/{self.id}/file",
            "metadata_summary": None,
        }


def invokeai_summary(prompt: str, seed: int) -> dict[str, Any]:
    return {
        "generator": "invokeai",
        "generator_version": "6.14.2",
        "positive_prompt": prompt,
        "negative_prompt": "blurry, low quality",
        "model": {"name": "Juggernaut XL v9", "base": "sdxl", "hash": None, "key": "abc"},
        "seed": seed,
        "steps": 30,
        "cfg_scale": 6.5,
        "scheduler": "dpmpp_2m_k",
        "width": 1024,
        "height": 1024,
        "loras": [{"name": "ink-scenery", "weight": 0.75}],
        "reference_images": [{"image_name": "ref-1.png", "model": "ip_adapter", "weight": 0.5}],
    }


@dataclass
class FakeDaemon:
    """In-memory daemon state. Mutate only through methods that run on the server loop."""

    images: dict[int, FakeImage] = field(default_factory=dict)
    albums: dict[str, dict[str, Any]] = field(default_factory=dict)
    big_album_size: int = 0
    queues: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set)
    uploads: list[bytes] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    invokeai_actions: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    settings: dict[str, Any] = field(
        default_factory=lambda: {
            "model": {
                "name": "ViT-B-32",
                "pretrained": "laion2b_s34b_b79k",
                "device": "auto",
                "idle_unload_seconds": 120,
            },
            "port": 8050,
        }
    )
    loop: asyncio.AbstractEventLoop | None = None
    next_id: int = 1
    model: dict[str, Any] = field(
        default_factory=lambda: {
            "name": "ViT-B-32",
            "pretrained": "laion2b",
            "device": "cpu",
            "state": "ready",
            "error": None,
        }
    )

    def seed(self, count: int = 24) -> None:
        self.albums["invokeai"] = {
            "key": "invokeai",
            "name": "InvokeAI outputs",
            "folders": [{"path": "/data/invokeai", "exists": True}],
            "exclude": [],
            "state": "idle",
            "pending": 0,
            "failed": 1,
        }
        words = [
            "red fox in snow",
            "blue ocean waves",
            "castle at dusk",
            "cat portrait",
            "forest path",
        ]
        now = time.time()
        for index in range(count):
            prompt = words[index % len(words)]
            self.add_image("invokeai", prompt, created_at=now - 1000 + index)

    def add_image(self, album: str, prompt: str, created_at: float | None = None) -> FakeImage:
        image_id = self.next_id
        self.next_id += 1
        image = FakeImage(
            id=image_id,
            album=album,
            name=f"img_{image_id:05d}.png",
            prompt=prompt,
            created_at=created_at if created_at is not None else time.time(),
            metadata=invokeai_summary(prompt, 1000 + image_id),
        )
        self.images[image_id] = image
        return image

    def album_images(self, key: str) -> list[FakeImage]:
        return sorted(
            (image for image in self.images.values() if image.album == key),
            key=lambda image: (image.created_at, image.id),
        )

    def album_json(self, key: str) -> dict[str, Any]:
        album = dict(self.albums[key])
        album["count"] = self.big_album_size if key == "big" else len(self.album_images(key))
        return album

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        for queue in list(self.queues):
            queue.put_nowait((kind, data))

    # Called from the test thread.
    def call(self, fn: Any, *args: Any) -> Any:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(_call(fn, *args), self.loop)
        return future.result(timeout=5)

    def emit_new_image(self, prompt: str = "fresh image") -> int:
        def add() -> int:
            image = self.add_image("invokeai", prompt)
            self.publish("image_added", {"image": image.to_json()})
            return image.id

        return int(self.call(add))


async def _call(fn: Any, *args: Any) -> Any:
    return fn(*args)


def synthetic(index: int) -> dict[str, Any]:
    image_id = 1_000_000 + index
    return {
        "id": image_id,
        "album": "big",
        "path": f"/data/big/{index:06d}.png",
        "name": f"{index:06d}.png",
        "width": 64,
        "height": 64,
        "size": 999,
        "mtime": 1.7e9 + index,
        "created_at": 1.7e9 + index,
        "status": "ok",
        "error": None,
        "favourite": False,
        "embedded": True,
        "thumbnail_url": f"/api/images/{image_id}/thumbnail",
        "file_url": f"/api/images/{image_id}/file",
        "metadata_summary": None,
    }


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class Routes:
    def __init__(self, daemon: FakeDaemon) -> None:
        self.d = daemon
        self.thumbs = {i: png_bytes((64, 64), colour) for i, colour in enumerate(PALETTE)}
        self.files = {i: png_bytes((320, 240), colour) for i, colour in enumerate(PALETTE)}

    def image_or_404(self, request: web.Request) -> FakeImage | None:
        return self.d.images.get(int(request.match_info["id"]))

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "version": "0.1.0-fake",
                "albums": [self.d.album_json(key) for key in self.d.albums],
                "indexing": {
                    "paused": False,
                    "queued": 3,
                    "done": 120,
                    "failed": 1,
                    "rate": 4.2,
                    "eta_seconds": 1,
                },
                "model": self.d.model,
            }
        )

    async def albums(self, request: web.Request) -> web.Response:
        return web.json_response({"albums": [self.d.album_json(key) for key in self.d.albums]})

    async def create_album(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = body.get("key") or "album"
        if not body.get("folders"):
            return error(400, "bad_request", "An album needs at least one folder.")
        self.d.albums[key] = {
            "key": key,
            "name": body.get("name") or key,
            "folders": [{"path": path, "exists": True} for path in body["folders"]],
            "exclude": body.get("exclude", []),
            "state": "indexing",
            "pending": 0,
            "failed": 0,
        }
        self.d.publish("album_changed", {"key": key})
        return web.json_response(self.d.album_json(key), status=201)

    async def reindex(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.d.requests.append(f"reindex:{key}")
        return web.json_response({"ok": True}, status=202)

    async def failures(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "items": [
                    {
                        "id": 99,
                        "path": "/data/invokeai/broken.png",
                        "error": "truncated PNG: file ends inside IDAT; re-save or delete it",
                    }
                ]
            }
        )

    async def images(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        offset = int(request.query.get("offset", 0))
        limit = int(request.query.get("limit", 100))
        newest = request.query.get("order", "newest") != "oldest"
        if key == "big":
            total = self.d.big_album_size
            indexes = range(offset, min(total, offset + limit))
            items = [synthetic(total - 1 - i if newest else i) for i in indexes]
            return web.json_response(
                {"items": items, "total": total, "offset": offset, "limit": limit}
            )
        rows = (
            self.d.album_images(key)
            if key != "all"
            else sorted(self.d.images.values(), key=lambda i: (i.created_at, i.id))
        )
        if request.query.get("favourite") == "1":
            rows = [row for row in rows if row.favourite]
        if newest:
            rows.reverse()
        items = [row.to_json() for row in rows[offset : offset + limit]]
        return web.json_response(
            {"items": items, "total": len(rows), "offset": offset, "limit": limit}
        )

    async def image(self, request: web.Request) -> web.Response:
        image = self.image_or_404(request)
        if image is None:
            return error(404, "not_found", "No such image.")
        return web.json_response(image.to_json())

    async def thumbnail(self, request: web.Request) -> web.Response:
        image_id = int(request.match_info["id"])
        return web.Response(
            body=self.thumbs[image_id % len(PALETTE)],
            content_type="image/png",
            headers={"Cache-Control": "max-age=3600"},
        )

    async def file(self, request: web.Request) -> web.Response:
        image_id = int(request.match_info["id"])
        return web.Response(body=self.files[image_id % len(PALETTE)], content_type="image/png")

    async def metadata(self, request: web.Request) -> web.Response:
        image = self.image_or_404(request)
        if image is None:
            return error(404, "not_found", "No such image.")
        raw = {
            "invokeai_metadata": {**(image.metadata or {}), "app_version": "6.14.2"},
            "invokeai_graph": json.dumps({"nodes": {"a": {"type": "noise"}}}),
        }
        return web.json_response({"summary": image.metadata, "raw": raw})

    async def favourite(self, request: web.Request) -> web.Response:
        image = self.image_or_404(request)
        if image is None:
            return error(404, "not_found", "No such image.")
        image.favourite = request.method == "PUT"
        self.d.publish("image_updated", {"image": image.to_json()})
        return web.json_response(image.to_json())

    def ranked(self, text: str, album: str | None) -> list[dict[str, Any]]:
        words = [word for word in text.lower().split() if word]
        results = []
        for image in self.d.images.values():
            if album and image.album != album:
                continue
            hits = sum(word in image.prompt for word in words)
            score = 0.2 + 0.1 * hits - image.id * 0.0001
            if not words or hits:
                results.append({"image": image.to_json(), "score": round(score, 4)})
        return sorted(results, key=lambda result: -result["score"])

    async def search(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if request.method == "POST":
            form = await request.post()
            upload = form.get("image")
            if upload is not None and hasattr(upload, "file"):
                self.d.uploads.append(upload.file.read())
            query.update({key: value for key, value in form.items() if isinstance(value, str)})
        self.d.requests.append("search:" + json.dumps(query, sort_keys=True))
        results = self.ranked(query.get("q", ""), query.get("album"))
        offset = int(query.get("offset", 0))
        limit = int(query.get("limit", 100))
        return web.json_response(
            {"results": results[offset : offset + limit], "total": len(results)}
        )

    async def similar(self, request: web.Request) -> web.Response:
        image = self.image_or_404(request)
        if image is None:
            return error(404, "not_found", "No such image.")
        return web.json_response({"results": self.ranked(image.prompt, image.album)})

    async def settings_get(self, request: web.Request) -> web.Response:
        return web.json_response(self.d.settings)

    async def settings_put(self, request: web.Request) -> web.Response:
        body = await request.json()
        restart = body.get("port") != self.d.settings["port"]
        self.d.settings.update(body)
        return web.json_response({**self.d.settings, "restart_needed": restart})

    # The bridge's shapes (photomapd/api/routes_invokeai.py).
    async def invokeai_status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "configured": True,
                "reachable": True,
                "url": "http://127.0.0.1:9090",
                "version": "6.14.2",
            }
        )

    async def invokeai_settings(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "url": "http://127.0.0.1:9090",
                "username": None,
                "board_id": None,
                "has_password": False,
                "password_storage": "keyring",
                "password_warning": None,
            }
        )

    async def invokeai_boards(self, request: web.Request) -> web.Response:
        boards = [
            {"board_id": None, "board_name": "Uncategorized"},
            {"board_id": "b1", "board_name": "Portraits"},
        ]
        return web.json_response({"boards": boards})

    async def invokeai_available(self, request: web.Request) -> web.Response:
        keys = ("reference", "reference_append", "recall", "remix", "prompts", "seed", "gallery")
        return web.json_response(dict.fromkeys(keys, True))

    async def invokeai_action(self, request: web.Request) -> web.Response:
        body = await request.json() if request.body_exists else {}
        action = request.match_info["action"]
        self.d.invokeai_actions.append((int(request.match_info["id"]), action, body))
        message = f"{body.get('mode', action)} sent to InvokeAI"
        # Remix reports like a real partial recall: parts the UI joins into one message.
        remix = body.get("mode") == "remix"
        return web.json_response(
            {
                "action": action,
                "message": message,
                "warnings": ["the reference image was uploaded first"] if remix else [],
                "unresolved_models": ["Juggernaut XL v9"] if remix else [],
            }
        )

    async def fs_list(self, request: web.Request) -> web.Response:
        path = Path(request.query.get("path") or "/").resolve()
        dirs = sorted(
            child.name
            for child in path.iterdir()
            if child.is_dir() and not child.name.startswith(".")
        )
        return web.json_response(
            {"path": str(path), "parent": str(path.parent), "dirs": dirs[:200]}
        )

    async def zip(self, request: web.Request) -> web.Response:
        body = await request.json()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for image_id in body["ids"]:
                image = self.d.images[int(image_id)]
                archive.writestr(image.name, self.files[image.id % len(PALETTE)])
        return web.Response(body=buffer.getvalue(), content_type="application/zip")

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.d.queues.add(queue)
        try:
            await response.write(b": hello\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    await response.write(b": ping\n\n")
                    continue
                if item is None:
                    break
                kind, data = item
                await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.d.queues.discard(queue)
        return response

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "index.html")


def create_fake_app(daemon: FakeDaemon) -> web.Application:
    app = web.Application()
    r = Routes(daemon)
    add = app.router.add_route
    add("GET", "/api/status", r.status)
    add("GET", "/api/albums", r.albums)
    add("POST", "/api/albums", r.create_album)
    add("POST", "/api/albums/{key}/reindex", r.reindex)
    add("GET", "/api/albums/{key}/failures", r.failures)
    add("GET", "/api/albums/{key}/images", r.images)
    add("POST", "/api/images/zip", r.zip)
    add("GET", "/api/images/{id:\\d+}", r.image)
    add("GET", "/api/images/{id:\\d+}/thumbnail", r.thumbnail)
    add("GET", "/api/images/{id:\\d+}/file", r.file)
    add("GET", "/api/images/{id:\\d+}/metadata", r.metadata)
    add("GET", "/api/images/{id:\\d+}/similar", r.similar)
    add("PUT", "/api/images/{id:\\d+}/favourite", r.favourite)
    add("DELETE", "/api/images/{id:\\d+}/favourite", r.favourite)
    add("POST", "/api/images/{id:\\d+}/invokeai/{action}", r.invokeai_action)
    add("GET", "/api/images/{id:\\d+}/invokeai", r.invokeai_available)
    add("GET", "/api/invokeai/boards", r.invokeai_boards)
    add("GET", "/api/search", r.search)
    add("POST", "/api/search", r.search)
    add("GET", "/api/settings", r.settings_get)
    add("PUT", "/api/settings", r.settings_put)
    add("GET", "/api/invokeai/status", r.invokeai_status)
    add("GET", "/api/invokeai/settings", r.invokeai_settings)
    add("GET", "/api/fs/list", r.fs_list)
    add("GET", "/api/events", r.events)
    add("GET", "/", r.index)

    async def close_streams(app: web.Application) -> None:
        for queue in list(daemon.queues):
            queue.put_nowait(None)  # type: ignore[arg-type]

    app.on_shutdown.append(close_streams)
    app.router.add_static("/", WEB_DIR)
    return app


@contextmanager
def serve_fake(daemon: FakeDaemon) -> Iterator[str]:
    """Run the fake app on a loopback port in a background thread; yields the base URL."""

    async def start() -> web.AppRunner:
        daemon.loop = asyncio.get_running_loop()
        runner = web.AppRunner(create_fake_app(daemon), handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    async def stop(runner: web.AppRunner) -> None:
        await runner.cleanup()

    with serve_on_thread("fake-api", start, stop, timeout=10) as runner:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
