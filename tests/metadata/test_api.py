"""Metadata over the real daemon: FTS prompt search, filters, facets, per-image metadata."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tests.helpers import png_bytes, wait_for

DAY = 86_400.0
JAN_2026 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _invoke(prompt: str, model: str, seed: int, loras: list[str], refs: int = 0) -> str:
    return json.dumps(
        {
            "generation_mode": "sdxl_txt2img",
            "positive_prompt": prompt,
            "negative_prompt": "blurry",
            "model": {"key": "k", "hash": "h", "name": model, "base": "sdxl", "type": "main"},
            "seed": seed,
            "steps": 20,
            "loras": [{"model": {"name": name}, "weight": 0.5} for name in loras],
            "ref_images": [
                {"isEnabled": True, "config": {"image": {"image_name": f"ref{n}.png"}}}
                for n in range(refs)
            ],
            "app_version": "6.14.2",
        },
        ensure_ascii=False,
    )


async def _library(folder: Path, corpus: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    files = {
        "cat": (
            {"invokeai_metadata": _invoke("a black cat on a red sofa", "Juggernaut XL", 7, ["ink"])},
            (200, 0, 0),
        ),
        "fox": (
            {"invokeai_metadata": _invoke("a red fox in the snow", "Dreamshaper 8", 8, [], refs=1)},
            (0, 200, 0),
        ),
        "tokyo": (
            {"parameters": "夕暮れの京都, テスト\nNegative prompt: 低画質\nSteps: 5, Seed: 9, "
             "Size: 64x64, Model: animagine, Version: v1.10.1"},
            (0, 0, 200),
        ),
        "plain": ({}, (90, 90, 90)),
    }  # fmt: skip
    paths = {}
    for number, (name, (text, color)) in enumerate(files.items()):
        path = folder / f"{name}.png"
        path.write_bytes(png_bytes(color, text=text))
        os.utime(path, (JAN_2026 + number * DAY, JAN_2026 + number * DAY))
        paths[name] = path
    real = folder / "flux.png"
    shutil.copy(corpus / "invokeai-v6-generated/v6142-flux-txt2img-guidance.png", real)
    os.utime(real, (JAN_2026 + 10 * DAY, JAN_2026 + 10 * DAY))
    paths["flux"] = real
    return paths


async def _start(tmp_path: Path, corpus: Path, make_config: Any, start_daemon: Any) -> Any:
    folder = tmp_path / "outputs"
    await _library(folder, corpus)
    running = await start_daemon(make_config(folder))

    async def indexed() -> object:
        _, page = await running.get("/api/albums/album0/images?limit=100")
        return page["total"] == 5 and all(item["status"] == "ok" for item in page["items"])

    await wait_for(indexed, timeout=30, message="5 images indexed")
    return running


async def _names(running: Any, query: str) -> list[str]:
    status, body = await running.get("/api/search?" + query)
    assert status == 200, body
    return [result["image"]["name"] for result in body["results"]]


async def test_prompt_search_filters_facets_and_metadata(
    tmp_path: Path, corpus: Path, make_config: Any, start_daemon: Any
) -> None:
    running = await _start(tmp_path, corpus, make_config, start_daemon)

    # Equal bm25 rank: newest first.
    assert await _names(running, "prompt=red") == ["fox.png", "cat.png"]
    assert await _names(running, "prompt=cab*") == ["flux.png"]
    assert await _names(running, "prompt=%22black+cat%22") == ["cat.png"]
    assert await _names(running, "prompt=テスト") == ["tokyo.png"]
    assert await _names(running, "prompt=%22unterminated+AND+NEAR(") == []
    assert await _names(running, "model=dreamshaper+8") == ["fox.png"]
    assert await _names(running, "lora=flux-realism-lora") == ["flux.png"]
    assert await _names(running, "generator=a1111") == ["tokyo.png"]
    assert await _names(running, "seed=9") == ["tokyo.png"]
    assert await _names(running, "has_reference=true") == ["fox.png"]
    assert await _names(running, "since=2026-01-02&until=2026-01-04") == ["tokyo.png", "fox.png"]
    assert await _names(running, "prompt=red&model=Juggernaut+XL") == ["cat.png"]
    assert await _names(running, "prompt=red&album=album0&limit=1&offset=1") != []

    status, body = await running.get("/api/search?seed=abc")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    status, body = await running.get("/api/search?since=yesterday")
    assert status == 400 and "ISO date" in body["error"]["message"]
    status, body = await running.get("/api/search?prompt=x&album=nope")
    assert status == 404 and body["error"]["code"] == "album_not_found"

    # Semantic search restricted by metadata filters only returns allowed images.
    status, body = await running.get("/api/search?q=a+photo&lora=ink")
    assert status == 200 and [r["image"]["name"] for r in body["results"]] == ["cat.png"]
    status, body = await running.get("/api/search?q=a+photo&generator=midjourney")
    assert status == 200 and body["results"] == []

    status, facets = await running.get("/api/albums/album0/facets")
    assert status == 200
    assert facets["total"] == 5 and facets["without_metadata"] == 1
    assert {(g["value"], g["count"]) for g in facets["generators"]} == {
        ("invokeai", 3),
        ("a1111", 1),
    }
    assert [g["label"] for g in facets["generators"]] == ["InvokeAI", "AUTOMATIC1111"]
    assert {m["value"] for m in facets["models"]} == {
        "Juggernaut XL", "Dreamshaper 8", "animagine", "FLUX Dev (Quantized)"
    }  # fmt: skip
    assert {lora["value"] for lora in facets["loras"]} == {"ink", "flux-realism-lora"}
    assert facets["has_reference"] == 1
    status, narrowed = await running.get("/api/albums/album0/facets?prompt=red")
    assert narrowed["total"] == 2 and narrowed["loras"] == [{"value": "ink", "count": 1}]
    status, body = await running.get("/api/albums/nope/facets")
    assert status == 404

    flux_id = (await running.get("/api/search?lora=flux-realism-lora"))[1]["results"][0]["image"]
    status, metadata = await running.get(f"/api/images/{flux_id['id']}/metadata")
    assert status == 200
    assert metadata["summary"]["guidance"] == 3.5
    assert metadata["raw"]["invokeai_metadata"]["app_version"] == "6.14.2"
    assert isinstance(metadata["raw"]["invokeai_graph"], dict)
    assert metadata["parser_version"] >= 1 and metadata["warnings"] == []
    assert flux_id["metadata_summary"]["model"]["name"] == "FLUX Dev (Quantized)"
    status, body = await running.get("/api/images/999999/metadata")
    assert status == 404 and body["error"]["code"] == "image_not_found"


async def test_outdated_rows_are_reparsed_without_touching_embeddings(
    tmp_path: Path, corpus: Path, make_config: Any, start_daemon: Any
) -> None:
    from photomapd.store.metadata_index import MetadataIndex

    running = await _start(tmp_path, corpus, make_config, start_daemon)
    store = running.daemon.store
    await store.write(
        'UPDATE images SET metadata_json = \'{"positive_prompt": "stale"}\', parser_version = 0'
    )
    assert await _names(running, "prompt=stale") != []
    before = await store.fetch_one("SELECT COUNT(*) FROM embeddings")
    updated = await MetadataIndex(store).reparse_outdated(batch=2)
    assert updated == 5
    assert await _names(running, "prompt=stale") == []
    assert await _names(running, "prompt=fox") == ["fox.png"]
    after = await store.fetch_one("SELECT COUNT(*) FROM embeddings")
    assert tuple(before) == tuple(after)
    assert await MetadataIndex(store).reparse_outdated() == 0


async def test_image_search_upload_honours_metadata_filters(
    tmp_path: Path, corpus: Path, make_config: Any, start_daemon: Any
) -> None:
    import aiohttp

    running = await _start(tmp_path, corpus, make_config, start_daemon)
    form = aiohttp.FormData()
    form.add_field("image", png_bytes((200, 0, 0)), filename="q.png", content_type="image/png")
    form.add_field("generator", "a1111")
    status, body = await running.send("POST", "/api/search", data=form)
    assert status == 200, body
    assert [result["image"]["name"] for result in body["results"]] == ["tokyo.png"]


async def test_openapi_documents_the_metadata_routes_and_filters(
    tmp_path: Path, make_config: Any, start_daemon: Any
) -> None:
    running = await start_daemon(make_config(tmp_path / "images"))
    status, spec = await running.get("/api/openapi.json")
    assert status == 200
    search = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"prompt", "model", "lora", "generator", "seed", "since", "until"} <= search
    facets = spec["paths"]["/api/albums/{key}/facets"]["get"]
    assert "prompt" in {p["name"] for p in facets["parameters"]}
    assert spec["paths"]["/api/images/{id}/metadata"]["get"]["summary"]


async def test_embedded_workflow_download(
    tmp_path: Path, corpus: Path, make_config: Any, start_daemon: Any
) -> None:
    folder = tmp_path / "outputs"
    folder.mkdir()
    for name in ("invokeai-v6-generated/v6142-workflow-quotes-lcm.png", "comfyui/comfyui.png"):
        shutil.copy(corpus / name, folder / Path(name).name)
    (folder / "plain.png").write_bytes(png_bytes((1, 2, 3)))
    running = await start_daemon(make_config(folder))

    async def indexed() -> object:
        _, page = await running.get("/api/albums/album0/images?limit=10")
        return page["total"] == 3 and all(item["status"] == "ok" for item in page["items"])

    await wait_for(indexed, timeout=30, message="3 images indexed")
    _, page = await running.get("/api/albums/album0/images?limit=10")
    ids = {item["name"]: item["id"] for item in page["items"]}
    async with running.session.get(
        f"{running.url}/api/images/{ids['v6142-workflow-quotes-lcm.png']}/workflow"
    ) as response:
        assert response.status == 200
        assert "v6142-workflow-quotes-lcm.workflow.json" in response.headers["Content-Disposition"]
        workflow = await response.json()
    assert workflow["name"] == "metadata test: workflow-quotes-lcm"
    status, comfy = await running.get(f"/api/images/{ids['comfyui.png']}/workflow")
    assert status == 200 and isinstance(comfy["nodes"], list)
    status, body = await running.get(f"/api/images/{ids['plain.png']}/workflow")
    assert status == 404 and body["error"]["code"] == "no_workflow"


def test_workflow_found_in_exif_variants() -> None:
    from photomapd.api.routes_metadata import embedded_workflow

    assert embedded_workflow({"EXIF:ImageDescription": 'Workflow: {"nodes": []}'}) == {"nodes": []}
    assert embedded_workflow({"EXIF:UserComment": {"workflow": {"a": 1}}}) == {"a": 1}
    assert embedded_workflow({"workflow": "not json", "EXIF:Make": "Prompt: {}"}) is None


async def test_seeds_beyond_64_bit_signed_are_found_not_a_server_error(
    tmp_path: Path, make_config: Any, start_daemon: Any
) -> None:
    # ComfyUI seeds run to 2**64 - 1; SQLite stores those as REAL. Searching one used to answer
    # 500 (the driver cannot bind such an int).
    folder = tmp_path / "outputs"
    folder.mkdir()
    big = 2**64 - 1
    infotext = f"a quiet lake\nSteps: 5, Seed: {big}, Size: 64x64, Model: m, Version: v1.10.1"
    (folder / "big-seed.png").write_bytes(png_bytes((10, 20, 30), text={"parameters": infotext}))
    (folder / "small.png").write_bytes(png_bytes((30, 20, 10)))
    running = await start_daemon(make_config(folder))

    async def indexed() -> object:
        _, page = await running.get("/api/albums/album0/images")
        return page["total"] == 2 and all(item["status"] == "ok" for item in page["items"])

    await wait_for(indexed, timeout=30, message="2 images indexed")
    assert await _names(running, f"seed={big}") == ["big-seed.png"]
    assert await _names(running, "seed=9223372036854775808") == []
    for seed in (2**64, -(2**63) - 1, 10**30):
        status, body = await running.get(f"/api/search?seed={seed}")
        assert status == 400, seed
        assert "seed must be between" in body["error"]["message"]
