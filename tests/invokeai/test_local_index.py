"""The cached view of InvokeAI's database: one query per change, board resolution, skip filter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from photomapd.config import AlbumConfig
from photomapd.intake import scanner
from photomapd.invokeai.local_db import LocalDatabaseError
from photomapd.invokeai.local_index import LocalIndex
from tests.invokeai.test_local_db import DATED, MASK, U1, U2, make_root


def counting(local: LocalIndex) -> list[int]:
    calls = [0]
    original = local.database.flags

    def flags(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    local.database.flags = flags  # type: ignore[method-assign]
    return calls


def test_snapshot_is_read_once_per_database_change(tmp_path: Path) -> None:
    root, writer = make_root(tmp_path)
    local = LocalIndex(root, min_interval=0.0)
    calls = counting(local)
    images = root / "outputs" / "images"
    for _ in range(50):
        assert local.is_intermediate(images / MASK)
        assert not local.is_intermediate(images / U1)
    assert calls[0] == 1  # the database did not change: no further query
    assert local.board_of(images / U1) == "Landscapes"
    assert local.board_of(str(images / U2)) == "Uncategorized"
    assert local.board_of(images / MASK) is None  # intermediates have no album-visible board
    time.sleep(0.01)
    writer.execute("UPDATE images SET is_intermediate = 1 WHERE image_name = ?", (U2,))
    writer.commit()
    assert local.is_intermediate(images / U2)
    assert calls[0] == 2
    writer.close()


def test_min_interval_bounds_how_often_live_events_look(tmp_path: Path) -> None:
    root, writer = make_root(tmp_path)
    local = LocalIndex(root, min_interval=60.0)
    calls = counting(local)
    images = root / "outputs" / "images"
    assert not local.is_intermediate(images / U2)
    writer.execute("UPDATE images SET is_intermediate = 1 WHERE image_name = ?", (U2,))
    writer.commit()
    assert not local.is_intermediate(images / U2)  # cached: the watcher thread stays cheap
    assert local.snapshot(fresh=True).intermediates == {MASK, U2}  # a reconcile does not wait
    assert calls[0] == 2
    writer.close()


def test_missing_database_skips_nothing(tmp_path: Path) -> None:
    local = LocalIndex(tmp_path / "nowhere")
    assert not local.is_intermediate(tmp_path / MASK)
    assert "InvokeAI database not found" in (local.snapshot().error or "")


def test_resolve_boards_by_name_id_and_uncategorized(tmp_path: Path) -> None:
    root, writer = make_root(tmp_path)
    local = LocalIndex(root)
    assert local.resolve_boards(["landscapes", "b1", "Uncategorized", "old"]) == [
        "b1",
        "none",
        "b2",
    ]
    with pytest.raises(LocalDatabaseError, match=r"no board 'Portraits'.*'Landscapes'"):
        local.resolve_boards(["Portraits"])
    assert local.board_names(["b1", "none", "gone"]) == {
        "b1": "Landscapes",
        "none": "Uncategorized",
        "gone": None,
    }
    found = local.board_files(["b1", "none"])
    assert sorted(Path(p).name for p in found.files) == sorted([U1, U2, DATED])
    writer.close()


def test_scanner_skip_leaves_out_intermediates(tmp_path: Path) -> None:
    root, writer = make_root(tmp_path)
    local = LocalIndex(root)
    images = (root / "outputs" / "images").resolve()
    album = AlbumConfig("invokeai", "InvokeAI", [images])
    assert local.covers(images) and not local.covers(tmp_path)
    without = scanner.reconcile(album, {})
    with_skip = scanner.reconcile(album, {}, local.is_intermediate)
    assert {p.name for p in without.new_or_changed} == {U1, U2, MASK, DATED}
    assert {p.name for p in with_skip.new_or_changed} == {U1, U2, DATED}
    writer.close()
