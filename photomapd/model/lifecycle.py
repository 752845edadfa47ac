"""Model state, the unavailable error, the lifecycle both model classes share and the model's
identity: light enough to import in the daemon process, which never imports torch (the model
runs in a worker process)."""

from __future__ import annotations

import hashlib
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

_ID_SAMPLE = 1 << 20  # bytes read from each end of a checkpoint to fingerprint it


class ModelState(StrEnum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    UNAVAILABLE = "unavailable"


class ModelUnavailable(Exception):
    """The model cannot be loaded; the message says what happened and what to do."""


class ModelHandle(Protocol):
    """The model as the daemon holds it: Embedder (in this process) or ModelClient (in a worker
    process). Everything outside model/ talks to the model through this."""

    name: str
    pretrained: str
    idle_unload_seconds: float

    @property
    def state(self) -> ModelState: ...

    @property
    def error(self) -> str | None: ...

    @property
    def device(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int | None: ...

    def load(self) -> None: ...

    def unload(self) -> None: ...

    def unload_if_idle(self, now: float | None = None) -> bool: ...

    def preprocess(self, image: Image.Image) -> Any: ...

    def embed_preprocessed(self, batch: Any) -> np.ndarray: ...

    def embed_images(self, images: list[Image.Image]) -> np.ndarray: ...

    def embed_text(self, texts: list[str]) -> np.ndarray: ...


class ModelLifecycle:
    """State, error, device and idle unload, shared by Embedder (the model in this process) and
    ModelClient (the model in a worker process). Subclasses load and unload the model; one
    lock guards it, so load, embed and unload never overlap."""

    def __init__(self, name: str, pretrained: str, device: str, idle_unload_seconds: float) -> None:
        self.name = name
        self.pretrained = pretrained
        self.idle_unload_seconds = idle_unload_seconds
        self._requested_device = device
        self._device = device
        self._state = ModelState.UNLOADED
        self._error: str | None = None
        self._lock = threading.RLock()
        self.last_used = time.monotonic()

    @property
    def state(self) -> ModelState:
        return self._state

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def requested_device(self) -> str:
        """As configured ("auto", "cpu", "cuda:1", ...); `device` is what it resolved to."""
        return self._requested_device

    @property
    def device(self) -> str:
        return self._device

    def unload(self) -> None:
        raise NotImplementedError

    def unload_if_idle(self, now: float | None = None) -> bool:
        """Unload when unused for idle_unload_seconds (monotonic clock). Never waits: a model
        busy in another thread is not idle."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if self._state is not ModelState.READY:
                return False
            current = time.monotonic() if now is None else now
            if current - self.last_used < self.idle_unload_seconds:
                return False
            self.unload()
            return True
        finally:
            self._lock.release()


def architecture_identity(name: str) -> str:
    """A built-in name as is; a model-config JSON by its stem + content hash."""
    path = Path(name).expanduser()
    if path.suffix.lower() != ".json":
        return name
    try:
        text = path.read_bytes()
    except OSError:
        return name
    return f"{path.stem}@{hashlib.blake2b(text, digest_size=6).hexdigest()}"


def weights_identity(pretrained: str) -> str:
    """A tag as is; a checkpoint file by name + size + its first and last MiB, so a copy or a
    touch keeps the identity while a different file changes it."""
    path = Path(pretrained).expanduser()
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    if size is None:
        return pretrained
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    try:
        with open(path, "rb") as handle:
            digest.update(handle.read(_ID_SAMPLE))
            if size > 2 * _ID_SAMPLE:
                handle.seek(size - _ID_SAMPLE)
                digest.update(handle.read(_ID_SAMPLE))
    except OSError:
        return path.name
    return f"{path.name}:{digest.hexdigest()}"


def model_identity(name: str, pretrained: str) -> str:
    """Stored with every embedding, so a change of architecture or weights is noticed."""
    return f"{architecture_identity(name)}/{weights_identity(pretrained)}"
