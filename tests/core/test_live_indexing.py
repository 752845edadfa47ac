"""Live indexing through the real watcher, pipeline, model, database and HTTP stream."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from tests.helpers import EventStream, png_bytes, wait_for, write_slowly


async def test_file_written_in_pieces_and_renamed_appears_live(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "outputs" / "images"
    running = await start_daemon(make_config(folder))
    async with EventStream(running.session, running.url + "/api/events") as stream:
        # Warm-up: the first image after start (or after an idle unload) also waits for the
        # model to load; the latency promise is for a warm daemon.
        (folder / "warm-up.png").write_bytes(png_bytes((9, 9, 9)))
        await stream.wait_kind("image_added", lambda d: d["image"]["name"] == "warm-up.png")
        written_at = time.monotonic()
        await write_slowly(folder / "first.png", png_bytes((200, 30, 30)), pieces=5)
        closed_at = time.monotonic()
        added = await stream.wait_kind("image_added", lambda d: d["image"]["name"] == "first.png")
        arrival = next(
            t
            for kind, d, t in stream.events
            if kind == "image_added" and d["image"]["name"] == "first.png"
        )
    assert arrival - closed_at < 2.0, (
        f"took {arrival - closed_at:.2f} s after the file was complete"
    )
    assert arrival > written_at
    image = added["image"]
    assert image["status"] == "ok" and image["embedded"] is True
    assert image["width"] == 64 and image["height"] == 64
    # The temp name never became a row.
    status, page = await running.get("/api/albums/album0/images")
    assert status == 200
    assert [item["name"] for item in page["items"]] == ["first.png", "warm-up.png"]
    assert page["total"] == 2


async def test_file_written_in_place_slowly_is_indexed_once_complete(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    running = await start_daemon(make_config(folder))
    data = png_bytes((10, 200, 10), size=128)
    await write_slowly(folder / "slow.png", data, pieces=6, pause=0.2, via_temp_name=False)

    async def indexed() -> object:
        _, page = await running.get("/api/albums/album0/images")
        return [item for item in page["items"] if item["status"] == "ok"]

    items = await wait_for(indexed, message="slow.png indexed")
    assert len(items) == 1 and items[0]["size"] == len(data)
    assert items[0]["error"] is None
    _, failures = await running.get("/api/albums/album0/failures")
    assert failures["items"] == []


async def test_search_similar_thumbnail_and_file(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "images"
    folder.mkdir()
    for number, color in enumerate([(250, 0, 0), (240, 10, 10), (0, 0, 250)]):
        (folder / f"img{number}.png").write_bytes(png_bytes(color))
    running = await start_daemon(make_config(folder))

    async def all_embedded() -> object:
        _, page = await running.get("/api/albums/album0/images")
        return page["total"] == 3 and all(item["embedded"] for item in page["items"])

    await wait_for(all_embedded, message="3 images embedded")
    status, results = await running.get("/api/search", params={"q": "a red square", "limit": 2})
    assert status == 200
    assert len(results["results"]) == 2
    scores = [hit["score"] for hit in results["results"]]
    assert scores == sorted(scores, reverse=True)

    _, page = await running.get("/api/albums/album0/images")
    by_name = {item["name"]: item for item in page["items"]}
    red = by_name["img0.png"]["id"]
    status, similar = await running.get(f"/api/images/{red}/similar", params={"limit": 5})
    assert status == 200
    ids = [hit["image"]["id"] for hit in similar["results"]]
    assert red not in ids and len(ids) == 2
    assert ids[0] == by_name["img1.png"]["id"], "the near-identical red image should rank first"

    async with running.session.get(f"{running.url}/api/images/{red}/thumbnail") as response:
        assert response.status == 200
        etag = response.headers["ETag"]
        assert "max-age" in response.headers["Cache-Control"]
        assert (await response.read())[:4] == b"RIFF"
    async with running.session.get(
        f"{running.url}/api/images/{red}/thumbnail", headers={"If-None-Match": etag}
    ) as response:
        assert response.status == 304
    status, body = await running.get(f"/api/images/{red}/file")
    assert status == 200 and body == (folder / "img0.png").read_bytes()

    # Search by an uploaded image, and combined with text.
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("image", png_bytes((0, 0, 255)), filename="q.png", content_type="image/png")
    status, results = await running.send("POST", "/api/search", data=form)
    assert status == 200
    assert results["results"][0]["image"]["name"] == "img2.png"
    form = aiohttp.FormData()
    form.add_field("q", "blue")
    form.add_field("image", png_bytes((0, 0, 255)), filename="q.png", content_type="image/png")
    status, results = await running.send("POST", "/api/search", data=form)
    assert status == 200 and len(results["results"]) == 3

    status, results = await running.get("/api/search", params={"q": "red", "negative": "blue"})
    assert status == 200 and results["results"]
    status, error = await running.get("/api/search", params={"q": ""})
    assert status == 400 and error["error"]["code"] == "empty_query"


async def test_rename_keeps_id_and_delete_removes(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((5, 5, 5)))
    running = await start_daemon(make_config(folder))

    async def first_page() -> list:
        _, page = await running.get("/api/albums/album0/images")
        return [item for item in page["items"] if item["embedded"]]

    [original] = await wait_for(first_page, message="a.png indexed")
    await running.send("PUT", f"/api/images/{original['id']}/favourite")
    async with EventStream(running.session, running.url + "/api/events") as stream:
        (folder / "sub").mkdir()
        os.replace(folder / "a.png", folder / "sub" / "renamed.png")

        # A move into a folder created a moment ago can reach inotify as delete + create (the
        # new folder was not watched yet); either way the content hash keeps the id.
        async def arrived() -> dict | None:
            for kind in ("image_updated", "image_added"):
                for data in stream.of_kind(kind):
                    if data["image"]["name"] == "renamed.png":
                        return data
            return None

        updated = await wait_for(arrived, message="renamed.png announced")
        assert updated["image"]["id"] == original["id"]
        assert updated["image"]["favourite"] is True
        (folder / "sub" / "renamed.png").unlink()
        removed = await stream.wait_kind("image_removed")
    assert removed["id"] == original["id"]
    _, page = await running.get("/api/albums/album0/images")
    assert page["total"] == 0
    status, _ = await running.get(f"/api/images/{original['id']}")
    assert status == 404


async def test_copy_tool_move_out_and_back_keeps_id(tmp_path: Path, make_config, start_daemon):
    """Delete + create of the same bytes (a move by a copy tool) is matched by content hash."""
    folder = tmp_path / "images"
    folder.mkdir()
    data = png_bytes((90, 40, 200))
    (folder / "x.png").write_bytes(data)
    running = await start_daemon(make_config(folder))

    async def indexed() -> list:
        _, page = await running.get("/api/albums/album0/images")
        return page["items"]

    [original] = await wait_for(indexed, message="x.png indexed")
    (folder / "x.png").unlink()
    await wait_for(lambda: _empty(running), message="x.png removed")
    (folder / "y.png").write_bytes(data)
    [moved] = await wait_for(indexed, message="y.png indexed")
    assert moved["name"] == "y.png" and moved["id"] == original["id"]


async def _empty(running) -> bool:
    _, page = await running.get("/api/albums/album0/images")
    return page["total"] == 0


async def test_corrupt_file_recorded_with_reason_and_retried_when_changed(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    good = png_bytes((1, 2, 3))
    broken = folder / "broken.png"
    broken.write_bytes(good[: len(good) // 2])
    old = time.time() - 60  # an old, truncated file: not "still being written"
    os.utime(broken, (old, old))
    running = await start_daemon(make_config(folder))

    async def failures() -> list:
        _, body = await running.get("/api/albums/album0/failures")
        return body["items"]

    [failure] = await wait_for(failures, message="broken.png recorded as failed")
    assert failure["path"] == str(broken)
    assert "truncated" in failure["error"].lower() or "incomplete" in failure["error"].lower()
    assert failure["error"].count("retried when") == 1
    _, album = await running.get("/api/albums/album0")
    assert album["failed"] == 1
    # Fixing the file retries it.
    broken.write_bytes(good)
    await wait_for(lambda: _no_failures(running), message="broken.png fixed")


async def _no_failures(running) -> bool:
    _, body = await running.get("/api/albums/album0/failures")
    _, page = await running.get("/api/albums/album0/images")
    return body["items"] == [] and page["items"] and page["items"][0]["status"] == "ok"


async def test_hidden_temp_and_thumbnail_files_are_ignored(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    running = await start_daemon(make_config(folder))
    (folder / "thumbnails").mkdir()
    (folder / "thumbnails" / "t.webp").write_bytes(b"x")
    (folder / ".hidden.png").write_bytes(png_bytes((3, 3, 3)))
    (folder / "partial.png.part").write_bytes(png_bytes((3, 3, 3)))
    (folder / "real.png").write_bytes(png_bytes((4, 4, 4)))

    async def indexed() -> list:
        _, page = await running.get("/api/albums/album0/images")
        return page["items"]

    await wait_for(indexed, message="real.png")
    await asyncio.sleep(0.5)
    _, page = await running.get("/api/albums/album0/images")
    assert [item["name"] for item in page["items"]] == ["real.png"]


async def test_identical_copies_share_a_thumbnail_without_racing(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    data = png_bytes((33, 66, 99))
    for number in range(12):
        (folder / f"copy{number}.png").write_bytes(data)
    running = await start_daemon(make_config(folder))

    async def all_ok() -> bool:
        _, page = await running.get("/api/albums/album0/images", params={"limit": 50})
        return page["total"] == 12 and all(item["status"] == "ok" for item in page["items"])

    await wait_for(all_ok, message="12 identical copies indexed")
    _, failures = await running.get("/api/albums/album0/failures")
    assert failures["items"] == []


async def test_empty_file_gets_an_error_instead_of_waiting_forever(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    old = time.time() - 60
    os.utime(empty, (old, old))
    running = await start_daemon(make_config(folder))

    async def failed() -> list:
        _, body = await running.get("/api/albums/album0/failures")
        return body["items"]

    [failure] = await wait_for(failed, message="empty.png recorded")
    assert "empty" in failure["error"] and failure["error"].count("retried") == 1
    _, status = await running.get("/api/status")
    assert status["indexing"]["queued"] == 0
