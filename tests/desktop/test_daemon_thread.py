"""Tray mode's bridge: the real daemon on a background thread, driven through LoopControl."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from photomapd.config import Config
from photomapd.daemon import Daemon, StartupError
from photomapd.desktop.daemon_thread import DaemonThread
from tests.helpers import png_bytes


def http_status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/status", timeout=5) as reply:
        return json.loads(reply.read())


def eventually(check: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_commands_reach_the_daemon_loop(tmp_path: Path, make_config: Callable[..., Config]) -> None:
    folder = tmp_path / "images"
    config = make_config(folder)
    for number in range(3):
        (folder / f"{number}.png").write_bytes(png_bytes((60 * number, 90, 20)))
    runner = DaemonThread(lambda: Daemon(config))
    control = runner.start()
    try:
        assert control.url.startswith("http://127.0.0.1:")
        assert control.logs_dir == config.data_dir / "logs"
        eventually(lambda: control.status()["total_images"] == 3, "3 images indexed")
        eventually(lambda: control.status()["state"] == "idle", "idle")
        assert control.status()["model_state"] == "ready"

        control.pause()
        eventually(lambda: http_status(control.url)["indexing"]["paused"], "paused over HTTP")
        assert control.status()["state"] == "paused"
        control.resume()
        eventually(lambda: not http_status(control.url)["indexing"]["paused"], "resumed")

        (folder / "late.png").write_bytes(png_bytes((1, 2, 3)))
        control.reindex_all()  # finds the new file even if the watcher had not
        eventually(lambda: control.status()["total_images"] == 4, "the 4th image")
    finally:
        control.request_stop()
        runner.join(timeout=60)
    assert not runner.is_alive() and runner.exit_code == 0


def test_a_missing_album_folder_shows_as_an_error(
    tmp_path: Path, make_config: Callable[..., Config]
) -> None:
    folder = tmp_path / "gone"
    config = make_config(folder)
    folder.rmdir()
    runner = DaemonThread(lambda: Daemon(config))
    control = runner.start()
    try:
        snapshot = control.status()
        assert snapshot["state"] == "error"
        assert snapshot["message"]
    finally:
        control.request_stop()
        runner.join(timeout=60)


def test_startup_failure_is_raised_to_the_caller(make_config: Callable[..., Config]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = make_config()
        config.port = taken.getsockname()[1]
        runner = DaemonThread(lambda: Daemon(config))
        with pytest.raises(StartupError, match="already in use"):
            runner.start()
    assert not runner.is_alive() and runner.exit_code == 1
