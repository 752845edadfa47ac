"""The composition root: builds every component, starts and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import time
from typing import Any

from aiohttp import web

import photomapd
from photomapd.albums.board_sync import BoardSync
from photomapd.albums.service import AlbumService
from photomapd.config import Config
from photomapd.events import EventBus
from photomapd.indexing.pipeline import Pipeline
from photomapd.instance_lock import DataFolderInUse, InstanceLock
from photomapd.intake.watcher import FolderWatcher
from photomapd.metadata.json_reader import MetadataReader, default_metadata_reader
from photomapd.model import history as model_history
from photomapd.search.searcher import Searcher
from photomapd.search.vector_space import VectorSpace
from photomapd.store.schema import SQLiteTooOld
from photomapd.store.store import Store

log = logging.getLogger(__name__)

MISSING_ROWS_KEPT_SECONDS = 24 * 3600  # a moved file keeps its id if it reappears within a day


class StartupError(Exception):
    """The daemon cannot start; the message is the one line shown to the user."""


class Daemon:
    def __init__(
        self,
        config: Config,
        embedder: Any = None,
        read_metadata: MetadataReader | None = None,
        force_polling: bool = False,
        start_paused: bool = False,
    ) -> None:
        self.config = config
        self.started_at = time.time()
        self.events = EventBus()
        self.store = Store(config.database_path)
        self.embedder = embedder or self.make_embedder(config.model.name, config.model.pretrained)
        self.vectors = VectorSpace(config.data_dir, self.embedder.model_id)
        self.pipeline = Pipeline(
            self.store,
            self.embedder,
            self.vectors,
            self.events,
            config.thumbnails_dir,
            read_metadata or default_metadata_reader(),
            batch_size=config.model.batch_size,
        )
        if start_paused:
            self.pipeline.unpaused.clear()
        self.searcher = Searcher(
            self.store, self.pipeline, self.vectors, config.data_dir, self.make_embedder
        )
        self.force_polling = force_polling
        self.watcher: FolderWatcher | None = None
        self.albums: AlbumService = None  # type: ignore[assignment]  # needs the loop: start()
        self.board_sync: BoardSync | None = None
        self.runner: web.AppRunner | None = None
        self.url = f"http://{config.host}:{config.port}"
        self.stop_requested = asyncio.Event()
        self.extensions: dict[str, Any] = {}
        self.instance_lock = InstanceLock(config.data_dir)

    def make_embedder(self, name: str, pretrained: str) -> Any:
        """The model in a worker process (default: the daemon never imports torch), or in this
        process (model.worker_process = false: tests, and platforms without spawn)."""
        model = self.config.model
        arguments = (name, pretrained, model.device, model.idle_unload_seconds)
        if model.worker_process:
            from photomapd.model.worker_process import ModelClient

            return ModelClient(*arguments, cache_dir=self.config.cache_dir / "models")
        from photomapd.model.embedder import Embedder

        return Embedder(*arguments, cache_dir=self.config.cache_dir / "models")

    async def start(self) -> None:
        from photomapd.api.app import create_app

        self.config.ensure_dirs()
        try:
            self.instance_lock.acquire()
        except DataFolderInUse as error:
            raise StartupError(str(error)) from error
        try:
            await self.store.open()
        except SQLiteTooOld as error:
            self.instance_lock.release()
            raise StartupError(str(error)) from error
        await self.vectors.sync(self.store)
        model_history.remember(
            self.config.data_dir,
            self.embedder.model_id,
            self.config.model.name,
            self.config.model.pretrained,
        )
        self.watcher = FolderWatcher(
            asyncio.get_running_loop(), self.pipeline.submit, force_polling=self.force_polling
        )
        self.albums = AlbumService(
            self.config, self.store, self.pipeline, self.watcher, self.events
        )
        self.pipeline.start()
        app = create_app(self)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await self.stop()
            if error.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {self.config.port} on {self.config.host} is already in use (another "
                    "photomapd or another program); stop it, or start with --port N"
                ) from error
            if error.errno == errno.EADDRNOTAVAIL:
                raise StartupError(
                    f"cannot listen on {self.config.host}: it is not an address of this machine; "
                    "use one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (LAN "
                    "mode), with --host or server.host in config.toml"
                ) from error
            raise StartupError(
                f"cannot listen on {self.config.host}:{self.config.port}: {error}"
            ) from error
        self.url = _public_url(self.config.host, _bound_port(self.runner) or self.config.port)
        await self.albums.start_all()
        self.board_sync = BoardSync(self.albums)
        self.pipeline.spawn(self.board_sync.run())
        if self.config.albums:
            # Warm start: the first image InvokeAI writes should not wait for a model load.
            self.pipeline.spawn(self.pipeline.ensure_model())
        purged = await self.store.purge_missing(MISSING_ROWS_KEPT_SECONDS)
        if purged:
            log.info("forgot %d images whose files have been gone for a day", len(purged))
        log.info("photomapd %s serving %s", photomapd.__version__, self.url)

    async def stop(self) -> None:
        """Clean stop: let the batch in hand finish, save the vector index, close the database."""
        if self.watcher is not None:
            self.watcher.stop()
        await self._drain(timeout=30)
        await self.pipeline.stop()
        # Ends the model worker process (if any): its memory and VRAM go back at once.
        await asyncio.to_thread(self.embedder.unload)
        await asyncio.to_thread(self.searcher.close)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.store.close()
        self.instance_lock.release()

    async def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (
            self.pipeline.in_flight or self.pipeline.prepared.qsize()
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Windows, or not the main thread (tray mode): the tray's Quit stops us instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_requested.set)
        await self.start()
        try:
            await self.stop_requested.wait()
        finally:
            log.info("stopping photomapd")
            await self.stop()

    # --- control (tray, CLI): called on the loop ------------------------------------------

    def pause(self) -> None:
        self.pipeline.pause()

    def resume(self) -> None:
        self.pipeline.resume()

    async def reindex_all(self) -> None:
        for album in self.albums.list():
            await self.albums.reconcile(album.key)

    def request_stop(self) -> None:
        self.stop_requested.set()

    # --- status -----------------------------------------------------------------------

    def model_status(self) -> dict[str, Any]:
        return {
            "name": self.config.model.name,
            "pretrained": self.config.model.pretrained,
            "device": self.embedder.device,
            "state": str(self.embedder.state),
            "error": self.embedder.error,
            "model_id": self.embedder.model_id,
        }

    async def status(self) -> dict[str, Any]:
        albums = [await self.albums.describe(album) for album in self.albums.list()]
        owed = await self.store.count_without_embedding(self.embedder.model_id)
        return {
            "version": photomapd.__version__,
            "url": self.url,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "albums": albums,
            "total_images": sum(album["count"] for album in albums),
            "indexing": {**self.pipeline.progress(), "embeddings_owed": owed},
            "model": self.model_status(),
            "vectors": {"count": len(self.vectors), "rebuilt": self.vectors.rebuilt_reason},
            "watcher": {
                "mode": self.watcher.mode if self.watcher else "off",
                "fallback_reason": self.watcher.fallback_reason if self.watcher else None,
            },
            "clients": self.events.subscriber_count,
        }


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


def _public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
