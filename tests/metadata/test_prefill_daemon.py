"""A real daemon makes a new folder prompt-searchable from file headers before indexing it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from tests.helpers import EventStream, png_bytes, wait_for

FILES = 150


def _write_library(folder: Path, corpus: Path) -> None:
    folder.mkdir()
    for number in range(FILES):
        prompt = f"lighthouse number{number}, stormy sea" if number % 2 else f"古い城の夜 {number}"
        metadata = {"positive_prompt": prompt, "seed": number, "model": {"name": "sdxl-base"}}
        text = {"invokeai_metadata": json.dumps(metadata, ensure_ascii=False)}
        (folder / f"{number:04}.png").write_bytes(png_bytes((number, 40, 90), text=text))
    shutil.copy(corpus / "a1111/webui-itxt.png", folder / "webui.png")


async def test_new_album_is_prompt_searchable_while_indexing_is_held(
    tmp_path: Path, corpus: Path, make_config, start_daemon
) -> None:
    folder = tmp_path / "library"
    _write_library(folder, corpus)
    # Paused: nothing is decoded or embedded, so only the header-only prefill can answer.
    running = await start_daemon(make_config(), start_paused=True)
    added_at = time.monotonic()
    status, created = await running.send(
        "POST", "/api/albums", json={"name": "Library", "folders": [str(folder)]}
    )
    assert status == 201, created
    key = created["key"]

    async def search(prompt: str) -> dict:
        status, body = await running.get("/api/search", params={"prompt": prompt, "limit": 500})
        assert status == 200, body
        return body

    async def all_searchable() -> dict | None:
        body = await search("lighthouse")
        return body if body["total"] == FILES // 2 else None

    body = await wait_for(all_searchable, timeout=15, message="prompt search over the new folder")
    assert time.monotonic() - added_at < 15
    assert {hit["image"]["status"] for hit in body["results"]} == {"pending"}
    assert not any(hit["image"]["embedded"] for hit in body["results"])
    assert (await search("城"))["total"] == FILES // 2  # CJK substring, from the headers too
    assert (await search("number7"))["total"] == 1
    (webui,) = (await search("hatsune テスト"))["results"]  # an A1111 file among them
    assert webui["image"]["name"] == "webui.png"
    _, album = await running.get(f"/api/albums/{key}")
    assert album["pending"] == FILES + 1 and album["count"] == 0
    _, facets = await running.get(f"/api/albums/{key}/facets")
    assert facets["total"] == FILES + 1 and facets["models"][0]["value"] == "sdxl-base"
    assert running.daemon.pipeline.counters.done == 0

    # Resumed, the pipeline completes the same rows and announces each as added.
    ids = {hit["image"]["id"] for hit in body["results"]}
    async with EventStream(running.session, running.url + "/api/events") as stream:
        running.daemon.resume()

        async def indexed() -> dict | None:
            body = await search("lighthouse")
            done = {hit["image"]["status"] for hit in body["results"]} == {"ok"}
            return (
                body if done and all(hit["image"]["embedded"] for hit in body["results"]) else None
            )

        body = await wait_for(indexed, timeout=90, message="the held files indexed")
        await stream.wait_kind("image_added", lambda data: data["image"]["id"] in ids)
    assert {hit["image"]["id"] for hit in body["results"]} == ids
    _, page = await running.get(f"/api/albums/{key}/images")
    assert page["total"] == FILES + 1
