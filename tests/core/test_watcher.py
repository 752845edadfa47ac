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
