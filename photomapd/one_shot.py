"""One-shot work without a server: index a folder with a progress bar, search offline."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any

from photomapd.config import (
    AlbumConfig,
    ConfigError,
    key_from_name,
    validate_album_key,
)
from photomapd.daemon import Daemon
from photomapd.file_paths import shown
from photomapd.image_json import image_json
from photomapd.instance_lock import DataFolderInUse
from photomapd.search.searcher import SearchQuery, SearchUnavailable
from photomapd.store.schema import SQLiteTooOld
from photomapd.store.store import Store

if TYPE_CHECKING:
    from pathlib import Path

    from photomapd.config import (
        Config,
    )

# How many failed files `photomapd index` lists (with the reason) before "... and N more".
FAILURES_SHOWN = 10


def album_for_folder(config: Config, folder: Path, key: str | None) -> AlbumConfig:
    """The album `photomapd index FOLDER [--album KEY]` fills; ConfigError says why not."""
    holding = next((a for a in config.albums if folder in a.folders), None)
    if holding is not None:
        if key and key != holding.key:
            print(f"{folder} is in album {holding.key!r} already; indexing that album")
        return holding
    if key:
        validate_album_key(key)
        taken = config.album(key)
        if taken is not None:
            folders = ", ".join(str(f) for f in taken.folders) or "InvokeAI boards"
            raise ConfigError(
                f"album {key!r} already exists with other folders ({folders}); pick another "
                "--album key, or leave --album out to have one made from the folder name"
            )
    album = AlbumConfig(key or config.unique_key(key_from_name(folder.name)), folder.name, [folder])
    config.albums.append(album)
    config.save()
    return album


async def index_folder_once(
    daemon: Daemon, folder: Path, key: str | None
) -> int:
    """`photomapd index`: the daemon's own opening sequence (its data-folder lock first, so
    nothing is written beside a running daemon), no server, polling instead of watching."""
    daemon.force_polling = True
    try:
        components = await daemon.open_core()
    except DataFolderInUse as error:
        holder = f"process {error.pid}" if error.pid else "another process"
        print(
            f"photomapd: a photomapd daemon ({holder}) is running on the data folder "
            f"{daemon.config.data_dir} and indexes its folders itself, live: add this one with "
            f"`photomapd albums add NAME {folder}`, or stop the daemon before `photomapd index`"
            " (nothing was written)",
            file=sys.stderr,
        )
        return 1
    except SQLiteTooOld as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    try:
        try:
            album = album_for_folder(daemon.config, folder, key)
        except ConfigError as error:
            print(f"photomapd: {error}", file=sys.stderr)
            return 1
        summary = await components.albums.reconcile(album.key)
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
        done, failed = daemon.pipeline.counters.done, daemon.pipeline.counters.failed
        print(
            f"indexed {done} image{'' if done == 1 else 's'} into album {album.key!r}"
            f" ({failed} failed{':' if failed else ''})"
        )
        if failed:
            await _print_failures(daemon.store, album.key, failed)
        if daemon.embedder.state == "unavailable":
            print(
                f"model unavailable: {daemon.embedder.error}; images are browsable and will be "
                "embedded once the model loads"
            )
        return 0
    finally:
        await daemon.stop()


async def _print_failures(store: Store, key: str, failed: int) -> None:
    """Each file that could not be read, with the reason (which says what to do)."""
    rows = await store.failures(key, limit=FAILURES_SHOWN)
    for row in rows:
        print(f"  {shown(row['path'])}: {row['error']}")
    if failed > len(rows):
        print(
            f"  ... and {failed - len(rows)} more (the UI's Albums > Failed files, or "
            f"GET /api/albums/{key}/failures, lists them all)"
        )


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
