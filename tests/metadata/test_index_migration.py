"""Migration 2 on a version-1 database: filter columns, LoRA table and FTS are backfilled."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from photomapd.store.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store.schema import MIGRATIONS
from photomapd.store.store import Store


def _old_database(path: Path, version: int) -> None:
    connection = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    rows = [
        ("/a.png", {"generator": "comfyui", "positive_prompt": "misty lake", "seed": 3,
                    "model": {"name": "sdxl"}, "loras": [{"name": "mist", "weight": 1}]}),
        ("/b.png", {"generator": "invokeai", "positive_prompt": "desert", "loras": None}),
        ("/c.png", None),
        ("/e.png", {"generator": "invokeai", "positive_prompt": None,
                    "extra": {"graph_prompts": ["moonlit cemetery", 5]}}),
    ]  # fmt: skip
    for path_name, summary in rows:
        connection.execute(
            "INSERT INTO images (album, path, size, mtime, created_at, status, metadata_json, "
            "parser_version) VALUES ('a', ?, 1, 1, 1, 'ok', ?, 1)",
            (path_name, json.dumps(summary) if summary else None),
        )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("version", [1, 2])
async def test_upgrade_backfills_the_metadata_index(tmp_path: Path, version: int) -> None:
    """From before the metadata index (1), and from its first, virtual-column shape (2)."""
    database = tmp_path / "photomapd.sqlite3"
    _old_database(database, version)
    store = Store(database)
    await store.open()
    try:
        version = await store.fetch_one("PRAGMA user_version")
        assert version[0] == len(MIGRATIONS)
        index = MetadataIndex(store)
        ids, total = await index.search(MetadataFilter(prompt="lake"), "a", 10, 0)
        assert total == 1 and len(ids) == 1
        assert (await index.search(MetadataFilter(lora="MIST"), None, 10, 0))[1] == 1
        assert (await index.search(MetadataFilter(prompt="cemetery"), None, 10, 0))[1] == 1
        assert (await index.search(MetadataFilter(seed=3, model="SDXL"), None, 10, 0))[1] == 1
        facets = await index.facets("a", MetadataFilter())
        assert facets["total"] == 4 and facets["without_metadata"] == 1
        assert [g["label"] for g in facets["generators"]] == ["InvokeAI", "ComfyUI"]
        # A malformed record never blocks the write of its row.
        await store.write(
            "INSERT INTO images (album, path, size, mtime, created_at, status, metadata_json) "
            "VALUES ('a', '/d.png', 1, 1, 1, 'ok', 'not json')"
        )
        assert (await index.facets("a", MetadataFilter()))["total"] == 5
        columns = await store.fetch_all("PRAGMA table_xinfo(images)")
        hidden = {row["name"]: row["hidden"] for row in columns}
        assert hidden["meta_generator"] == 0  # a plain column now, not a generated one
    finally:
        await store.close()
