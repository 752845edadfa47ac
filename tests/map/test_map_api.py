"""The map through the real daemon: indexing publishes image_added, the MapService places the
point, persists it, announces map_updated, and the API serves compact arrays."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from photomapd.map.payload import decode_payload
from tests.helpers import EventStream, png_bytes, wait_for

COLOURS = [(250, 0, 0), (240, 20, 10), (0, 0, 250), (10, 20, 240), (0, 250, 0), (20, 240, 30)]


async def _map(running, album: str = "album0") -> dict:  # type: ignore[no-untyped-def]
    """The map body, waiting out the moment after start while the saved map loads (503)."""

    async def loaded() -> dict | None:
        status, body = await running.get(f"/api/albums/{album}/map")
        if status == 503:
            assert body["error"]["code"] == "map_loading"
            return None
        assert status == 200, body
        return body

    return await wait_for(loaded, message="map loaded")


async def test_map_follows_indexing_and_survives_a_restart(
    tmp_path: Path, make_config, start_daemon
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for number, colour in enumerate(COLOURS):
        (folder / f"img{number}.png").write_bytes(png_bytes(colour))
    config = make_config(folder)
    running = await start_daemon(config)

    async def all_placed() -> dict | None:
        body = await _map(running)
        ready = body["count"] == len(COLOURS) and body["status"] == "ready"
        return body if ready else None

    body = await wait_for(all_placed, timeout=30, message="all images on the map")
    points = decode_payload(body)
    assert len(set(map(tuple, points.xy.tolist()))) == len(COLOURS)  # laid out, not stacked
    assert points.xy.min() >= 0.0 and points.xy.max() <= 1.0
    _, page = await running.get("/api/albums/album0/images?limit=50")
    assert sorted(points.ids.tolist()) == sorted(item["id"] for item in page["items"])

    async def all_placed_and_ready() -> dict | None:
        body = await _map(running)
        return body if body["status"] == "ready" else None

    # A new image appears on the map live, announced with its position.
    async with EventStream(running.session, running.url + "/api/events") as stream:
        (folder / "late.png").write_bytes(png_bytes((245, 5, 5)))
        update = await stream.wait_kind("map_updated", lambda d: d.get("added"), timeout=30)
    (added,) = update["added"]
    assert update["album"] == "album0" and update["count"] == len(COLOURS) + 1
    assert 0.0 <= added["x"] <= 1.0 and 0.0 <= added["y"] <= 1.0
    body = await _map(running)
    assert added["id"] in decode_payload(body).ids.tolist()

    # gzip is served when asked for, and the ETag avoids resending an unchanged map.
    async with running.session.get(
        running.url + "/api/albums/album0/map",
        headers={"Accept-Encoding": "gzip"},
        auto_decompress=False,
    ) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        raw = await response.read()
        etag = response.headers["ETag"]
    assert json.loads(gzip.decompress(raw))["count"] == len(COLOURS) + 1
    async with running.session.get(
        running.url + "/api/albums/album0/map", headers={"If-None-Match": etag}
    ) as response:
        assert response.status == 304

    status, clusters = await running.get("/api/albums/album0/map/clusters")
    assert status == 200 and clusters["album"] == "album0" and "clusters" in clusters
    # Under 10 points nothing is dense enough to be a cluster: all are noise (-1).
    status, noise = await running.get("/api/albums/album0/map/clusters/-1")
    assert status == 200 and sorted(noise["ids"]) == sorted(decode_payload(body).ids.tolist())
    status, error = await running.get("/api/albums/album0/map/clusters/first")
    assert status == 400 and error["error"]["code"] == "invalid_parameter"
    before = decode_payload(await wait_for(all_placed_and_ready, message="map settled"))

    # Restart on the same data folder: the saved map is served at once, points unmoved.
    await running.session.close()
    await running.daemon.stop()
    again = await start_daemon(config)
    after = decode_payload(await _map(again))
    assert after.ids.tolist() == before.ids.tolist()
    assert abs(after.xy - before.xy).max() < 1e-4


async def test_map_api_errors_are_clear(tmp_path: Path, make_config, start_daemon) -> None:
    running = await start_daemon(make_config(tmp_path / "images"))
    await _map(running)
    status, body = await running.get("/api/albums/nope/map")
    assert status == 404 and body["error"]["code"] == "album_not_found"
    status, body = await running.send(
        "PUT", "/api/albums/album0/map/strength", json={"strength": 3}
    )
    assert status == 400 and "between 0 and 1" in body["error"]["message"]
    status, body = await running.send("PUT", "/api/albums/album0/map/strength", data="x")
    assert status == 400 and body["error"]["code"] == "invalid_body"
    status, body = await running.send(
        "PUT", "/api/albums/album0/map/strength", json={"strength": 0.8}
    )
    assert status == 200 and body["strength"] == 0.8 and body["clusters"] == []
    status, body = await running.send("POST", "/api/albums/album0/map/refit")
    assert status == 202 and body["refit"] in ("started", "running")
    empty = await _map(running)
    assert empty["count"] == 0 and empty["status"] in ("empty", "fitting")
