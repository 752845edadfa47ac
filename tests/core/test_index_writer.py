"""The index writer isolates files: a row that cannot be written costs only its own file, which
is listed among the album's failures with the reason; the rest of its batch lands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from photomapd.indexing.preparation import prepare_file
from photomapd.metadata.json_reader import default_metadata_reader
from tests.helpers import png_bytes

# What a metadata parser can make of a hostile file: JSON text may escape a lone surrogate
# ("\udcff"), which json.loads keeps and SQLite text cannot hold.
UNWRITABLE_METADATA = '{"positive_prompt": "a \udcff cat"}'


async def test_one_unwritable_row_leaves_the_rest_of_its_batch_written(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    names = ["a.png", "b.png", "poison.png", "c.png"]
    for number, name in enumerate(names):
        (folder / name).write_bytes(png_bytes((60 * number, 120, 30)))
    # Paused: the pipeline leaves these files alone, so the batch below is the only writer.
    running = await start_daemon(make_config(folder), start_paused=True)
    daemon = running.daemon
    reader = default_metadata_reader()
    batch = [
        prepare_file("album0", folder / name, daemon.config.thumbnails_dir, reader, None)
        for name in names
    ]
    batch[2] = dataclasses.replace(batch[2], metadata_json=UNWRITABLE_METADATA)
    async with running.session.get(running.url + "/api/events") as events:
        assert (await events.content.readline()).startswith(b"event: hello")
        failed = await daemon.pipeline.index_writer.save_batch(
            batch, [None] * len(batch), daemon.embedder.model_id
        )
        announced = []
        while len(announced) < len(names):
            line = (await events.content.readline()).decode()
            if line.startswith("event: image_"):
                announced.append(line.split(": ", 1)[1].strip())
    assert failed == 1
    assert announced == ["image_added"] * len(names)  # the failed file too, as failed

    status, page = await running.get("/api/albums/album0/images?order=oldest")
    assert status == 200 and page["total"] == 4
    by_name = {item["name"]: item for item in page["items"]}
    assert {name: by_name[name]["status"] for name in names} == {
        "a.png": "ok",
        "b.png": "ok",
        "poison.png": "error",
        "c.png": "ok",
    }
    status, failures = await running.get("/api/albums/album0/failures")
    [failure] = failures["items"]
    assert failure["path"] == str(folder / "poison.png")
    assert "UnicodeEncodeError" in failure["error"], failure["error"]
    assert "retried when it changes" in failure["error"]
    _, album = await running.get("/api/albums/album0")
    assert (album["count"], album["failed"]) == (3, 1)
