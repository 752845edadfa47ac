"""InvokeAI's own database, read-only and WAL-safe, with path-escape refusal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from photomapd.invokeai.gallery import upload_image
from photomapd.invokeai.local_db import (
    InvokeAIDatabase,
    LocalDatabaseError,
    outputs_dir_of,
    safe_relpath,
)

# DDL as a live InvokeAI 6.14.2 created it (sqlite_master of its databases/invokeai.db).
SCHEMA_614 = """
CREATE TABLE images (image_name TEXT NOT NULL PRIMARY KEY, image_origin TEXT NOT NULL,
  image_category TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
  session_id TEXT, node_id TEXT, metadata TEXT, is_intermediate BOOLEAN DEFAULT FALSE,
  created_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  updated_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  deleted_at DATETIME, starred BOOLEAN DEFAULT FALSE, has_workflow BOOLEAN DEFAULT FALSE,
  user_id TEXT DEFAULT 'system', image_subfolder TEXT NOT NULL DEFAULT '');
CREATE TABLE boards (board_id TEXT NOT NULL PRIMARY KEY, board_name TEXT NOT NULL,
  cover_image_name TEXT,
  created_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  updated_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  deleted_at DATETIME, archived BOOLEAN DEFAULT FALSE, user_id TEXT DEFAULT 'system',
  is_public BOOLEAN NOT NULL DEFAULT FALSE, board_visibility TEXT NOT NULL DEFAULT 'private');
CREATE TABLE board_images (board_id TEXT NOT NULL, image_name TEXT NOT NULL,
  created_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  updated_at DATETIME NOT NULL DEFAULT(STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')),
  deleted_at DATETIME, PRIMARY KEY (image_name));
"""
# 3.x: no archived, no user_id, no image_subfolder.
SCHEMA_3 = SCHEMA_614.replace(
    ", starred BOOLEAN DEFAULT FALSE, has_workflow BOOLEAN DEFAULT FALSE,\n"
    "  user_id TEXT DEFAULT 'system', image_subfolder TEXT NOT NULL DEFAULT ''",
    "",
).replace(
    ", archived BOOLEAN DEFAULT FALSE, user_id TEXT DEFAULT 'system',\n"
    "  is_public BOOLEAN NOT NULL DEFAULT FALSE, board_visibility TEXT NOT NULL DEFAULT "
    "'private'",
    "",
)

U1 = "11111111-1111-4111-8111-111111111111.png"
U2 = "22222222-2222-4222-8222-222222222222.png"
MASK = "33333333-3333-4333-8333-333333333333.png"
DATED = "44444444-4444-4444-8444-444444444444.png"


def make_root(tmp_path: Path, schema: str = SCHEMA_614) -> tuple[Path, sqlite3.Connection]:
    root = tmp_path / "invokeai"
    (root / "databases").mkdir(parents=True)
    images = root / "outputs" / "images"
    (images / "2026" / "11" / "25").mkdir(parents=True)
    db = sqlite3.connect(root / "databases" / "invokeai.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    subfolder = "image_subfolder" in schema

    def add(name, category="general", intermediate=0, folder=""):
        if subfolder:
            db.execute(
                "INSERT INTO images (image_name, image_origin, image_category, width, height,"
                " is_intermediate, image_subfolder) VALUES (?, 'internal', ?, 8, 8, ?, ?)",
                (name, category, intermediate, folder),
            )
        else:
            db.execute(
                "INSERT INTO images (image_name, image_origin, image_category, width, height,"
                " is_intermediate) VALUES (?, 'internal', ?, 8, 8, ?)",
                (name, category, intermediate),
            )
        (images / folder / name).write_bytes(b"png")

    add(U1)
    add(U2, "user")
    add(MASK, "mask", 1)
    if subfolder:
        add(DATED, folder="2026/11/25")
    db.execute("INSERT INTO boards (board_id, board_name) VALUES ('b1', 'Landscapes')")
    if "archived" in schema:
        db.execute("INSERT INTO boards (board_id, board_name, archived) VALUES ('b2', 'Old', 1)")
    db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)", (U1,))
    db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)", (MASK,))
    if subfolder:
        db.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)", (DATED,))
    db.commit()
    return root, db


def test_boards_and_images_with_boards_and_intermediates(tmp_path) -> None:
    root, writer = make_root(tmp_path)
    local = InvokeAIDatabase(root)
    assert [(b.board_name, b.image_count) for b in local.boards()] == [("Landscapes", 2)]
    assert [b.board_name for b in local.boards(include_archived=True)] == ["Landscapes", "Old"]
    by_name = {i.image_name: i for i in local.images()}
    assert set(by_name) == {U1, U2, DATED}  # the mask is intermediate
    assert by_name[U1].board_name == "Landscapes" and by_name[U2].board_id is None
    assert local.intermediate_names() == {MASK}
    assert {i.image_name for i in local.images([None])} == {U2}
    paths, warnings = local.board_files(["b1"])
    assert sorted(p.name for p in paths) == sorted([U1, DATED])
    assert root / "outputs/images/2026/11/25" / DATED in paths
    assert warnings == []
    writer.close()


def test_reads_while_invokeai_writes_in_wal_mode(tmp_path) -> None:
    root, writer = make_root(tmp_path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO images (image_name, image_origin, image_category, width, height) "
        "VALUES ('55555555-5555-4555-8555-555555555555.png', 'internal', 'general', 8, 8)"
    )
    local = InvokeAIDatabase(root)
    assert len(local.images()) == 3  # the open transaction is invisible, nothing blocks
    writer.commit()
    assert len(local.images()) == 4
    with pytest.raises(sqlite3.OperationalError):
        local._connect().execute("DELETE FROM images")
    writer.close()


def test_old_schema_without_subfolders_or_archive(tmp_path) -> None:
    root, writer = make_root(tmp_path, SCHEMA_3)
    local = InvokeAIDatabase(root)
    assert [b.board_name for b in local.boards()] == ["Landscapes"]
    assert {i.subfolder for i in local.images()} == {""}
    writer.close()


@pytest.mark.parametrize(
    ("subfolder", "name"),
    [
        ("..", U1),
        ("../../etc", "passwd"),
        ("2026/../..", U1),
        ("/abs", U1),
        ("a\\b", U1),
        ("", "../x.png"),
        ("", ".."),
        ("a//b", U1),
    ],
)
def test_escaping_names_are_refused(subfolder, name, tmp_path) -> None:
    assert safe_relpath(subfolder, name) is None


def test_escaping_rows_are_skipped_with_a_warning(tmp_path) -> None:
    root, writer = make_root(tmp_path)
    writer.execute(
        "INSERT INTO images (image_name, image_origin, image_category, width, height,"
        " image_subfolder) VALUES ('passwd', 'internal', 'general', 8, 8, '../../../etc')"
    )
    writer.execute("INSERT INTO board_images (board_id, image_name) VALUES ('b1', 'passwd')")
    writer.commit()
    (root / "outputs/images" / "link").symlink_to(tmp_path)
    writer.execute(
        "INSERT INTO images (image_name, image_origin, image_category, width, height,"
        " image_subfolder) VALUES (?, 'internal', 'general', 8, 8, 'link')",
        ("66666666-6666-4666-8666-666666666666.png",),
    )
    writer.execute(
        "INSERT INTO board_images (board_id, image_name) VALUES ('b1', ?)",
        ("66666666-6666-4666-8666-666666666666.png",),
    )
    writer.commit()
    paths, warnings = InvokeAIDatabase(root).board_files(["b1"])
    assert all(p.resolve().is_relative_to((root / "outputs/images").resolve()) for p in paths)
    assert any("passwd" in w for w in warnings)
    assert any("66666666" in w for w in warnings)
    writer.close()


def test_missing_database_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(LocalDatabaseError, match="InvokeAI database not found"):
        InvokeAIDatabase(tmp_path).boards()


def test_outputs_dir_from_invokeai_yaml(tmp_path) -> None:
    (tmp_path / "invokeai.yaml").write_text("schema_version: 4.0.3\noutputs_dir: /data/out  # x\n")
    assert outputs_dir_of(tmp_path) == Path("/data/out")
    (tmp_path / "invokeai.yaml").write_text("outputs_dir: 'my outputs'\n")
    assert outputs_dir_of(tmp_path) == tmp_path / "my outputs"
    (tmp_path / "invokeai.yaml").write_text("schema_version: 4.0.3\n")
    assert outputs_dir_of(tmp_path) == tmp_path / "outputs"


@pytest.mark.invokeai_live
async def test_live_invokeai_database(tmp_path) -> None:
    """Upload to the real InvokeAI, then find the image, its board and its file in its DB."""
    import os

    if os.environ.get("PHOTOMAPD_LIVE_INVOKEAI") != "1":
        pytest.skip("set PHOTOMAPD_LIVE_INVOKEAI=1 to run against a real InvokeAI")
    from photomapd.invokeai.client import InvokeAIClient
    from tests.invokeai.conftest import _start_live
    from tests.invokeai.fake_server import png_bytes

    base = Path(os.environ.get("PHOTOMAPD_LIVE_INVOKEAI_ROOT", tmp_path))
    url = _start_live(False, base)
    async with InvokeAIClient(url) as client:
        upload = await upload_image(client, png_bytes(), "live.png")
    local = InvokeAIDatabase(base / "ia-su")
    image = next(i for i in local.images() if i.image_name == upload.image_name)
    assert image.board_id is None and image.category == "user" and not image.is_intermediate
    path = local.path_for(image)
    assert path is not None and path.is_file()
