"""The real tray icon under Xvfb with trayer as the tray host, clicked with xdotool."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from photomapd.desktop.tray import tray_available

from .conftest import REPO_ROOT, XSession, requires_tk
from .xtray import TrayWindow, wait_until

pytestmark = pytest.mark.tray

HARNESS = Path(__file__).with_name("tray_harness.py")


class Harness:
    """tray_harness.py as a child process: stdin commands, stdout answers, a JSON-lines record."""

    def __init__(self, session: XSession, tmp_path: Path) -> None:
        self.session = session
        self.record = tmp_path / "record.jsonl"
        self.home = tmp_path / "home"
        self.process = subprocess.Popen(
            [sys.executable, str(HARNESS), str(self.record), str(self.home)],
            env={**session.env, "PYTHONPATH": str(REPO_ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.icon: TrayWindow

    def wait_for_icon(self) -> None:
        window = self.expect(lambda line: line.startswith("WINDOW ")).split()[1]
        self.icon = TrayWindow(self.session, window)
        self.wait_until(self.icon.docked, "the icon docked into trayer")

    def wait_until(self, check: Callable[[], object], what: str) -> None:
        wait_until(check, what, context=self.dump_threads)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line.rstrip("\n"))

    def expect(self, match: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if match(line):
                return line
        raise AssertionError(f"harness output did not match in time:\n{self.dump_threads()}")

    def dump_threads(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1)
        return "".join(self.output)

    def send(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.expect(lambda line: line.startswith(("OK", "[")))

    def menu(self) -> list[dict[str, Any]]:
        return json.loads(self.send("menu"))

    def events(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def wait_for_event(self, event: dict[str, Any]) -> None:
        self.wait_until(lambda: event in self.events(), f"{event} (got {self.events()})")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


@pytest.fixture
def harness(tray_host: XSession, tmp_path: Path) -> Any:
    running = Harness(tray_host, tmp_path)
    try:
        running.wait_for_icon()
        yield running
    finally:
        running.close()


def test_no_display_means_headless() -> None:
    assert tray_available({}, "linux") == (False, "no DISPLAY: not a graphical session")
    ok, reason = tray_available({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not ok and "Wayland" in reason


def test_display_without_tray_host_means_headless(xvfb: XSession) -> None:
    ok, reason = tray_available(xvfb.env, "linux")
    assert not ok
    assert reason.startswith(f"no system tray host on display {xvfb.display}")


def test_icon_docks_into_trayer(harness: Harness) -> None:
    # The fixture waited for the dock; check the outcome explicitly.
    assert harness.icon.docked()
    assert harness.icon.title() == "PhotoMap: Indexing 12 of 340"  # the tooltip


def test_menu_items_and_actions_reach_the_daemon(harness: Harness) -> None:
    labels = [item["text"] for item in harness.menu()]
    assert labels == [
        "Open PhotoMap",
        "Indexing 12 of 340",
        "Pause indexing",
        "Update all albums",
        "Start at login",
        "Open logs folder",
        "Quit",
    ]
    menu = {item["text"]: item for item in harness.menu()}
    assert menu["Open PhotoMap"]["default"]
    assert not menu["Indexing 12 of 340"]["enabled"]
    assert menu["Start at login"]["checked"] is False

    harness.send("invoke Pause indexing")
    assert {"call": "pause"} in harness.events()
    after = [item["text"] for item in harness.menu()]
    assert "Resume indexing" in after and "Paused — 328 waiting" in after

    harness.send("invoke Start at login")
    autostart = harness.home / ".config" / "autostart" / "photomapd.desktop"
    assert autostart.is_file()
    assert {item["text"]: item for item in harness.menu()}["Start at login"]["checked"] is True
    harness.send("invoke Start at login")
    assert not autostart.exists()

    harness.send("invoke Open logs folder")
    assert {"folder": str(harness.home / "logs")} in harness.events()


def test_left_click_opens_the_ui(harness: Harness) -> None:
    harness.icon.click(1)
    harness.wait_for_event({"opened": "http://127.0.0.1:8999/"})


@requires_tk
def test_right_click_menu_pauses_updates_and_quits(harness: Harness) -> None:
    # The X11 popup is a Tk menu; each row has an underlined key.
    harness.icon.popup_and_press("p", harness.dump_threads)
    harness.wait_for_event({"call": "pause"})
    harness.icon.popup_and_press("u", harness.dump_threads)
    harness.wait_for_event({"call": "reindex_all"})
    harness.icon.popup_and_press("q", harness.dump_threads)
    harness.wait_for_event({"call": "request_stop"})
    try:
        assert harness.process.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        raise AssertionError(f"tray did not exit:\n{harness.dump_threads()}") from None
    assert harness.events()[-1] == {"exited": True}


def test_tooltip_and_icon_follow_the_state(harness: Harness) -> None:
    harness.send("state error")
    harness.wait_until(
        lambda: harness.icon.title() == "PhotoMap: Error: see the logs", "error title"
    )
    harness.send("state idle")
    harness.wait_until(
        lambda: harness.icon.title() == "PhotoMap: Up to date - 12,345 images", "Latin-1 title"
    )
