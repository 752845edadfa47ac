"""InvokeAI's own database wired into a real daemon: intermediates left out, each image's board,
board albums read from the outputs folder, escapes refused, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from photomapd import cli
from photomapd.config import AlbumConfig, load_config
from tests.helpers import EventStream, png_bytes, wait_for
from tests.invokeai.test_local_db import DATED, MASK, U1, U2, make_root

NEW = "77777777-7777-4777-8777-777777777777.png"
LATE_MASK = "88888888-8888-4888-8888-888888888888.png"
CONTROL = "99999999-9999-4999-8999-999999999999.png"
AFTER = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa.png"
COLORS = iter((n * 37 % 256, n * 91 % 256, n * 53 % 256) for n in range(1, 1000))


def real_pngs(root: Path) -> Path:
    """make_root writes placeholder bytes; the daemon needs decodable images."""
    images = root / "outputs" / "images"
    for path in images.rglob("*.png"):
        path.write_bytes(png_bytes(next(COLORS)))
    return images


def add_image(
    db: sqlite3.Connection, images: Path, name: str, *, intermediate: int = 0, board: str = ""
) -> None:
    db.execute(
        "INSERT INTO images (image_name, image_origin, image_category, width, height,"
        " is_intermediate) VALUES (?, 'internal', ?, 64, 64, ?)",
        (name, "mask" if intermediate else "general", intermediate),
    )
    if board:
        db.execute("INSERT INTO board_images (board_id, image_name) VALUES (?, ?)", (board, name))
    db.commit()


async def names_and_boards(running: Any, album: str) -> dict[str, str | None]:
    status, page = await running.get(f"/api/albums/{album}/images?limit=1000")
    assert status == 200, page
    return {item["name"]: item["board"] for item in page["items"]}


async def settle(running: Any) -> None:
    """Wait for the pipeline to go idle, then let the board sync run once."""
    daemon = running.daemon

    async def idle() -> bool:
        return daemon.pipeline.queued == 0 and not daemon.albums._reconciling

    await wait_for(idle, timeout=30, message="indexing idle")
    await daemon.board_sync.tick(force=True)


@pytest.fixture
def invokeai(tmp_path: Path) -> tuple[Path, sqlite3.Connection, Path]:
    root, db = make_root(tmp_path)
    images = real_pngs(root)
    yield root.resolve(), db, images.resolve()
    db.close()


async def test_default_album_skips_intermediates_and_shows_boards(
    invokeai, make_config, start_daemon
) -> None:
    root, db, images = invokeai
    config = make_config(worker_process=False)
    config.albums = [AlbumConfig("invokeai", "InvokeAI", [images])]
    config.invokeai_root = root
    running = await start_daemon(config)

    async def three() -> bool:
        return len(await names_and_boards(running, "invokeai")) == 3

    await wait_for(three, timeout=30, message="three images indexed")
    await settle(running)
    assert await names_and_boards(running, "invokeai") == {
        U1: "Landscapes",
        U2: "Uncategorized",
        DATED: "Landscapes",  # in outputs/images/2026/11/25
    }  # MASK is intermediate: never indexed

    # Live: an intermediate already in InvokeAI's database is left out by the watcher; a file
    # written after it shows the watcher has seen both.
    add_image(db, images, CONTROL, intermediate=1)
    await running.daemon.board_sync.tick()  # refreshes the cached set the watcher reads
    async with EventStream(running.session, running.url + "/api/events") as stream:
        (images / CONTROL).write_bytes(png_bytes(next(COLORS)))
        add_image(db, images, AFTER, board="b1")
        (images / AFTER).write_bytes(png_bytes(next(COLORS)))

        async def after_indexed() -> bool:
            return AFTER in await names_and_boards(running, "invokeai")

        await wait_for(after_indexed, timeout=30, message="the file after the intermediate")
        await settle(running)
    added = [d["image"]["name"] for kind, d, _ in stream.events if kind == "image_added"]
    assert AFTER in added and CONTROL not in added  # never indexed, not indexed-then-removed
    found = await names_and_boards(running, "invokeai")
    assert CONTROL not in found and found[AFTER] == "Landscapes"

    # The database lags a new file: it is indexed, then dropped once InvokeAI marks it.
    (images / LATE_MASK).write_bytes(png_bytes(next(COLORS)))

    async def late_indexed() -> bool:
        return LATE_MASK in await names_and_boards(running, "invokeai")

    await wait_for(late_indexed, timeout=30, message="not-yet-known file indexed")
    assert (await names_and_boards(running, "invokeai"))[LATE_MASK] is None  # unknown to InvokeAI
    add_image(db, images, LATE_MASK, intermediate=1)
    await settle(running)
    assert LATE_MASK not in await names_and_boards(running, "invokeai")

    # Moving an image to another board in InvokeAI shows at the next sync.
    db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)", (U2,))
    db.commit()
    assert await running.daemon.board_sync.tick() is True
    assert (await names_and_boards(running, "invokeai"))[U2] == "Landscapes"
    assert await running.daemon.board_sync.tick() is False  # nothing changed: no work

    # A full reconcile ("Update Index") keeps intermediates out too.
    status, summary = await running.send("POST", "/api/albums/invokeai/reindex")
    assert status == 202 and summary["queued"] == 0, summary
    await settle(running)
    assert set(await names_and_boards(running, "invokeai")) == {U1, U2, DATED, AFTER}


async def test_other_folders_are_not_filtered(invokeai, make_config, start_daemon, tmp_path):
    """Only InvokeAI's own images folder is filtered; a copy elsewhere keeps every file."""
    root, _, images = invokeai
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    for name in (U1, MASK):
        (elsewhere / name).write_bytes((images / name).read_bytes())
    config = make_config(elsewhere, worker_process=False)
    config.invokeai_root = root
    running = await start_daemon(config)

    async def both() -> bool:
        return len(await names_and_boards(running, "album0")) == 2

    await wait_for(both, timeout=30, message="both files indexed")
    await settle(running)
    assert await names_and_boards(running, "album0") == {U1: None, MASK: None}


async def test_board_album_contents_follow_invokeai(invokeai, make_config, start_daemon) -> None:
    root, db, images = invokeai
    config = make_config(worker_process=False)
    config.invokeai_root = root
    running = await start_daemon(config)

    status, album = await running.send(
        "POST", "/api/albums", json={"name": "Landscapes", "boards": ["landscapes"]}
    )
    assert status == 201, album
    assert album["boards"] == [{"id": "b1", "name": "Landscapes"}]
    assert album["folders"] == [{"path": str(images), "exists": True}]

    async def two() -> bool:
        return len(await names_and_boards(running, "landscapes")) == 2

    await wait_for(two, timeout=30, message="board album indexed")
    # U1 and DATED (subfolder honoured); MASK is on the board but intermediate; U2 elsewhere.
    await settle(running)
    assert await names_and_boards(running, "landscapes") == {U1: "Landscapes", DATED: "Landscapes"}

    # InvokeAI moves U2 onto the board and takes U1 off it.
    db.execute("DELETE FROM board_images WHERE image_name = ?", (U1,))
    db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)", (U2,))
    db.commit()
    assert await running.daemon.board_sync.tick() is True

    async def moved() -> bool:
        return set(await names_and_boards(running, "landscapes")) == {U2, DATED}

    await wait_for(moved, timeout=30, message="board change reflected")

    # Uncategorized is a board too; the album survives a restart of its config.
    status, uncategorized = await running.send(
        "POST", "/api/albums", json={"name": "Loose", "boards": ["Uncategorized"]}
    )
    assert status == 201 and uncategorized["boards"] == [{"id": "none", "name": "Uncategorized"}]

    async def loose() -> bool:
        return set(await names_and_boards(running, "loose")) == {U1}

    await wait_for(loose, timeout=30, message="uncategorized album")
    saved = load_config(config.data_dir)
    assert saved.album("landscapes").boards == ["b1"]
    assert saved.album("loose").boards == ["none"]


async def test_board_album_refuses_escaping_rows(invokeai, make_config, start_daemon) -> None:
    root, db, _ = invokeai
    outside = root.parent / "secret.png"
    outside.write_bytes(png_bytes((1, 2, 3)))
    db.execute(
        "INSERT INTO images (image_name, image_origin, image_category, width, height,"
        " image_subfolder) VALUES ('secret.png', 'internal', 'general', 8, 8, '../../..')"
    )
    db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', 'secret.png')")
    db.commit()
    config = make_config(worker_process=False)
    config.invokeai_root = root
    running = await start_daemon(config)
    status, _ = await running.send("POST", "/api/albums", json={"name": "L", "boards": ["b1"]})
    assert status == 201

    async def reconciled() -> Any:
        _, album = await running.get("/api/albums/l")
        return album["last_reconcile"]

    summary = await wait_for(reconciled, timeout=30, message="reconcile")
    assert any("secret.png" in warning for warning in summary["warnings"])
    await settle(running)
    found = await names_and_boards(running, "l")
    assert set(found) == {U1, DATED}
    _, everything = await running.get("/api/albums/all/images?limit=1000")
    assert all(not item["path"].startswith(str(outside)) for item in everything["items"])


async def test_board_album_errors_are_clear(invokeai, make_config, start_daemon) -> None:
    root, _, _ = invokeai
    config = make_config(worker_process=False)
    running = await start_daemon(config)

    status, body = await running.send("POST", "/api/albums", json={"name": "x", "boards": ["b1"]})
    assert status == 400 and body["error"]["code"] == "invokeai_root_not_set"
    assert "--root" in body["error"]["message"]

    running.daemon.config.invokeai_root = root
    status, body = await running.send(
        "POST", "/api/albums", json={"name": "x", "boards": ["Portraits"]}
    )
    assert status == 400 and body["error"]["code"] == "board_not_found"
    assert "'Portraits'" in body["error"]["message"] and "'Landscapes'" in body["error"]["message"]

    status, body = await running.send(
        "POST", "/api/albums", json={"name": "x", "boards": ["b1"], "folders": [str(root)]}
    )
    assert status == 400 and body["error"]["code"] == "boards_and_folders"

    running.daemon.config.invokeai_root = root / "nowhere"
    status, body = await running.send("POST", "/api/albums", json={"name": "x", "boards": ["b1"]})
    assert status == 400 and "InvokeAI database not found" in body["error"]["message"]
    status, albums = await running.get("/api/albums")
    assert albums["albums"] == []  # nothing half-created


def test_cli_adds_a_board_album_offline(invokeai, tmp_path, capsys, monkeypatch) -> None:
    root, _, images = invokeai
    data = tmp_path / "cli-data"
    monkeypatch.setenv("PHOTOMAPD_PORT", "9")  # nothing listens: the offline path
    config = load_config(data)
    config.invokeai_root = root
    config.save()

    assert (
        cli.main(["--data-dir", str(data), "albums", "add", "Land", "--board", "Landscapes"]) == 0
    )
    album = load_config(data).album("land")
    assert album is not None and album.boards == ["b1"] and album.folders == [images]

    assert cli.main(["--data-dir", str(data), "albums", "add", "P", "--board", "Portraits"]) == 1
    assert "InvokeAI has no board 'Portraits'" in capsys.readouterr().err
    assert cli.main(["--data-dir", str(data), "albums", "add", "P"]) == 2
    assert "--board" in capsys.readouterr().err
