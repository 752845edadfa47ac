"""prefill: header-only 'pending' rows make a new library prompt-searchable before decoding."""

from __future__ import annotations

import shutil
from pathlib import Path

from photomapd.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store import IndexedImage, Store


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
        assert (image_id, is_new) == (ids[0], False)
        assert (await index.search(MetadataFilter(lora="flux-realism-lora"), "a", 10, 0))[0] == [
            image_id
        ]
    finally:
        await store.close()
