"""The watcher's fallback: when native watching fails (inotify limit, network share), poll."""

from __future__ import annotations

import asyncio
import errno
import logging
from pathlib import Path

from watchdog.observers import Observer

from photomapd.config import AlbumConfig
from photomapd.intake.changes import Change, ChangeKind
from photomapd.intake.watcher import FolderWatcher
from tests.helpers import png_bytes, wait_for


class ExhaustedInotify(Observer):  # type: ignore[misc,valid-type]
    """The real observer, except that adding a watch fails as it does past max_user_watches."""

    def schedule(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")


async def test_falls_back_to_polling_and_still_sees_new_files(tmp_path: Path, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    seen: list[Change] = []
    watcher = FolderWatcher(
        asyncio.get_running_loop(),
        seen.append,
        polling_interval=0.2,
        native_observer=ExhaustedInotify,
    )
    try:
        with caplog.at_level(logging.WARNING):
            problems = watcher.watch_album(AlbumConfig("a", "A", [folder]))
        assert problems == []
        assert watcher.mode == "polling"
        assert "inotify watch limit" in watcher.fallback_reason
        described = watcher.album_watch("a")
        assert described["mode"] == "polling"
        assert "inotify watch limit" in described["reason"]
        assert described["polled_folders"] == [str(folder)]
        assert "falling back to polling" in caplog.text
        (folder / "new.png").write_bytes(png_bytes((1, 2, 3)))

        async def created() -> bool:
            return any(c.kind == ChangeKind.CREATED and c.path.name == "new.png" for c in seen)

        await wait_for(created, timeout=10, message="polling saw new.png")
    finally:
        watcher.stop()


async def test_missing_folder_is_reported_not_fatal(tmp_path: Path):
    watcher = FolderWatcher(asyncio.get_running_loop(), lambda change: None)
    try:
        problems = watcher.watch_album(AlbumConfig("a", "A", [tmp_path / "gone"]))
        assert problems == [f"folder missing: {tmp_path / 'gone'}"]
    finally:
        watcher.stop()


async def test_folders_made_in_a_burst_stay_native_below_the_limit(tmp_path: Path):
    """Checking new folders against the kernel's watch list must not mistake a folder watchdog
    is still adding a watch for as one it could not watch."""
    folder = tmp_path / "images"
    folder.mkdir()
    seen: list[Change] = []
    watcher = FolderWatcher(asyncio.get_running_loop(), seen.append)
    try:
        watcher.watch_album(AlbumConfig("a", "A", [folder]))
        for number in range(15):
            deep = folder / f"f{number}" / "a" / "b"
            deep.mkdir(parents=True)
            (deep / "new.png").write_bytes(png_bytes((number, 2, 3)))

        async def all_seen() -> bool:
            return len({c.path for c in seen if c.kind == ChangeKind.CREATED}) == 15

        await wait_for(all_seen, timeout=10, message="the 15 new files")
        await asyncio.sleep(2)  # the re-checks of folders not yet in the kernel's list
        assert watcher.album_watch("a") == {"mode": "native", "reason": None, "polled_folders": []}
        assert watcher.mode == "native"
    finally:
        watcher.stop()
