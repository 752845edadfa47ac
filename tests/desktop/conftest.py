"""Fixtures for desktop tests: a private X server (Xvfb) and a tray host (trayer)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from photomapd.desktop.tray import tray_available

REPO_ROOT = Path(__file__).resolve().parents[2]

# The X11 right-click menu is drawn with Tk (Debian: python3-tk for the system Python).
requires_tk = pytest.mark.skipif(
    importlib.util.find_spec("_tkinter") is None,
    reason="tkinter is missing (Debian: apt-get install python3-tk); the X11 tray menu needs it",
)


@dataclass
class XSession:
    display: str
    env: dict[str, str]

    def run(self, *argv: str) -> str:
        result = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=30, check=True
        )
        return result.stdout


def _require(*binaries: str) -> None:
    missing = [name for name in binaries if shutil.which(name) is None]
    if missing:
        pytest.skip(
            f"{', '.join(missing)} not installed (Debian: apt-get install xvfb trayer "
            "xdotool x11-utils)"
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def xvfb() -> Iterator[XSession]:
    """A fresh Xvfb on a free display number (Xvfb picks it and reports it on a pipe)."""
    _require("Xvfb")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        # -noreset: without it the server resets whenever its last client leaves, and a
        # client connecting during that reset (trayer, the tray) fails to open the display.
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "800x600x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        number = stream.readline().strip()
    if not number:
        _stop(server)
        pytest.fail("Xvfb did not report a display number")
    display = f":{number}"
    env = {**os.environ, "DISPLAY": display, "PYSTRAY_BACKEND": "xorg"}
    env.pop("WAYLAND_DISPLAY", None)
    try:
        yield XSession(display, env)
    finally:
        _stop(server)


@pytest.fixture
def tray_host(xvfb: XSession, tmp_path: Path) -> Iterator[XSession]:
    """trayer docked at the top right, owning the system tray selection."""
    _require("trayer", "xdotool", "xwininfo")
    log = tmp_path / "trayer.log"
    with log.open("wb") as stderr:
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--height", "24"],
            env=xvfb.env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.monotonic() + 20
    while not tray_available(xvfb.env, "linux")[0]:
        if time.monotonic() > deadline or trayer.poll() is not None:
            _stop(trayer)
            pytest.fail(f"trayer did not take the tray selection within 20 s: {log.read_text()}")
        time.sleep(0.1)
    try:
        yield xvfb
    finally:
        _stop(trayer)
