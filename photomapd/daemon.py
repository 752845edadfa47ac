"""The composition root: builds every component, starts and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

import photomapd
from photomapd.albums.board_sync import BoardSync
from photomapd.albums.service import AlbumService
from photomapd.components import Components
from photomapd.events import EventBus
from photomapd.indexing.pipeline import Pipeline
from photomapd.instance_lock import DataFolderInUse, InstanceLock
from photomapd.intake.links import LinkGuard
from photomapd.intake.watcher import FolderWatcher
from photomapd.invokeai.bridge import InvokeAIBridge
from photomapd.invokeai.credentials import CredentialStore
from photomapd.map.service import MapService
from photomapd.metadata.json_reader import default_metadata_reader
from photomapd.model import history as model_history
from photomapd.model.runner import ModelRunner
from photomapd.search.searcher import Searcher
from photomapd.search.vector_space import VectorSpace
from photomapd.store.metadata_index import reparse_after_upgrade
from photomapd.store.schema import SQLiteTooOld
from photomapd.store.store import Store

if TYPE_CHECKING:
    from photomapd.config import Config
    from photomapd.metadata.json_reader import MetadataReader
    from photomapd.model.lifecycle import ModelHandle

log = logging.getLogger(__name__)

MISSING_ROWS_KEPT_SECONDS = 24 * 3600  # a moved file keeps its id if it reappears within a day


class StartupError(Exception):
    """The daemon cannot start; the message is the one line shown to the user."""


class Daemon:
    """Builds every component (`open_core`, then the web app in `start`), and stops them in
    the reverse order. `photomapd index` opens the same core without a server."""

    def __init__(
        self,
        config: Config,
        embedder: ModelHandle | None = None,
        read_metadata: MetadataReader | None = None,
        force_polling: bool = False,
        start_paused: bool = False,
    ) -> None:
        self.config = config
        self.started_at = time.time()
        self.events = EventBus()
        self.store = Store(config.database_path)
        self.embedder: ModelHandle = embedder or self.make_embedder(
            config.model.name, config.model.pretrained
        )
        self.vectors = VectorSpace(config.data_dir, self.embedder.model_id)
        self.model_runner = ModelRunner(self.embedder, self.events, config.model.batch_size)
        # Which symlinks each album may index and serve, and the link problems found.
        self.links = LinkGuard(lambda: self.config.albums)
        self.pipeline = Pipeline(
            self.store,
            self.model_runner,
            self.vectors,
            self.events,
            config.thumbnails_dir,
            read_metadata or default_metadata_reader(),
            links=self.links,
        )
        if start_paused:
            self.pipeline.unpaused.clear()
        self.searcher = Searcher(
            self.store, self.model_runner, self.vectors, config.data_dir, self.make_embedder
        )
        self.map_service = MapService(
            self.store,
            self.events,
            model_id=lambda: self.embedder.model_id,
            album_keys=lambda: [album.key for album in self.config.albums],
            indexing_busy=lambda: self.pipeline.queued > 0,
            vector_space=lambda: self.vectors,
            fit_idle_seconds=lambda: self.config.model.idle_unload_seconds,
        )
        self.invokeai = InvokeAIBridge(config, CredentialStore(config.data_dir))
        self.force_polling = force_polling
        self.watcher: FolderWatcher | None = None
        self.albums: AlbumService | None = None  # needs the running loop: open_core()
        self.components: Components | None = None
        self.board_sync: BoardSync | None = None  # board albums kept in step: start()
        self.runner: web.AppRunner | None = None
        self.url = f"http://{config.host}:{config.port}"
        self.stop_requested = asyncio.Event()
        self.instance_lock = InstanceLock(config.data_dir)
        self._map_started = False

    def make_embedder(self, name: str, pretrained: str) -> ModelHandle:
        """The model in a worker process (default: the daemon never imports torch), or in this
        process (model.worker_process = false: tests, and platforms without spawn)."""
        model = self.config.model
        arguments = (name, pretrained, model.device, model.idle_unload_seconds)
        if model.worker_process:
            from photomapd.model.worker_process import ModelClient

            return ModelClient(*arguments, cache_dir=self.config.cache_dir / "models")
        from photomapd.model.embedder import Embedder

        return Embedder(*arguments, cache_dir=self.config.cache_dir / "models")

    async def open_core(self) -> Components:
        """The opening sequence the daemon and `photomapd index` share: the data folder's lock
        (DataFolderInUse when another photomapd holds it: nothing is written then), the
        database (SQLiteTooOld), vectors in step with it, the watcher, albums and the pipeline.
        """
        self.config.ensure_dirs()
        self.instance_lock.acquire()
        try:
            await self.store.open()
        except BaseException:
            self.instance_lock.release()
            raise
        await self.vectors.sync(self.store)
        model_history.remember(
            self.config.data_dir,
            self.embedder.model_id,
            self.config.model.name,
            self.config.model.pretrained,
        )
        self.watcher = FolderWatcher(
            asyncio.get_running_loop(),
            self.pipeline.submit,
            force_polling=self.force_polling,
            links=self.links,
        )
        self.albums = AlbumService(
            self.config, self.store, self.pipeline, self.watcher, self.events, self.links
        )
        self.pipeline.start()
        self.components = Components(
            config=self.config,
            events=self.events,
            store=self.store,
            model=self.embedder,
            pipeline=self.pipeline,
            albums=self.albums,
            searcher=self.searcher,
            map_service=self.map_service,
            invokeai=self.invokeai,
            status=self,
        )
        return self.components

    async def start(self) -> None:
        from photomapd.api.app import create_app

        try:
            components = await self.open_core()
        except (DataFolderInUse, SQLiteTooOld) as error:
            raise StartupError(str(error)) from error
        await self.map_service.start()
        self._map_started = True
        self.runner = web.AppRunner(create_app(components), access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await self.stop()
            raise StartupError(_listen_error(self.config.host, self.config.port, error)) from error
        self.url = _public_url(self.config.host, _bound_port(self.runner) or self.config.port)
        albums = components.albums
        await albums.start_all()
        self.board_sync = BoardSync(albums)
        self.pipeline.spawn(self.board_sync.run())
        self.pipeline.spawn(reparse_after_upgrade(self.store))
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
        if self._map_started:
            await self.map_service.stop()
            self._map_started = False
        await self.invokeai.close()
        await self.store.close()
        self.instance_lock.release()

    async def _drain(self, timeout: float) -> None:
        # Paused work is not in hand (decode workers hold their files until resumed): waiting
        # for it would only spend the whole timeout. Files not written are found next start.
        deadline = time.monotonic() + timeout
        while (
            (self.pipeline.in_flight or self.pipeline.prepared.qsize())
            and not self.pipeline.paused
            and time.monotonic() < deadline
        ):
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
        assert self.albums is not None, "reindex before start"
        for album in self.albums.all_albums():
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
        assert self.albums is not None, "status before start"
        albums = [await self.albums.describe(album) for album in self.albums.all_albums()]
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
            "watcher": (
                self.watcher.status()
                if self.watcher
                else {"mode": "off", "fallback_reason": None, "albums": {}}
            ),
            "clients": self.events.subscriber_count,
        }


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return None


def _listen_error(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another photomapd or another program); "
            "stop it, or start with --port N"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {host}: it is not an address of this machine; use one of its "
            "addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (LAN mode), with --host or "
            "server.host in config.toml"
        )
    return f"cannot listen on {host}:{port}: {error}"


def _public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
