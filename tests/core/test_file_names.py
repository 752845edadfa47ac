"""File names that are not valid UTF-8 (any byte string is a legal name on Linux) are indexed,
served, searched, renamed and deleted like any other, and shown as valid UTF-8 JSON."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from photomapd.store.indexed_rows import IndexedImage
from photomapd.store.metadata_index import MetadataIndex
from photomapd.store.store import Store
from tests.helpers import png_bytes, wait_for

BAD_NAME = b"bad-\xff.png"  # \xff never occurs in UTF-8
SHOWN_NAME = "bad-\ufffd.png"
PROMPT = "a lighthouse on a cliff\nNegative prompt: blurry\nSteps: 20, Sampler: Euler, Seed: 7"


def _write_bad_name(folder: Path, name: bytes, data: bytes) -> bytes:
    """The file at `folder/name` written through a bytes path, as os.fsencode spells it."""
    path = os.path.join(os.fsencode(folder), name)
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError as error:  # macOS (APFS) and Windows refuse such names outright
        pytest.skip(f"this file system refuses a non-UTF-8 file name: {error}")
    return path


def _strict_json(raw: bytes) -> object:
    """Parsed JSON that is valid UTF-8 and holds no lone surrogate (not even as \\udcXX)."""
    body = json.loads(raw.decode("utf-8"))
    json.dumps(body, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return body


@pytest.mark.skipif(sys.platform == "win32", reason="Windows file names are UTF-16")
async def test_a_non_utf8_name_among_good_files_is_indexed_served_and_searchable(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(5):
        (folder / f"good-{number}.png").write_bytes(png_bytes((40 * number, 90, 200 - number)))
    bad_data = png_bytes((250, 250, 10), text={"parameters": PROMPT})
    bad_path = _write_bad_name(folder, BAD_NAME, bad_data)
    running = await start_daemon(make_config(folder))

    async def listed(count: int):
        async with running.session.get(running.url + "/api/albums/album0/images") as response:
            assert response.status == 200
            page = _strict_json(await response.read())
        ok = [item for item in page["items"] if item["status"] == "ok" and item["embedded"]]
        return page if page["total"] == count and len(ok) == count else None

    page = await wait_for(lambda: listed(6), timeout=60, message="six files indexed")
    [bad] = [item for item in page["items"] if item["name"] == SHOWN_NAME]
    assert bad["path"] == str(folder / SHOWN_NAME)  # shown with U+FFFD in place of the byte
    status, failures = await running.get("/api/albums/album0/failures")
    assert (status, failures["items"]) == (200, [])

    # Served by id: the exact bytes, and a thumbnail.
    async with running.session.get(running.url + bad["file_url"]) as response:
        assert response.status == 200
        assert await response.read() == bad_data
        assert SHOWN_NAME in response.headers["Content-Disposition"]
    async with running.session.get(running.url + bad["thumbnail_url"]) as response:
        assert response.status == 200
        assert "X-Photomapd-Placeholder" not in response.headers
        thumbnail = await response.read()
        assert thumbnail[:4] == b"RIFF" and thumbnail[8:12] == b"WEBP"

    # Searchable: by meaning (all six) and by its prompt (only it).
    async with running.session.get(running.url + "/api/search?q=a+photo&limit=50") as response:
        found = _strict_json(await response.read())
    assert sorted(hit["image"]["name"] for hit in found["results"]) == sorted(
        [*(f"good-{n}.png" for n in range(5)), SHOWN_NAME]
    )
    async with running.session.get(running.url + "/api/search?prompt=lighthouse") as response:
        found = _strict_json(await response.read())
    assert [hit["image"]["id"] for hit in found["results"]] == [bad["id"]]

    # A reconcile finds nothing new: the stored name matches the one on disk, byte for byte.
    summary = await running.daemon.albums.reconcile("album0")
    assert (summary["queued"], summary["unchanged"]) == (0, 6)

    # Renamed (to another non-UTF-8 name): the row follows, keeping its id.
    renamed = os.path.join(os.fsencode(folder), b"renamed-\xfe\xfd.png")
    os.rename(bad_path, renamed)

    async def followed():
        page = await listed(6)
        names = {item["name"]: item["id"] for item in page["items"]} if page else {}
        return names if "renamed-\ufffd\ufffd.png" in names else None

    names = await wait_for(followed, message="the rename followed")
    assert names["renamed-\ufffd\ufffd.png"] == bad["id"] and SHOWN_NAME not in names
    status, _ = await running.get(bad["file_url"])
    assert status == 200

    # Deleted: gone from the album.
    os.unlink(renamed)
    await wait_for(lambda: listed(5), message="the deleted file removed")


async def test_the_store_gives_back_every_path_exactly(tmp_path: Path):
    """Rows round-trip a non-UTF-8 path (and a thumbnail path beside it) to the same str, so
    lookups, renames, errors and prefill rows all meet the same row; text paths stay text."""
    folder = str(tmp_path)
    bad = os.fsdecode(os.path.join(os.fsencode(folder), b"x-\xff\xfe.png"))
    thumbnail = os.fsdecode(os.path.join(os.fsencode(folder), b"thumbnails", b"x-\xff\xfe.webp"))
    good = os.path.join(folder, "caf\u00e9.png")
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    try:
        record = IndexedImage(0, 10, 1.0, "hash-a", 8, 8, None, None, 1, thumbnail)
        bad_id, is_new = await store.save_indexed("a", bad, record)
        assert is_new
        other_file = dataclasses.replace(record, content_hash="hash-b", thumbnail=None)
        good_id, _ = await store.save_indexed("a", good, other_file)
        assert set(await store.known_files("a")) == {bad, good}
        row = await store.get_image(bad_id)
        assert row is not None and (row["path"], row["thumbnail"]) == (bad, thumbnail)
        # Written again (a change on disk): the same row, not a second one.
        assert await store.save_indexed("a", bad, record) == (bad_id, False)
        # A failure is recorded on the same row.
        assert await store.save_error("a", bad, 11, 2.0, "broken") == (bad_id, False)
        renamed = bad.replace("x-", "y-")
        assert await store.rename("a", bad, renamed) == bad_id
        assert await store.mark_missing("a", [renamed]) == [bad_id]
        # The prefill sees the bad path as known, and can insert a new one.
        other = Path(bad.replace("x-", "z-"))
        other.write_bytes(png_bytes((1, 2, 3)))
        assert await MetadataIndex(store).prefill("a", [other, Path(renamed)]) == 1
        assert str(other) in await store.known_files("a")
    finally:
        await store.close()
    # On disk, text stays text (no migration) and the bad name is its exact bytes.
    with sqlite3.connect(tmp_path / "db.sqlite3") as connection:
        stored = dict(connection.execute("SELECT id, path FROM images").fetchall())
    assert stored[good_id] == good
    assert stored[bad_id] == os.fsencode(renamed)
