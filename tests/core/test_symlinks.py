"""Symlinks in album folders, on a real daemon with real folders and real links: a link leading
outside every album folder is neither indexed nor served unless the album opts in
(`follow_symlinks`); loops, dangling links and unreadable folders are listed with the album's
failures, with a reason, instead of being skipped silently."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from photomapd.config import ConfigError, load_config
from photomapd.intake.changes import Change, ChangeKind
from tests.daemon_process import DaemonProcess
from tests.helpers import png_bytes, wait_for

SECRET = png_bytes((250, 10, 10))


def _layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(album folder, a second album's folder, a folder in no album) with links of each kind."""
    photos, others, outside = tmp_path / "photos", tmp_path / "others", tmp_path / "outside"
    for folder in (photos, others, outside / "dir"):
        folder.mkdir(parents=True)
    (outside / "secret.png").write_bytes(SECRET)
    (outside / "dir" / "inner.png").write_bytes(png_bytes((10, 250, 10)))
    (outside / "notes.txt").write_text("not an image")
    (others / "shared.png").write_bytes(png_bytes((10, 10, 250)))
    (photos / "real.png").write_bytes(png_bytes((120, 120, 120)))
    (photos / "out.png").symlink_to(outside / "secret.png")  # leads out
    (photos / "outdir").symlink_to(outside / "dir")  # a folder leading out
    (photos / "other.png").symlink_to(others / "shared.png")  # into another album: fine
    (photos / "self.png").symlink_to(photos / "self.png")  # a loop (ELOOP)
    (photos / "up").symlink_to(photos)  # a folder leading back to where it is
    (photos / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (photos / "notes.txt").symlink_to(outside / "notes.txt")  # not an image: none of ours
    (photos / ".hidden.png").symlink_to(outside / "secret.png")  # hidden: ignored like files
    return photos, others, outside


async def _failures(running: Any, key: str) -> dict[str, dict[str, Any]]:
    status, body = await running.get(f"/api/albums/{key}/failures")
    assert status == 200, body
    return {Path(item["path"]).name: item for item in body["items"]}


async def _indexed(running: Any, key: str) -> dict[str, int]:
    status, body = await running.get(f"/api/albums/{key}/images?limit=100")
    assert status == 200, body
    return {Path(item["path"]).name: item["id"] for item in body["items"]}


async def test_links_leading_out_are_not_indexed_until_the_album_follows_links(
    tmp_path: Path, make_config, start_daemon
):
    photos, others, outside = _layout(tmp_path)
    config = make_config(photos, others)
    running = await start_daemon(config)

    async def settled() -> bool:
        return len(await _indexed(running, "album0")) == 2

    await wait_for(settled, timeout=60, message="real.png and other.png indexed")
    assert set(await _indexed(running, "album0")) == {"real.png", "other.png"}
    failures = await _failures(running, "album0")
    assert {name: item["kind"] for name, item in failures.items()} == {
        "out.png": "link_outside_albums",
        "outdir": "link_outside_albums",
        "self.png": "symlink_loop",
        "up": "symlink_loop",
        "dangling.png": "dangling_link",
    }
    assert all(item["id"] is None for item in failures.values())
    assert "follow_symlinks = true" in failures["out.png"]["error"]
    assert str(outside / "secret.png") in failures["out.png"]["error"]
    assert "does not exist" in failures["dangling.png"]["error"]
    status, album = await running.get("/api/albums/album0")
    assert album["failed"] == 5 and album["follow_symlinks"] is False

    # Live: a link made while the daemon runs is refused the same way; a file next to it is not.
    (photos / "live.png").symlink_to(outside / "secret.png")
    (photos / "live-real.png").write_bytes(png_bytes((60, 60, 200)))

    async def live_seen() -> bool:
        return "live.png" in await _failures(running, "album0") and "live-real.png" in (
            await _indexed(running, "album0")
        )

    await wait_for(live_seen, timeout=30, message="the live link listed, the live file indexed")
    assert "live.png" not in await _indexed(running, "album0")

    # Opting in (PATCH, saved to config.toml) follows them: the file and the folder leading out.
    status, body = await running.send(
        "PATCH", "/api/albums/album0", json={"follow_symlinks": "yes"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
    status, body = await running.send("PATCH", "/api/albums/album0", json={"follow_symlinks": True})
    assert status == 200 and body["follow_symlinks"] is True
    assert load_config(config.data_dir).album("album0").follow_symlinks is True

    async def followed() -> bool:
        return {"out.png", "live.png", "inner.png"} <= set(await _indexed(running, "album0"))

    await wait_for(followed, timeout=60, message="links leading out indexed once followed")
    indexed = await _indexed(running, "album0")
    status, served = await running.get(f"/api/images/{indexed['out.png']}/file")
    assert status == 200 and served == SECRET
    failures = await _failures(running, "album0")
    assert set(failures) == {"self.png", "up", "dangling.png"}  # still listed: still broken


async def test_a_file_swapped_for_a_link_is_not_served_or_indexed(
    tmp_path: Path, make_config, start_daemon
):
    photos, _, outside = _layout(tmp_path)
    running = await start_daemon(make_config(photos))

    async def indexed_real() -> int | None:
        return (await _indexed(running, "album0")).get("real.png")

    image_id = await wait_for(indexed_real, timeout=60, message="real.png indexed")
    # Before the watcher has seen it (unwatched here to hold that moment): the row is still
    # there, but its file now leads out of every album folder.
    running.daemon.watcher.unwatch_album("album0")
    (photos / "real.png").unlink()
    (photos / "real.png").symlink_to(outside / "secret.png")
    for route in ("file", "exif"):
        status, body = await running.get(f"/api/images/{image_id}/{route}")
        assert status == 403, (route, body)
        assert body["error"]["code"] == "link_not_followed"
        assert "follow_symlinks = true" in body["error"]["message"]
    status, archive = await running.send("POST", "/api/images/zip", json={"ids": [image_id]})
    assert status == 200 and SECRET not in archive

    # The pipeline refuses it too when told of it, and drops the row it had.
    running.daemon.pipeline.submit(Change(ChangeKind.MODIFIED, "album0", photos / "real.png"))

    async def refused() -> bool:
        return "real.png" in await _failures(running, "album0")

    await wait_for(refused, timeout=30, message="real.png listed as a link leading out")
    status, _ = await running.get(f"/api/images/{image_id}")
    assert status == 404


def test_follow_symlinks_in_config_toml_must_be_true_or_false(tmp_path: Path):
    (tmp_path / "config.toml").write_text(
        '[[albums]]\nkey = "a"\nfolders = ["/tmp"]\nfollow_symlinks = "yes"\n'
    )
    with pytest.raises(ConfigError, match="follow_symlinks"):
        load_config(tmp_path)
    (tmp_path / "config.toml").write_text(
        '[[albums]]\nkey = "a"\nfolders = ["/tmp"]\nfollow_symlinks = true\n'
    )
    assert load_config(tmp_path).album("a").follow_symlinks is True


def _unreadable_prefix() -> tuple[Any, str | None]:
    """How to run the daemon so that a mode-000 folder is really unreadable to it: as it is
    when the tests do not run as root; as root, in a user namespace where root is not mapped
    (its capabilities do not reach files it does not own there)."""
    if os.geteuid() != 0:
        return None, None
    if shutil.which("unshare") is None:
        return None, "running as root, and unshare (to drop root's file access) is not installed"
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"running as root, and unshare --user failed: {probe.stderr.strip()}"
    return (lambda command: ["unshare", "--user", "sh", "-c", command]), None


def test_an_unreadable_folder_is_listed_with_the_failures(
    tmp_path: Path, tiny_clip: tuple[Path, Path]
):
    prefix, problem = _unreadable_prefix()
    if problem:
        pytest.skip(problem)
    photos = tmp_path / "photos"
    (photos / "locked").mkdir(parents=True)
    (photos / "locked" / "hidden-away.png").write_bytes(png_bytes((1, 2, 3)))
    (photos / "open.png").write_bytes(png_bytes((4, 5, 6)))
    (photos / "locked").chmod(0)
    albums = [{"key": "a", "name": "A", "folders": [str(photos)]}]
    try:
        with DaemonProcess(tmp_path, tiny_clip, albums, prefix) as daemon:
            daemon.wait(lambda: daemon.get("/api/albums/a")["count"] == 1, 60, "open.png")
            items = daemon.wait(
                lambda: daemon.get("/api/albums/a/failures")["items"], 30, "the failures"
            )
            assert daemon.get("/api/albums/a")["failed"] == 1
    finally:
        (photos / "locked").chmod(0o755)
    assert [(item["path"], item["kind"]) for item in items] == [
        (str(photos / "locked"), "unreadable_folder")
    ]
    assert "Permission denied" in items[0]["error"] and "chmod" in items[0]["error"]
