"""One-shot work without a server: index a folder with a progress bar, search offline."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from photomapd.config import AlbumConfig, Config, key_from_name
from photomapd.daemon import Daemon
from photomapd.image_json import image_json
from photomapd.search import SearchQuery, SearchUnavailable
from photomapd.store import Store


async def _open_without_server(daemon: Daemon) -> None:
    from photomapd.albums import AlbumService
    from photomapd.watcher import FolderWatcher

    daemon.config.ensure_dirs()
    await daemon.store.open()
    await daemon.vectors.sync(daemon.store)
    daemon.watcher = FolderWatcher(
        asyncio.get_running_loop(), daemon.pipeline.submit, force_polling=True
    )
    daemon.albums = AlbumService(
        daemon.config, daemon.store, daemon.pipeline, daemon.watcher, daemon.events
    )
    daemon.pipeline.start()


async def index_folder_once(daemon: Daemon, folder: Path, key: str | None) -> int:
    config = daemon.config
    album = next((a for a in config.albums if folder in a.folders), None)
    if album is None:
        key = key or key_from_name(folder.name)
        album = AlbumConfig(key, folder.name, [folder])
        config.albums.append(album)
        config.save()
    await _open_without_server(daemon)
    try:
        summary = await daemon.albums.reconcile(album.key)
        total = summary["queued"]
        started = time.monotonic()
        while daemon.pipeline.queued or daemon.pipeline.catch_up_wanted.is_set():
            _progress_bar(
                daemon.pipeline.counters.done + daemon.pipeline.counters.failed, total, started
            )
            await asyncio.sleep(0.2)
            if not daemon.pipeline.queued and not await daemon.store.count_without_embedding(
                daemon.embedder.model_id
            ):
                break
            if daemon.embedder.state == "unavailable" and not daemon.pipeline.queued:
                break
        _progress_bar(
            daemon.pipeline.counters.done + daemon.pipeline.counters.failed, total, started
        )
        print(file=sys.stderr)
        failed = daemon.pipeline.counters.failed
        print(
            f"indexed {daemon.pipeline.counters.done} images into album {album.key!r}"
            f" ({failed} failed; `photomapd status` or the UI lists why)"
        )
        if daemon.embedder.state == "unavailable":
            print(
                f"model unavailable: {daemon.embedder.error}; images are browsable and will be "
                "embedded once the model loads"
            )
        return 0
    finally:
        await daemon.stop()


def _progress_bar(done: int, total: int, started: float) -> None:
    width = 30
    fraction = done / total if total else 1.0
    filled = int(width * min(fraction, 1.0))
    rate = done / max(time.monotonic() - started, 1e-6)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rate:.1f} img/s")
    sys.stderr.flush()


async def search_offline(
    config: Config, text: str, negative: str, album: str | None, limit: int
) -> list[dict[str, Any]]:
    daemon = Daemon(config)
    config.ensure_dirs()
    await daemon.store.open()
    try:
        await daemon.vectors.sync(daemon.store)
        try:
            hits = await daemon.searcher.search(
                SearchQuery(text, negative, album=album, limit=limit)
            )
        except SearchUnavailable as error:
            raise RuntimeError(str(error)) from error
        rows = await daemon.store.get_images([hit.image_id for hit in hits])
        return [
            {"image": image_json(rows[h.image_id]), "score": h.score}
            for h in hits
            if h.image_id in rows
        ]
    finally:
        daemon.pipeline.io_pool.shutdown(wait=False)
        daemon.pipeline.model_pool.shutdown(wait=False)
        await Store.close(daemon.store)
