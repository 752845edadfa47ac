"""The model in a worker process, so the daemon never imports torch.

Why a process: importing a CUDA build of torch alone costs ~650 MB of RSS and ~3 s, and
`torch.cuda.empty_cache()` does not return the CUDA context (~0.5 GB of VRAM) to InvokeAI.
Ending the worker after `idle_unload_seconds` gives every byte back; the next image or search
starts it again. The client has the same blocking interface as Embedder; a dead worker (OOM
killer, driver reset) is noticed and restarted on the next call. The worker never outlives the
daemon, even after a `kill -9` of it (worker_lifetime.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from typing import TYPE_CHECKING, Any

from PIL import Image

from photomapd.model.lifecycle import ModelLifecycle, ModelState, ModelUnavailable, model_identity
from photomapd.sentences import clause
from photomapd.worker_lifetime import end_with_parent

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from pathlib import Path

    import numpy as np

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 600.0  # a first load may download weights


def _worker_main(connection: Connection, settings: dict[str, Any]) -> None:
    """Runs in the worker process: owns one Embedder, answers requests until told to stop (or
    until the daemon is gone, however it ended)."""
    end_with_parent(settings["parent_pid"], "photomapd-model")
    from photomapd.model.embedder import Embedder

    embedder = Embedder(
        settings["name"],
        settings["pretrained"],
        settings["device"],
        idle_unload_seconds=float("inf"),
        cache_dir=settings["cache_dir"],
    )
    while True:
        try:
            command, arguments = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if command == "stop":
            connection.send(("ok", None))
            return
        try:
            connection.send(("ok", _serve(embedder, command, arguments)))
        except ModelUnavailable as error:
            connection.send(("unavailable", str(error)))
        except Exception as error:  # reported to the caller, the worker keeps serving
            connection.send(("error", f"{type(error).__name__}: {error}"))


def _serve(embedder: Any, command: str, arguments: Any) -> Any:
    if command == "load":
        embedder.load()
        return {"device": embedder.device, "dim": embedder.dim}
    if command == "embed_images":
        images = [Image.frombytes(mode, size, data) for mode, size, data in arguments]
        return embedder.embed_images(images)
    if command == "embed_text":
        return embedder.embed_text(arguments)
    raise ValueError(f"unknown command {command!r}")


class ModelClient(ModelLifecycle):
    """Embedder's interface, served by a worker process started on first use."""

    supports_preprocess = False

    def __init__(
        self,
        name: str,
        pretrained: str,
        device: str = "auto",
        idle_unload_seconds: float = 120,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(name, pretrained, device, idle_unload_seconds)
        self.cache_dir = cache_dir
        self._dim: int | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def model_id(self) -> str:
        return model_identity(self.name, self.pretrained)

    @property
    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def load(self) -> None:
        with self._lock:
            if self._state is ModelState.READY and self.worker_pid:
                return
            self._state = ModelState.LOADING
            self._start_worker()
            try:
                info = self._request("load", None)
            except ModelUnavailable as error:
                self._state = ModelState.UNAVAILABLE
                self._error = str(error)
                self._stop_worker()
                raise
            self._device, self._dim = info["device"], info["dim"]
            self._state, self._error = ModelState.READY, None
            self.last_used = time.monotonic()

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        payload = [
            (image.mode, image.size, image.tobytes())
            for image in (img if img.mode == "RGB" else img.convert("RGB") for img in images)
        ]
        return self._call("embed_images", payload)

    def embed_text(self, texts: list[str]) -> np.ndarray:
        return self._call("embed_text", list(texts))

    def preprocess(self, image: Image.Image) -> None:
        return None  # the worker preprocesses; nothing to prepare in this process

    def embed_preprocessed(self, batch: Any) -> np.ndarray:
        """Never reached: preprocess() prepares nothing here, so batches come as images."""
        raise TypeError("a worker-process model embeds images, not tensors prepared here")

    def unload(self) -> None:
        with self._lock:
            self._stop_worker()
            if self._state is ModelState.READY:
                self._state = ModelState.UNLOADED

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, command: str, arguments: Any) -> Any:
        with self._lock:
            if self._state is not ModelState.READY or not self.worker_pid:
                self.load()
            self.last_used = time.monotonic()
            try:
                return self._request(command, arguments)
            finally:
                self.last_used = time.monotonic()

    def _start_worker(self) -> None:
        if self.worker_pid:
            return
        context = multiprocessing.get_context("spawn")  # fork would copy the daemon's threads
        parent, child = context.Pipe()
        settings = {
            "name": self.name,
            "pretrained": self.pretrained,
            "device": self._requested_device,
            "cache_dir": self.cache_dir,
            "parent_pid": os.getpid(),
        }
        process = context.Process(
            target=_worker_main, args=(child, settings), name="photomapd-model", daemon=True
        )
        # The daemon gets here on its model thread (ModelRunner's one thread, alive as long as
        # the daemon): Linux's parent-death signal follows the thread that started the worker.
        process.start()
        child.close()
        self._process, self._connection = process, parent
        log.info("model worker started (pid %s)", process.pid)

    def _request(self, command: str, arguments: Any) -> Any:
        assert self._connection is not None
        try:
            self._connection.send((command, arguments))
            if not self._connection.poll(REQUEST_TIMEOUT_SECONDS):
                raise TimeoutError(f"the model worker did not answer {command!r} in time")
            status, result = self._connection.recv()
        except (EOFError, OSError, TimeoutError) as error:
            code = self._process.exitcode if self._process is not None else None
            self._stop_worker()
            self._state = ModelState.UNLOADED
            self._error = f"the model worker stopped (exit code {code}): {clause(error)}; it restarts on next use"
            log.warning("%s", self._error)
            raise RuntimeError(self._error) from error
        if status == "unavailable":
            raise ModelUnavailable(result)
        if status == "error":
            raise RuntimeError(result)
        return result

    def _stop_worker(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            try:
                connection.send(("stop", None))
                connection.poll(5)
            except (OSError, EOFError, BrokenPipeError):
                pass
            connection.close()
        if process is not None:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
            log.info("model worker stopped; its memory (and VRAM) is free again")
