"""Runs the real TrayApp on the current DISPLAY against a fake daemon, driven over stdin.

Used by test_tray_x11.py as a child process, because pystray picks its X connection at import
time and must own the main thread. Every daemon call and opener call is appended as one JSON
line to the file named by argv[1]; stdin lines are commands:
  invoke <label>   activate the pystray menu item whose text is <label> (as pystray would)
  menu             print the menu as JSON (text, enabled, checked, default)
  state <state>    make the fake daemon report that state
"""

from __future__ import annotations

import faulthandler
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from photomapd.desktop.autostart import XdgAutostart
from photomapd.desktop.control import DaemonStatus
from photomapd.desktop.tray import TrayApp


class FakeDaemon:
    def __init__(self, record: Path, logs_dir: Path) -> None:
        self.url = "http://127.0.0.1:8999/"
        self.logs_dir = logs_dir
        self.record = record
        self.state = "indexing"

    def log(self, **event: Any) -> None:
        with self.record.open("a") as stream:
            stream.write(json.dumps(event) + "\n")

    def status(self) -> DaemonStatus:
        return DaemonStatus(
            state=self.state,
            queued=328,
            done=12,
            total_images=12345,
            model_state="ready",
            message="",
        )

    def pause(self) -> None:
        self.log(call="pause")
        self.state = "paused"

    def resume(self) -> None:
        self.log(call="resume")
        self.state = "indexing"

    def reindex_all(self) -> None:
        self.log(call="reindex_all")

    def request_stop(self) -> None:
        self.log(call="request_stop")


def describe_menu(app: TrayApp) -> list[dict[str, Any]]:
    menu = app._icon.menu
    return [
        {
            "text": item.text,
            "enabled": item.enabled,
            "checked": item.checked,
            "default": item.default,
        }
        for item in menu.items
        if item.text != "- - - -"
    ]


def serve_commands(app: TrayApp, daemon: FakeDaemon) -> None:
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "invoke":
            item = next(i for i in app._icon.menu.items if i.text == argument)
            item(app._icon)  # pystray's own activation path (runs the action, updates menu)
            print("OK", flush=True)
        elif command == "menu":
            print(json.dumps(describe_menu(app)), flush=True)
        elif command == "state":
            daemon.state = argument
            app.refresh()
            print("OK", flush=True)


def main() -> None:
    # The test sends SIGUSR1 when it gives up waiting, to see where every thread is.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    record, home = Path(sys.argv[1]), Path(sys.argv[2])
    daemon = FakeDaemon(record, home / "logs")
    autostart = XdgAutostart(["/opt/photomapd/bin/photomapd"], {"HOME": str(home)})
    app = TrayApp(
        daemon,
        autostart,
        open_url=lambda url: daemon.log(opened=url),
        open_folder=lambda path: daemon.log(folder=str(path)),
        refresh_seconds=0.2,
    )
    app.entries()
    original_setup = app._refresh_forever

    def setup(icon: Any) -> None:
        icon.visible = True
        print(f"WINDOW {icon._window.id}", flush=True)
        threading.Thread(target=serve_commands, args=(app, daemon), daemon=True).start()
        original_setup(icon)

    app._refresh_forever = setup  # type: ignore[method-assign]
    app.run()
    daemon.log(exited=True)


if __name__ == "__main__":
    main()
