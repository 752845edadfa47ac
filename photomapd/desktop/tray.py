"""The tray icon and its menu; the only module that imports pystray.

Runs on the main thread (macOS requires it); the daemon's loop runs on another thread and is
reached only through `DaemonControl`, whose methods queue commands on that loop. pystray is
imported when the tray starts, never at package import: without a display it fails to import.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from photomapd.desktop.autostart import default_autostart
from photomapd.desktop.badge import APP_NAME, draw_icon, status_line, tooltip
from photomapd.desktop.control import DaemonState, DaemonStatus
from photomapd.desktop.popup import PopupEntry, TkPopupMenu
from photomapd.desktop.x11 import latin1, tray_available, xorg_icon_class

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from photomapd.desktop.autostart import Autostart
    from photomapd.desktop.control import DaemonControl

__all__ = ["TrayApp", "draw_icon", "run_with_tray", "status_line", "tray_available"]

logger = logging.getLogger(__name__)


def open_path(path: Path) -> None:
    """Show a folder in the desktop's file manager."""
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # Windows only
        return
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([opener, str(path)], start_new_session=True)
    except FileNotFoundError:
        logger.warning("cannot open %s: %s is not installed; the logs are there", path, opener)


@dataclass(frozen=True)
class MenuEntry:
    """One menu row, independent of pystray so the menu can be checked without a display."""

    label: Callable[[], str]
    action: Callable[[], None] | None  # None: an informational row, shown greyed out
    checked: Callable[[], bool] | None = None
    default: bool = False
    underline: int = -1  # index of the letter that picks the row in the X11 popup


SEPARATOR = None


class TrayApp:
    """Owns the icon, its menu and a refresher thread that mirrors the daemon's status."""

    def __init__(
        self,
        control: DaemonControl,
        autostart: Autostart | None,
        open_url: Callable[[str], Any] = webbrowser.open,
        open_folder: Callable[[Path], None] = open_path,
        refresh_seconds: float = 2.0,
        daemon_alive: Callable[[], bool] | None = None,
    ) -> None:
        self.control = control
        self.autostart = autostart
        self.open_url = open_url
        self.open_folder = open_folder
        self.refresh_seconds = refresh_seconds
        # When the daemon thread ends on its own (SIGTERM, fatal error) the tray must go too.
        self.daemon_alive = daemon_alive
        self.status: DaemonStatus = self._read_status()
        self._stopped = threading.Event()
        self._icon: Any = None
        self._popup: TkPopupMenu | None = None
        self._refresh_lock = threading.Lock()

    # -- menu -------------------------------------------------------------------------------
    def entries(self) -> list[MenuEntry | None]:
        return [
            MenuEntry(lambda: f"Open {APP_NAME}", self.open_ui, default=True, underline=0),
            MenuEntry(lambda: status_line(self.status), None),
            SEPARATOR,
            MenuEntry(self._pause_label, self.toggle_pause, underline=0),
            MenuEntry(lambda: "Update all albums", self.control.reindex_all, underline=0),
            SEPARATOR,
            MenuEntry(
                self._autostart_label,
                self.toggle_autostart,
                checked=self.autostart_enabled,
                underline=0,
            ),
            MenuEntry(lambda: "Open logs folder", self.open_logs, underline=5),
            SEPARATOR,
            MenuEntry(lambda: "Quit", self.quit, underline=0),
        ]

    def _pause_label(self) -> str:
        return "Resume indexing" if self.status["state"] == DaemonState.PAUSED else "Pause indexing"

    def _autostart_label(self) -> str:
        return "Start at login" if self.autostart else "Start at login (install photomapd first)"

    # -- actions ----------------------------------------------------------------------------
    def open_ui(self) -> None:
        self.open_url(self.control.url)

    def toggle_pause(self) -> None:
        if self.status["state"] == DaemonState.PAUSED:
            self.control.resume()
        else:
            self.control.pause()
        self.refresh()

    def autostart_enabled(self) -> bool:
        return bool(self.autostart and self.autostart.status().enabled)

    def toggle_autostart(self) -> None:
        if self.autostart is None:
            logger.warning("start at login needs an installed photomapd (see installer/)")
            return
        result = self.autostart.disable() if self.autostart_enabled() else self.autostart.enable()
        logger.info("%s", result.describe())

    def open_logs(self) -> None:
        self.open_folder(self.control.logs_dir)

    def quit(self) -> None:
        logger.info("quit from the tray: stopping the daemon")
        self.control.request_stop()
        self.stop()

    # -- status -----------------------------------------------------------------------------
    def _read_status(self) -> DaemonStatus:
        try:
            return self.control.status()
        except Exception as error:  # the tray must outlive a daemon hiccup
            logger.warning("daemon status unavailable: %s", error)
            return DaemonStatus(
                state=DaemonState.ERROR,
                queued=0,
                done=0,
                total_images=0,
                model_state="",
                message=f"daemon not answering ({error})",
            )

    def refresh(self) -> None:
        """Re-read the status and push changes to the icon, tooltip and menu."""
        with self._refresh_lock:  # menu actions and the refresher thread both refresh
            previous = self.status
            self.status = self._read_status()
            icon = self._icon
            if icon is None or self._stopped.is_set():
                return
            if self.status["state"] != previous["state"]:
                icon.icon = draw_icon(self.status["state"])
            icon.title = tooltip(self.status)
            icon.update_menu()

    def _refresh_forever(self, icon: Any) -> None:
        icon.visible = True
        while not self._stopped.wait(self.refresh_seconds):
            if self.daemon_alive is not None and not self.daemon_alive():
                logger.info("daemon stopped; closing the tray")
                self.stop()
                return
            self.refresh()
            if hasattr(icon, "ensure_docked"):
                icon.ensure_docked()

    # -- lifecycle --------------------------------------------------------------------------
    def build_icon(self) -> Any:
        import pystray

        def convert(entry: MenuEntry | None) -> Any:
            if entry is None:
                return pystray.Menu.SEPARATOR
            action, checked = entry.action, entry.checked
            return pystray.MenuItem(
                lambda _item: entry.label(),
                (lambda _icon, _item: action()) if action else None,
                checked=(lambda _item: checked()) if checked else None,
                enabled=action is not None,
                default=entry.default,
            )

        menu = pystray.Menu(*(convert(entry) for entry in self.entries()))
        if pystray.Icon.__module__.endswith("_xorg"):
            icon_class = xorg_icon_class(pystray.Icon, self._popup_menu)
            title = latin1(tooltip(self.status))
        else:
            icon_class, title = pystray.Icon, tooltip(self.status)
        return icon_class("photomapd", draw_icon(self.status["state"]), title, menu)

    def popup_entries(self) -> list[PopupEntry | None]:
        return [
            None
            if entry is None
            else PopupEntry(
                entry.label(),
                entry.action,
                entry.checked() if entry.checked else None,
                entry.underline,
            )
            for entry in self.entries()
        ]

    def _popup_menu(self, x: int, y: int) -> None:
        if self._popup is not None:
            self._popup.show(x, y)

    def run(self) -> None:
        """Show the icon and block until Quit (or `stop()`); call from the main thread."""
        self._icon = self.build_icon()
        backend = type(self._icon).__module__
        logger.info("tray icon started (pystray backend %s)", backend)
        if getattr(self._icon, "HAS_MENU", True) is False:
            self._popup = TkPopupMenu(self.popup_entries)
            self._popup.start()
        try:
            self._icon.run(setup=self._refresh_forever)
        finally:
            if self._popup is not None:
                self._popup.stop()

    def stop(self) -> None:
        # Under the lock: once set, no refresh is half-way through a call into the icon, whose
        # backend would wait forever for a main loop that has ended.
        with self._refresh_lock:
            self._stopped.set()
        if self._icon is not None:
            self._icon.stop()


def run_with_tray(
    make_daemon: Callable[[], Any],
    open_url: Callable[[str], Any] = webbrowser.open,
) -> int:
    """Tray mode: the daemon (built by `make_daemon`, the CLI's factory) on a background thread,
    the icon on this (the main) thread. A daemon that cannot start raises its error from here.

    Returns the exit code: 0 after a clean stop (Quit, SIGTERM, Ctrl-C), 1 when the daemon died.
    """
    from photomapd.desktop.daemon_thread import DaemonThread

    runner = DaemonThread(make_daemon)
    control = runner.start()
    app = TrayApp(control, default_autostart(), open_url=open_url, daemon_alive=runner.is_alive)
    # A signal only asks the daemon to stop; the tray follows when the daemon thread ends.
    # (Stopping the icon from a handler could wait on the very loop the handler interrupted.)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: control.request_stop())
    try:
        app.run()
    except Exception:
        logger.exception("the tray icon failed; the daemon keeps running until stopped")
        while runner.is_alive():
            runner.join(timeout=1)
    finally:
        control.request_stop()
        runner.join()
    logger.info("photomapd stopped")
    return runner.exit_code
