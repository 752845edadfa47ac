"""The API routes added for the UI (photomapd/api/routes_ui.py), on the real daemon."""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

from tests.helpers import png_bytes, wait_for


async def indexed(running, count: int) -> list[dict]:  # type: ignore[no-untyped-def]
    async def ready() -> list[dict] | None:
        status, body = await running.get("/api/albums/all/images", params={"limit": "100"})
        return body["items"] if status == 200 and body["total"] >= count else None

    return await wait_for(ready, timeout=30, message=f"{count} indexed images")


async def test_folder_picker_lists_subfolders(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    root = tmp_path / "pick"
    for name in ("beta", "Alpha", ".hidden", "gamma"):
        (root / name).mkdir(parents=True)
    (root / "file.png").write_bytes(b"x")
    status, body = await running.get("/api/fs/list", params={"path": str(root)})
    assert status == 200
    assert body == {
        "path": str(root.resolve()),
        "parent": str(root.resolve().parent),
        "dirs": ["Alpha", "beta", "gamma"],
    }
    status, body = await running.get("/api/fs/list")
    assert status == 200 and body["path"] == str(Path.home().resolve())
    status, body = await running.get("/api/fs/list", params={"path": "relative/dir"})
    assert status == 400 and body["error"]["code"] == "relative_path"
    status, body = await running.get("/api/fs/list", params={"path": str(root / "nope")})
    assert status == 404 and "not a folder" in body["error"]["message"]


async def test_zip_of_selected_images(tmp_path: Path, make_config, start_daemon):
    first, second = tmp_path / "a", tmp_path / "b"
    config = make_config(first)
    second.mkdir()
    (first / "same.png").write_bytes(png_bytes((200, 10, 10)))
    (first / "other.png").write_bytes(png_bytes((10, 200, 10)))
    (second / "same.png").write_bytes(png_bytes((10, 10, 200)))
    config.albums[0].folders.append(second)
    running = await start_daemon(config)
    items = await indexed(running, 3)
    ids = [item["id"] for item in items]
    status, data = await running.send("POST", "/api/images/zip", json={"ids": ids})
    assert status == 200
    names = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert len(names) == 3 and "other.png" in names and "same.png" in names
    assert any(name.endswith("-same.png") and name != "same.png" for name in names)
    for body, code in (
        ({"ids": []}, "invalid_ids"),
        ({"ids": ["1"]}, "invalid_ids"),
        ([1], "invalid_json"),
    ):
        status, error = await running.send("POST", "/api/images/zip", json=body)
        assert status == 400 and error["error"]["code"] == code
    status, error = await running.send("POST", "/api/images/zip", json={"ids": [999_999]})
    assert status == 404
    # Writes from other origins are refused like every other state-changing route.
    status, error = await running.send(
        "POST", "/api/images/zip", json={"ids": ids}, headers={"Origin": "http://evil.example"}
    )
    assert status == 403


async def test_image_lookup_by_file_name(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "images"
    running = await start_daemon(make_config(folder))
    (folder / "ref_50%_a.png").write_bytes(png_bytes((1, 2, 3)))
    (folder / "ref_x.png").write_bytes(png_bytes((3, 2, 1)))
    items = await indexed(running, 2)
    by_name = {item["name"]: item["id"] for item in items}
    status, body = await running.get("/api/image-lookup", params={"name": "ref_50%_a.png"})
    assert status == 200 and body["id"] == by_name["ref_50%_a.png"]
    # LIKE wildcards in names are literal: "_" must not match "x".
    status, body = await running.get("/api/image-lookup", params={"name": "ref_.png"})
    assert status == 404
    status, body = await running.get("/api/image-lookup", params={"name": "../ref_x.png"})
    assert status == 400 and body["error"]["code"] == "invalid_name"


async def test_settings_round_trip(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, body = await running.get("/api/settings")
    assert status == 200 and set(body["model"]) == {
        "name",
        "pretrained",
        "device",
        "idle_unload_seconds",
    }
    status, body = await running.send(
        "PUT", "/api/settings", json={"model": {"idle_unload_seconds": 5}}
    )
    assert status == 200 and body["restart_needed"] is False
    assert running.daemon.embedder.idle_unload_seconds == 5
    status, body = await running.send(
        "PUT", "/api/settings", json={"port": 8123, "model": {"device": "cpu"}}
    )
    assert status == 200 and body["restart_needed"] is True and body["changed"] == ["port"]
    saved = tomllib.loads(running.daemon.config.config_path.read_text(encoding="utf-8"))
    assert saved["server"]["port"] == 8123 and saved["model"]["idle_unload_seconds"] == 5
    for bad in (
        {"model": {"device": "tpu"}},
        {"port": "8050"},
        {"model": {"idle_unload_seconds": -1}},
        {"model": []},
    ):
        status, error = await running.send("PUT", "/api/settings", json=bad)
        assert status == 400 and error["error"]["code"] == "invalid_settings", bad


async def test_camera_exif_for_photos(tmp_path: Path, make_config, start_daemon):
    from PIL import Image

    folder = tmp_path / "images"
    running = await start_daemon(make_config(folder))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R6"
    exif[0x0112] = 1
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = 0.004  # 1/250 s
    sub[0x829D] = 2.8
    sub[0x8827] = 400
    sub[0x9003] = "2026:11:20 10:31:00"
    Image.new("RGB", (64, 64), (90, 120, 30)).save(folder / "photo.jpg", exif=exif)
    Image.new("RGB", (64, 64), (9, 12, 3)).save(folder / "plain.png")
    items = {item["name"]: item["id"] for item in await indexed(running, 2)}
    status, body = await running.get(f"/api/images/{items['photo.jpg']}/exif")
    assert status == 200
    assert body["exif"] == {
        "Camera make": "Canon",
        "Camera model": "EOS R6",
        "Taken": "2026:11:20 10:31:00",
        "Exposure": "1/250 s",
        "Aperture": "f/2.8",
        "ISO": "400",
        "Orientation": "1",
    }
    status, body = await running.get(f"/api/images/{items['plain.png']}/exif")
    assert status == 200 and body["exif"] == {}
    status, body = await running.get("/api/images/999999/exif")
    assert status == 404
