"""`photomapd run` with a display: the real daemon behind the real tray icon, under trayer."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import png_bytes

from .conftest import REPO_ROOT, XSession, requires_tk
from .xtray import TrayWindow, find_windows, wait_until

pytestmark = [pytest.mark.tray, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
            return json.loads(reply.read())
    except OSError:
        return None


class TrayDaemon:
    def __init__(self, session: XSession, tmp_path: Path, tiny_clip: tuple[Path, Path]) -> None:
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.opened = tmp_path / "browser-opened.txt"
        browser = tmp_path / "fake-browser"
        # webbrowser.open runs $BROWSER with the URL: this one writes it down.
        browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{self.opened}"\n')
        browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
        images = tmp_path / "images"
        images.mkdir()
        for number in range(3):
            (images / f"{number}.png").write_bytes(png_bytes((80 * number, 30, 200)))
        config_path, checkpoint = tiny_clip
        env = {
            **session.env,
            "HOME": str(tmp_path / "home"),
            "BROWSER": str(browser),
            "PYTHONPATH": str(REPO_ROOT),
            "PHOTOMAPD_MODEL_NAME": str(config_path),
            "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
            "PHOTOMAPD_MODEL_DEVICE": "cpu",
        }
        self.log = tmp_path / "daemon.log"
        argv = [sys.executable, "-m", "photomapd", "--data-dir", str(self.data_dir), "run"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*argv, "--port", str(self.port), str(images)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        self.session = session

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def status(self) -> dict[str, Any] | None:
        return api_status(self.port)

    def wait_until(self, check: Any, what: str, timeout: float = 30) -> None:
        wait_until(check, what, timeout, context=self.output)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def tray_daemon(
    tray_host: XSession, tmp_path: Path, tiny_clip: tuple[Path, Path]
) -> Iterator[TrayDaemon]:
    running = TrayDaemon(tray_host, tmp_path, tiny_clip)
    try:
        yield running
    finally:
        running.close()


@requires_tk
def test_tray_drives_the_real_daemon(tray_daemon: TrayDaemon) -> None:
    session = tray_daemon.session

    def indexed() -> bool:
        status = tray_daemon.status()
        return bool(
            status and status["total_images"] == 3 and status["indexing"]["embeddings_owed"] == 0
        )

    tray_daemon.wait_until(indexed, "the daemon to index 3 images", timeout=60)
    tray_daemon.wait_until(
        lambda: find_windows(session, "--classname", "^photomapdSystemTrayIcon$"), "the tray icon"
    )
    icon = TrayWindow(session, find_windows(session, "--classname", "^photomapdSystemTrayIcon$")[0])
    tray_daemon.wait_until(icon.docked, "the icon to dock into trayer")
    tray_daemon.wait_until(
        lambda: icon.title() == "PhotoMap: Up to date - 3 images", "the up-to-date tooltip"
    )

    icon.popup_and_press("p", tray_daemon.output)  # Pause indexing
    tray_daemon.wait_until(lambda: tray_daemon.status()["indexing"]["paused"], "paused")  # type: ignore[index]
    tray_daemon.wait_until(lambda: icon.title().startswith("PhotoMap: Paused"), "paused tooltip")
    icon.popup_and_press("r", tray_daemon.output)  # Resume indexing
    tray_daemon.wait_until(
        lambda: not tray_daemon.status()["indexing"]["paused"],  # type: ignore[index]
        "resumed",
    )

    icon.click(1)  # the default action: Open PhotoMap
    tray_daemon.wait_until(tray_daemon.opened.exists, "the browser to be opened")
    assert tray_daemon.opened.read_text() == f"http://127.0.0.1:{tray_daemon.port}\n"

    icon.popup_and_press("q", tray_daemon.output)  # Quit
    try:
        assert tray_daemon.process.wait(timeout=30) == 0, tray_daemon.output()
    except subprocess.TimeoutExpired:
        raise AssertionError(f"photomapd did not exit:\n{tray_daemon.output()}") from None
    assert api_status(tray_daemon.port) is None
    saved = [path.name for path in tray_daemon.data_dir.iterdir()]
    assert any(name.endswith(".usearch") for name in saved), saved  # the index was saved
    assert "stopping photomapd" in tray_daemon.output()
    assert os.path.getsize(tray_daemon.data_dir / "photomapd.sqlite3") > 0


@pytest.fixture
def daemon_without_tray_host(
    xvfb: XSession, tmp_path: Path, tiny_clip: tuple[Path, Path]
) -> Iterator[TrayDaemon]:
    running = TrayDaemon(xvfb, tmp_path, tiny_clip)  # a display, but no panel to dock into
    try:
        yield running
    finally:
        running.close()


def test_no_tray_host_runs_headless_and_says_why(daemon_without_tray_host: TrayDaemon) -> None:
    daemon = daemon_without_tray_host
    daemon.wait_until(daemon.status, "the daemon to answer")
    assert f"no tray (no system tray host on display {daemon.session.display}" in daemon.output()
    assert "running headless" in daemon.output()
    daemon.process.send_signal(signal.SIGTERM)  # headless: SIGTERM is the clean stop
    assert daemon.process.wait(timeout=30) == 0, daemon.output()
