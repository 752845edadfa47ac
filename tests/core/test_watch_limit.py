"""The inotify watch limit running out while the daemon runs: folders made after start that
native watching cannot take are polled, every file is indexed, and the album says so.

The daemon runs as a real `python -m photomapd run --headless` in a private user namespace
whose own watch limit (/proc/sys/user/max_inotify_watches, per namespace) is set low, so the
limit of the machine and of everyone else on it is untouched."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.helpers import png_bytes

# The album folder and two folders made later fit; every later folder finds the limit used up.
WATCH_LIMIT = 3
# Only the namespace's own limit is written: fs.inotify.max_user_watches is the machine's.
NAMESPACE_LIMIT = "/proc/sys/user/max_inotify_watches"


def _namespace_problem() -> str | None:
    """Why a private user namespace with its own watch limit can't be had here, or None."""
    if not sys.platform.startswith("linux"):
        return "inotify and user namespaces are Linux only"
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", f"echo 5 > {NAMESPACE_LIMIT}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return (
            "cannot lower the inotify watch limit in a private user namespace "
            f"(unshare --user --map-root-user; echo 5 > {NAMESPACE_LIMIT}): "
            f"{probe.stderr.strip() or f'exit status {probe.returncode}'}"
        )
    return None


def _in_namespace_with_low_limit(command: str) -> list[str]:
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        f"echo {WATCH_LIMIT} > {NAMESPACE_LIMIT} && {command}",
    ]


def _write_images(folder: Path, count: int, shade: int) -> None:
    folder.mkdir(parents=True)
    for number in range(count):
        (folder / f"image-{number}.png").write_bytes(png_bytes((shade, number * 20, 90)))


def test_folders_made_after_the_watch_limit_ran_out_are_polled(
    tmp_path: Path, tiny_clip: tuple[Path, Path]
) -> None:
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    album = tmp_path / "album"
    album.mkdir()
    albums = [{"key": "a", "name": "A", "folders": [str(album)]}]
    with DaemonProcess(tmp_path, tiny_clip, albums, _in_namespace_with_low_limit) as daemon:
        # 7 folders of 10 (as in the report: 19 of 70 indexed after 120 s), one with a folder
        # inside a folder; made after start, when only the first two still get a watch.
        for number in range(6):
            _write_images(album / f"folder{number}", 10, number * 40)
        _write_images(album / "folder6" / "inner" / "deeper", 10, 250)

        def album_count() -> int:
            return int(daemon.get("/api/albums/a")["count"])

        daemon.wait(lambda: album_count() == 70, 90, "all 70 images indexed")
        described = daemon.get("/api/albums/a")["watcher"]
        assert described["mode"] == "mixed", described
        assert "max_user_watches" in described["reason"], described
        assert f"{album}/folder6" in described["polled_folders"], described
        assert f"{album}/folder0" not in described["polled_folders"], described  # native

        # A file written into a polled folder later is seen by the poll itself.
        (album / "folder5" / "later.png").write_bytes(png_bytes((1, 2, 3)))
        daemon.wait(lambda: album_count() == 71, 30, "the later file in a polled folder")

        status = daemon.get("/api/status")["watcher"]
        assert status["mode"] == "mixed"
        assert status["albums"]["a"]["mode"] == "mixed"
        assert daemon.get("/api/albums")["albums"][0]["watcher"]["mode"] == "mixed"
    log_text = daemon.log()
    assert "sudo sysctl fs.inotify.max_user_watches=" in log_text, log_text[-3000:]
    assert "/etc/sysctl.d/" in log_text
