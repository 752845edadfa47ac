"""prefill: header-only 'pending' rows make a new library prompt-searchable before decoding."""

from __future__ import annotations

import shutil
from pathlib import Path

from photomapd.store.indexed_rows import IndexedImage
from photomapd.store.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store.store import Store


async def test_prefill_then_pipeline_fills_the_same_row(tmp_path: Path, corpus: Path) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    names = [
        "invokeai-v6-generated/v6142-flux-txt2img-guidance.png",
        "a1111/webui-itxt.png",
        "none/stripped.jpg",
    ]
    paths = []
    for name in names:
        target = folder / Path(name).name
        shutil.copy(corpus / name, target)
        paths.append(target)
    paths.append(folder / "vanished.png")  # listed by a scan, gone before the prefill
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    try:
        index = MetadataIndex(store)
        assert await index.prefill("a", paths) == 3
        assert await index.prefill("a", paths) == 0  # existing rows are left alone
        ids, total = await index.search(MetadataFilter(prompt="cabin"), "a", 10, 0)
        assert total == 1
        row = await store.get_image(ids[0])
        assert row is not None and row["status"] == "pending"
        facets = await index.facets("a", MetadataFilter())
        assert facets["total"] == 3 and facets["without_metadata"] == 1

        # The pipeline reaches the file later: same row, now 'ok', still searchable.
        image_id, is_new = await store.save_indexed(
            "a",
            str(paths[0]),
            IndexedImage(ids[0], 1, 1.0, "hash", 256, 144, row["metadata_json"], None, 1, None),
        )
        # Same row; announced as new, since only the prefill had seen it.
        assert (image_id, is_new) == (ids[0], True)
        assert (await index.search(MetadataFilter(lora="flux-realism-lora"), "a", 10, 0))[0] == [
            image_id
        ]
    finally:
        await store.close()


async def test_a_file_moved_while_stopped_keeps_its_row_over_the_placeholder(
    tmp_path: Path, corpus: Path
) -> None:
    """Reconcile after a move: old path marked missing, new path prefilled; the old row wins."""
    folder = tmp_path / "outputs"
    folder.mkdir()
    moved = folder / "moved.png"
    shutil.copy(corpus / "a1111/webui-itxt.png", moved)
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    try:
        record = IndexedImage(0, 1, 1.0, "same-bytes", 8, 8, None, None, 1, None)
        old_id, _ = await store.save_indexed("a", str(folder / "old.png"), record)
        await store.set_favourite(old_id, True)
        await store.mark_missing("a", [str(folder / "old.png")])
        assert await MetadataIndex(store).prefill("a", [moved]) == 1

        image_id, is_new = await store.save_indexed("a", str(moved), record)
        assert (image_id, is_new) == (old_id, True)
        rows = await store.fetch_all("SELECT id, path, status, favourite FROM images")
        assert [tuple(row) for row in rows] == [(old_id, str(moved), "ok", 1)]
        ids, _ = await MetadataIndex(store).search(MetadataFilter(prompt="miku"), None, 5, 0)
        assert ids == []  # the placeholder's index entries went with it
    finally:
        await store.close()
