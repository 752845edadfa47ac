"""The tray's logic without a display: status lines, menu rows, actions, icon images."""

from __future__ import annotations

from pathlib import Path

import pytest

from photomapd.desktop.autostart import XdgAutostart
from photomapd.desktop.badge import STATE_COLOURS, draw_icon, status_line, tooltip
from photomapd.desktop.control import DaemonStatus
from photomapd.desktop.tray import TrayApp


def status(**changes: object) -> DaemonStatus:
    base = DaemonStatus(
        state="idle", queued=0, done=0, total_images=12345, model_state="ready", message=""
    )
    return {**base, **changes}  # type: ignore[typeddict-item]


@pytest.mark.parametrize(
    ("snapshot", "line"),
    [
        (status(state="indexing", done=12, queued=328), "Indexing 12 of 340"),
        (status(), "Up to date — 12,345 images"),
        (status(model_state="unavailable"), "Model unavailable"),
        (
            status(model_state="unavailable", queued=5, state="indexing"),
            "Model unavailable — 5 waiting",
        ),
        (status(state="paused", queued=7), "Paused — 7 waiting"),
        (status(state="paused"), "Paused — 12,345 images"),
        (status(state="error", message="folder /x is missing"), "Error: folder /x is missing"),
        (status(state="error"), "Error: see the logs"),
    ],
)
def test_status_line(snapshot: DaemonStatus, line: str) -> None:
    assert status_line(snapshot) == line
    assert tooltip(snapshot) == f"PhotoMap: {line}"


def test_each_state_has_its_own_icon() -> None:
    images = {state: draw_icon(state, 32) for state in STATE_COLOURS}
    for state, image in images.items():
        assert image.size == (32, 32) and image.mode == "RGBA"
        assert image.getpixel((16, 1))[:3] == STATE_COLOURS[state]  # the badge's rim
        assert image.getpixel((0, 0))[3] == 0  # transparent corners
    pixels = {state: image.tobytes() for state, image in images.items()}
    assert len(set(pixels.values())) == len(STATE_COLOURS)
    assert draw_icon("something new").tobytes() == draw_icon("error").tobytes()


class FakeDaemon:
    def __init__(self, logs_dir: Path) -> None:
        self.url = "http://127.0.0.1:8050"
        self.logs_dir = logs_dir
        self.calls: list[str] = []
        self.snapshot = status(state="indexing", done=1, queued=2)
        self.broken = False

    def status(self) -> DaemonStatus:
        if self.broken:
            raise TimeoutError("no answer in 5 s")
        return self.snapshot

    def pause(self) -> None:
        self.calls.append("pause")
        self.snapshot = status(state="paused", queued=2)

    def resume(self) -> None:
        self.calls.append("resume")
        self.snapshot = status(state="indexing", done=1, queued=2)

    def reindex_all(self) -> None:
        self.calls.append("reindex_all")

    def request_stop(self) -> None:
        self.calls.append("request_stop")


@pytest.fixture
def daemon(tmp_path: Path) -> FakeDaemon:
    return FakeDaemon(tmp_path / "logs")


def rows(app: TrayApp) -> dict[str, object]:
    return {entry.label(): entry for entry in app.entries() if entry is not None}


def test_menu_rows_and_actions(daemon: FakeDaemon, tmp_path: Path) -> None:
    opened: list[str] = []
    folders: list[Path] = []
    autostart = XdgAutostart(["/opt/photomapd"], {"HOME": str(tmp_path)})
    app = TrayApp(daemon, autostart, open_url=opened.append, open_folder=folders.append)

    labels = [entry.label() if entry else "---" for entry in app.entries()]
    assert labels == [
        "Open PhotoMap", "Indexing 1 of 3", "---", "Pause indexing", "Update all albums", "---",
        "Start at login", "Open logs folder", "---", "Quit",
    ]  # fmt: skip
    entries = rows(app)
    assert entries["Open PhotoMap"].default and entries["Indexing 1 of 3"].action is None

    entries["Open PhotoMap"].action()
    assert opened == ["http://127.0.0.1:8050"]
    entries["Pause indexing"].action()
    assert daemon.calls == ["pause"] and "Resume indexing" in rows(app)
    rows(app)["Resume indexing"].action()
    assert daemon.calls == ["pause", "resume"]
    entries["Update all albums"].action()
    assert daemon.calls[-1] == "reindex_all"
    assert entries["Start at login"].checked() is False
    entries["Start at login"].action()
    assert entries["Start at login"].checked() is True and autostart.status().enabled
    entries["Start at login"].action()
    assert not autostart.status().enabled
    entries["Open logs folder"].action()
    assert folders == [tmp_path / "logs"]
    entries["Quit"].action()
    assert daemon.calls[-1] == "request_stop"


def test_popup_rows_mirror_the_menu(daemon: FakeDaemon) -> None:
    app = TrayApp(daemon, None)
    popup = app.popup_entries()
    assert [row.label if row else None for row in popup][:2] == ["Open PhotoMap", "Indexing 1 of 3"]
    login = next(row for row in popup if row and row.label.startswith("Start at login"))
    assert login.label == "Start at login (install photomapd first)" and login.checked is False
    keys = {row.label[row.underline].lower() for row in popup if row and row.action}
    assert len(keys) == 6  # every actionable row has its own key (o, p, u, s, l, q)


def test_a_daemon_that_does_not_answer_shows_as_an_error(daemon: FakeDaemon) -> None:
    app = TrayApp(daemon, None)
    daemon.broken = True
    app.refresh()
    assert app.status["state"] == "error"
    assert status_line(app.status) == "Error: daemon not answering (no answer in 5 s)"
