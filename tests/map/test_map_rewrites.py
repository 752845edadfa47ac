"""Through the real daemon: a file rewritten in place (same path, new picture, new embedding)
is placed again at once and announced; a favourite toggle never moves a point; a deleted file
leaves the map at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photomapd.api.keys import MAP_SERVICE
from photomapd.map.payload import decode_payload
from tests.helpers import EventStream, png_bytes, wait_for
from tests.map.test_map_api import COLOURS, _map

# COLOURS: two reds (0, 1), two blues (2, 3), two greens (4, 5).
RED, BLUE = 0, 2


def _position(body: dict, image_id: int) -> np.ndarray:
    points = decode_payload(body)
    (row,) = np.flatnonzero(points.ids == image_id)
    return points.xy[row]


async def test_rewritten_file_is_placed_again_and_a_deleted_one_leaves_at_once(
    tmp_path: Path, make_config, start_daemon
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for number, colour in enumerate(COLOURS):
        (folder / f"img{number}.png").write_bytes(png_bytes(colour))
    running = await start_daemon(make_config(folder))

    async def laid_out() -> dict | None:
        body = await _map(running)
        return body if body["count"] == len(COLOURS) and body["status"] == "ready" else None

    before = await wait_for(laid_out, timeout=30, message="all images on the map")
    _, page = await running.get("/api/albums/album0/images?limit=50")
    id_of = {item["name"]: item["id"] for item in page["items"]}
    red, blue = id_of[f"img{RED}.png"], id_of[f"img{BLUE}.png"]
    old = _position(before, red)

    async with EventStream(running.session, running.url + "/api/events") as stream:
        # A favourite is an image_updated too, but the picture is the same: no move.
        status, _ = await running.send("PUT", f"/api/images/{red}/favourite")
        assert status == 200
        await stream.wait_kind("image_updated", lambda d: d["image"]["favourite"])

        # Rewrite the red image as the blue picture, in place.
        (folder / f"img{RED}.png").write_bytes(png_bytes(COLOURS[BLUE]))
        update = await stream.wait_kind(
            "map_updated", lambda d: any(p["id"] == red for p in d.get("added", [])), timeout=30
        )
        updates = stream.of_kind("map_updated")
    # The first map update after the favourite is the rewrite's: the favourite moved nothing.
    assert updates[0] is update
    (moved,) = update["added"]
    assert update["removed"] == [] and update["count"] == len(COLOURS)
    new = np.array([moved["x"], moved["y"]])
    assert np.abs(new - old).max() > 1e-3, "the rewritten image kept its old position"
    # Placed by its neighbours in the usearch index (the centre would mean none was found).
    assert np.abs(new - 0.5).max() > 1e-3

    after = await _map(running)
    assert after["count"] == len(COLOURS)
    assert np.allclose(_position(after, red), new, atol=1e-4)
    # Placed by its new picture: nearer the blue images than it was as a red one.
    blue_xy = _position(after, blue)
    assert np.linalg.norm(new - blue_xy) < np.linalg.norm(old - blue_xy)
    # Every other point stayed where it was.
    others = [i for i in id_of.values() if i != red]
    for image_id in others:
        assert np.allclose(_position(after, image_id), _position(before, image_id), atol=1e-4)

    # The live map keeps positions only: placements above found their neighbours in usearch.
    service = running.daemon.runner.app[MAP_SERVICE]
    assert not service._albums["album0"].semantic.layout.has_vectors

    # A deleted file leaves the map at once, announced as removed.
    gone = id_of["img5.png"]
    async with EventStream(running.session, running.url + "/api/events") as stream:
        (folder / "img5.png").unlink()
        removal = await stream.wait_kind("map_updated", lambda d: gone in d.get("removed", []))
    assert removal["count"] == len(COLOURS) - 1
    assert gone not in decode_payload(await _map(running)).ids.tolist()
