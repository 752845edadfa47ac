"""Looking at and clicking a tray icon on an X display, the way a user would."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable

from .conftest import XSession


def wait_until(
    check: Callable[[], object], what: str, timeout: float = 10, context: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{context()}")
        time.sleep(0.05)


def window_parent(session: XSession, window: str) -> str:
    tree = session.run("xwininfo", "-id", window, "-tree")
    return re.search(r"Parent window id: (0x[0-9a-f]+)", tree).group(1)  # type: ignore[union-attr]


def find_windows(session: XSession, *query: str) -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", *query], env=session.env, capture_output=True, text=True
    )
    return found.stdout.split()


class TrayWindow:
    """A docked icon's X window: where it sits, its name (the tooltip), clicks, its menu."""

    def __init__(self, session: XSession, window: str) -> None:
        self.session = session
        self.window = window
        self.panels = {f"0x{int(panel):x}" for panel in find_windows(session, "--class", "trayer")}

    def docked(self) -> bool:
        """Mapped, with trayer's panel as an ancestor (trayer embeds via a socket window)."""
        parent = window_parent(self.session, self.window)
        ancestors = {parent, window_parent(self.session, parent)}
        info = self.session.run("xwininfo", "-id", self.window)
        return bool(self.panels & ancestors) and "Map State: IsViewable" in info

    def title(self) -> str:
        info = self.session.run("xwininfo", "-id", self.window)
        return re.search(r'Window id: \S+ "(.*)"', info).group(1)  # type: ignore[union-attr]

    def click(self, button: int) -> None:
        self.session.run(
            "xdotool", "mousemove", "--window", self.window, "5", "5", "click", str(button)
        )

    def menu_visible(self) -> bool:
        return bool(find_windows(self.session, "--onlyvisible", "--class", "Menu"))

    def popup_and_press(self, key: str, context: Callable[[], str] = str) -> None:
        """Right-click, wait for the Tk menu, press the underlined key of a row."""
        wait_until(lambda: not self.menu_visible(), "the previous menu to close", context=context)
        for _attempt in range(3):
            self.click(3)
            try:
                # A click that lands while Tk still releases the last menu's grab is lost;
                # a user would click again, and so do we.
                wait_until(self.menu_visible, "the tray menu to open", timeout=4)
                break
            except AssertionError:
                continue
        wait_until(self.menu_visible, "the tray menu to open", timeout=1, context=context)
        self.session.run("xdotool", "key", key)
