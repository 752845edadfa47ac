"""Crashes, corruption and missing parts: nothing is lost, everything comes back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import png_bytes, wait_for

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def _start(data_dir: Path, folder: Path, port: int, tiny_clip) -> subprocess.Popen:
    config_path, checkpoint = tiny_clip
    environment = {
        **os.environ,
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PYTHONPATH": str(REPO),
    }
    with open(data_dir.parent / f"daemon-{port}-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen(  # the child keeps its own copy of the log descriptor
            [
                sys.executable,
                "-m",
                "photomapd",
                "--data-dir",
                str(data_dir),
                "run",
                "--headless",
                "--port",
                str(port),
                str(folder),
            ],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def _write_images(folder: Path, count: int, size: int = 384) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        image = Image.effect_noise((size, size), 40 + number % 50).convert("RGB")
        image.save(folder / f"img{number:04d}.png", compress_level=1)


def test_kill_9_mid_batch_then_restart_indexes_every_image_exactly_once(tmp_path: Path, tiny_clip):
    folder, data_dir, port = tmp_path / "images", tmp_path / "data", _free_port()
    _write_images(folder, 150)
    process = _start(data_dir, folder, port, tiny_clip)
    try:
        deadline = time.monotonic() + 60
        done_at_kill = None
        while time.monotonic() < deadline:
            status = _status(port)
            if status and status["indexing"]["done"] >= 10:
                process.send_signal(signal.SIGKILL)
                done_at_kill = status["indexing"]["done"]
                break
            time.sleep(0.01)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert done_at_kill is not None and done_at_kill < 150, f"killed after {done_at_kill} of 150"

    process = _start(data_dir, folder, port, tiny_clip)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = _status(port)
            if (
                status
                and status["total_images"] == 150
                and status["indexing"]["queued"] == 0
                and status["indexing"]["embeddings_owed"] == 0
            ):
                break
            time.sleep(0.2)
        assert status and status["total_images"] == 150, status
        assert status["vectors"]["count"] == 150
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    database = sqlite3.connect(data_dir / "photomapd.sqlite3")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    paths = [row[0] for row in database.execute("SELECT path FROM images")]
    assert len(paths) == len(set(paths)) == 150
    embedded = database.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert embedded == 150


async def test_deleted_or_corrupt_vector_file_is_rebuilt(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(5):
        (folder / f"{number}.png").write_bytes(png_bytes((number * 40, 20, 20)))
    config = make_config(folder)
    running = await start_daemon(config)

    async def embedded() -> bool:
        _, status = await running.get("/api/status")
        return status["vectors"]["count"] == 5

    await wait_for(embedded, message="5 vectors")
    await running.daemon.stop()
    vector_file = running.daemon.vectors.path
    assert vector_file.exists()

    for damage in ("delete", "corrupt"):
        if damage == "delete":
            vector_file.unlink()
        else:
            vector_file.write_bytes(b"garbage" * 100)
        restarted = await start_daemon(config)
        _, status = await restarted.get("/api/status")
        assert status["vectors"]["count"] == 5, damage
        assert status["vectors"]["rebuilt"] is not None
        status_code, results = await restarted.get("/api/search", params={"q": "red"})
        assert status_code == 200 and len(results["results"]) == 5
        await restarted.daemon.stop()


async def test_model_unavailable_keeps_serving_then_catches_up(
    tmp_path: Path, make_config, start_daemon, tiny_clip
):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((10, 20, 30)))
    missing_checkpoint = tmp_path / "weights" / "model.pt"
    running = await start_daemon(make_config(folder, pretrained=str(missing_checkpoint)))

    async def listed() -> list:
        _, page = await running.get("/api/albums/album0/images")
        return page["items"]

    [image] = await wait_for(listed, message="image browsable without a model")
    assert image["embedded"] is False and image["status"] == "ok"
    _, status = await running.get("/api/status")
    assert status["model"]["state"] == "unavailable"
    assert str(missing_checkpoint) in status["model"]["error"]
    code, body = await running.get("/api/search", params={"q": "anything"})
    assert code == 503 and body["error"]["code"] == "model_unavailable"
    assert body["error"]["message"].startswith("model unavailable:")

    missing_checkpoint.parent.mkdir()
    missing_checkpoint.write_bytes(tiny_clip[1].read_bytes())
    await asyncio.sleep(2.1)  # past the on-demand backoff
    code, _ = await running.send("POST", "/api/albums/album0/reindex")
    assert code == 202

    async def caught_up() -> bool:
        items = await listed()
        return items[0]["embedded"]

    await wait_for(caught_up, timeout=20, message="embedding after the model came back")
    code, results = await running.get("/api/search", params={"q": "anything"})
    assert code == 200 and results["results"][0]["image"]["name"] == "a.png"


async def test_offline_changes_are_reconciled_on_start(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("keep", "change", "remove"):
        (folder / f"{name}.png").write_bytes(png_bytes((1, 1, 1)))
    config = make_config(folder)
    running = await start_daemon(config)

    async def total(expected: int):
        async def check() -> bool:
            _, page = await running_now.get("/api/albums/album0/images", params={"limit": 50})
            return page["total"] == expected and all(i["status"] == "ok" for i in page["items"])

        return await wait_for(check, message=f"{expected} images")

    running_now = running
    await total(3)
    _, page = await running.get("/api/albums/album0/images")
    ids = {item["name"]: item["id"] for item in page["items"]}
    await running.daemon.stop()

    (folder / "remove.png").unlink()
    (folder / "change.png").write_bytes(png_bytes((200, 1, 1), size=80))
    (folder / "new.png").write_bytes(png_bytes((1, 200, 1)))
    running_now = await start_daemon(config)

    async def reconciled() -> dict | None:
        _, page = await running_now.get("/api/albums/album0/images")
        by_name = {item["name"]: item for item in page["items"]}
        done = set(by_name) == {"keep.png", "change.png", "new.png"}
        return by_name if done and by_name["change.png"]["width"] == 80 else None

    by_name = await wait_for(reconciled, message="offline changes reconciled")
    assert by_name["keep.png"]["id"] == ids["keep.png"]
    assert by_name["change.png"]["id"] == ids["change.png"] and by_name["change.png"]["width"] == 80


async def test_model_unloads_when_idle_and_reloads_on_demand(
    tmp_path: Path, make_config, start_daemon
):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((10, 100, 30)))
    running = await start_daemon(make_config(folder, idle_unload_seconds=0.5))

    async def model_state() -> str:
        _, status = await running.get("/api/status")
        return status["model"]["state"]

    async def unloaded() -> bool:
        return await model_state() == "unloaded"

    async def embedded() -> bool:
        _, page = await running.get("/api/albums/album0/images")
        return bool(page["items"]) and page["items"][0]["embedded"]

    await wait_for(embedded, message="a.png embedded (model loaded)")
    # Housekeeping runs every few seconds; the model must go once idle (VRAM back to InvokeAI).
    await wait_for(unloaded, timeout=20, message="model unloaded after idling")
    code, results = await running.get("/api/search", params={"q": "green"})
    assert code == 200 and results["results"][0]["image"]["name"] == "a.png"
    assert await model_state() == "ready"


async def test_model_change_reembeds_while_old_vectors_answer(
    tmp_path: Path, make_config, start_daemon
):
    from tests.tinyclip import write_tiny_clip

    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(6):
        (folder / f"{number}.png").write_bytes(png_bytes((number * 40, 90, 200 - number * 30)))
    config = make_config(folder)
    running = await start_daemon(config)

    async def all_embedded(daemon_running) -> bool:
        _, status = await daemon_running.get("/api/status")
        return status["total_images"] == 6 and status["indexing"]["embeddings_owed"] == 0

    await wait_for(lambda: all_embedded(running), message="first model embedded everything")
    await running.daemon.stop()

    # A different model (other weights): the library must be re-embedded in the background.
    _, other_checkpoint = write_tiny_clip(tmp_path / "other-model", seed=7)
    config.model.pretrained = str(other_checkpoint)
    restarted = await start_daemon(config, start_paused=True)  # hold the re-embedding
    _, status = await restarted.get("/api/status")
    assert status["indexing"]["embeddings_owed"] == 6 and status["indexing"]["paused"]
    code, results = await restarted.get("/api/search", params={"q": "blue", "limit": 10})
    assert code == 200 and len(results["results"]) == 6, "old vectors must keep answering"
    restarted.daemon.pipeline.resume()
    await wait_for(
        lambda: all_embedded(restarted), timeout=30, message="re-embedded with the new model"
    )
    code, results = await restarted.get("/api/search", params={"q": "blue", "limit": 10})
    assert code == 200 and len(results["results"]) == 6
    stored_models = await restarted.daemon.store.fetch_all(
        "SELECT DISTINCT model_id FROM embeddings"
    )
    assert [row[0] for row in stored_models] == [restarted.daemon.embedder.model_id]
    assert len(list(config.data_dir.glob("vectors-*.usearch"))) <= 1


async def test_full_disk_is_reported_and_nothing_is_lost(
    tmp_path: Path, make_config, start_daemon, monkeypatch
):
    """ENOSPC can't be produced safely on a shared machine, so the one write that hits the disk
    (the thumbnail cache) is made to fail the way a full disk fails."""
    import errno

    from photomapd.indexing import pipeline, preparation

    disk = {"full": True}
    real_write = preparation.write_file_atomically

    def write(target, data):
        if disk["full"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_write(target, data)

    monkeypatch.setattr(preparation, "write_file_atomically", write)
    monkeypatch.setattr(pipeline, "DISK_FULL_RETRY_SECONDS", 0.5)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((7, 7, 7)))
    running = await start_daemon(make_config(folder))

    async def problem() -> str | None:
        _, status = await running.get("/api/status")
        return status["indexing"]["problem"]

    message = await wait_for(problem, message="disk-full problem reported")
    assert "disk full" in message and "free some space" in message and "nothing is lost" in message
    _, failures = await running.get("/api/albums/album0/failures")
    assert failures["items"] == [], "a full disk must not mark the image as broken"
    disk["full"] = False

    async def indexed() -> bool:
        _, page = await running.get("/api/albums/album0/images")
        return page["total"] == 1 and page["items"][0]["status"] == "ok"

    await wait_for(indexed, message="indexed once space is back")
    assert await problem() is None


async def test_an_old_sqlite_stops_start_up_with_what_to_do(
    tmp_path: Path, make_config, monkeypatch
) -> None:
    from photomapd.daemon import Daemon, StartupError
    from photomapd.store import schema

    schema.check_sqlite_version()  # the SQLite here is new enough
    monkeypatch.setattr(schema.check_sqlite_version, "__defaults__", ((3, 31, 1),))
    daemon = Daemon(make_config(tmp_path / "images"))
    with pytest.raises(StartupError, match=r"SQLite 3\.31\.1.*3\.34 or newer.*newer Python"):
        await daemon.start()
    assert not (tmp_path / "data" / "photomapd.sqlite3").exists(), "nothing half-migrated"
