"""The open_clip model: lazy load, device choice, fp16 on CUDA, idle unload, image/text embeddings.

Every method blocks; the caller picks the thread. One lock guards the model, so load, embed and
unload never overlap. `preprocess` needs only the image transform, which is built from the model
config without loading weights, so an I/O pool can prepare the next batch while one is embedded.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2

from photomapd.model.files import resolve_config, resolve_weights
from photomapd.model.lifecycle import (
    ModelLifecycle,
    ModelState,
    ModelUnavailable,
    weights_identity,
)
from photomapd.model.preprocessing import numpy_transform
from photomapd.sentences import clause

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL import Image

    from photomapd.model.files import ModelConfig, WeightsSource

__all__ = ["Embedder", "hub_offline", "resolve_device"]

logger = logging.getLogger(__name__)

_TRUTHY = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """True when the user asked for no model-hub traffic (HF_HUB_OFFLINE, as huggingface_hub)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY


def resolve_device(requested: str) -> str:
    """'auto' picks cuda > mps > cpu; anything else is passed to torch as given."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


class Embedder(ModelLifecycle):
    """One open_clip model. `name`: model name or path to a model-config JSON; `pretrained`:
    a pretrained tag or a checkpoint file."""

    def __init__(
        self,
        name: str,
        pretrained: str,
        device: str = "auto",
        idle_unload_seconds: float = 120,
        cache_dir: Path | None = None,
        torch_threads: int | None = None,
    ) -> None:
        super().__init__(name, pretrained, device, idle_unload_seconds)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.torch_threads = torch_threads
        self._device = resolve_device(device)
        self._transform_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._transform: Any = None
        self._dtype = torch.float32
        self._config: ModelConfig | None = None
        self._weights_id: tuple[tuple[int, float] | None, str] | None = None

    # ----- read-only views (state, error, device: ModelLifecycle) -----------------------------
    @property
    def precision(self) -> str:
        return "fp16" if self._device.startswith("cuda") else "fp32"

    @property
    def dim(self) -> int | None:
        """Embedding width, known from the config before the weights load when possible."""
        config = self._config_or_none()
        return config.embed_dim if config else None

    @property
    def input_size(self) -> int | None:
        """Shorter side of the model's input (224 for ViT-B-32): pass it as open_image's
        target_size and embedding_source's min_side."""
        config = self._config_or_none()
        if config is None:
            return None
        size = config.preprocess_cfg(self.pretrained)["size"]
        return int(min(size)) if isinstance(size, list | tuple) else int(size)

    @property
    def model_id(self) -> str:
        """Stable identity of (architecture, weights), stored with each embedding so a change
        of model is noticed: e.g. "ViT-B-32/laion2b_s34b_b79k" or
        "tiny@3f2a.../tiny.pt:9c1e..." for a config JSON + checkpoint file."""
        config = self._config_or_none()
        return f"{config.identity if config else self.name}/{self._weights_identity()}"

    # ----- lifecycle --------------------------------------------------------------------------
    def load(self) -> None:
        """Load if not loaded. Raises ModelUnavailable (state UNAVAILABLE, `error` set).
        While UNAVAILABLE every call tries again (cheap for a missing file or offline hub; a
        download attempt can take seconds), so the caller decides when to retry."""
        with self._lock:
            if self._state is ModelState.READY:
                return
            self._state = ModelState.LOADING
            started = time.monotonic()
            try:
                self._load()
            except ModelUnavailable as error:
                self._fail(str(error))
                raise
            except Exception as error:  # never leave the state stuck at LOADING
                self._fail(
                    f"could not load model {self.name}: {type(error).__name__}: {clause(error)}"
                )
                raise ModelUnavailable(self._error) from error
            self._state = ModelState.READY
            self._error = None
            self.last_used = time.monotonic()
            logger.info(
                "model %s loaded on %s (%s) in %.1f s",
                self.model_id,
                self._device,
                self.precision,
                time.monotonic() - started,
            )

    def _fail(self, message: str) -> None:
        self._model = None
        self._state = ModelState.UNAVAILABLE
        self._error = message
        logger.warning("model unavailable: %s", message)

    def unload(self) -> None:
        """Drop the model and give GPU memory back (InvokeAI wants its VRAM)."""
        with self._lock:
            if self._model is None:
                if self._state is ModelState.READY:
                    self._state = ModelState.UNLOADED
                return
            self._model = None
            if self._state is ModelState.READY:
                self._state = ModelState.UNLOADED
            gc.collect()
            if self._device.startswith("cuda"):
                _release_cuda_memory()
            elif self._device == "mps":
                torch.mps.empty_cache()
            logger.info("model %s unloaded", self.model_id)

    # ----- embedding --------------------------------------------------------------------------
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """Image -> (3, H, W) float tensor. Built from the model config, so it needs no
        weights and never waits for a load or an embedding; safe from many threads. Raises
        ModelUnavailable only when the config itself is unknown."""
        return self._image_transform()(image)

    def embed_preprocessed(self, batch: torch.Tensor) -> np.ndarray:
        """(n, 3, H, W) from `preprocess` -> (n, dim) float32 unit vectors."""
        if batch.ndim == 3:
            batch = batch.unsqueeze(0)
        with self._lock:
            self.load()
            model = self._model
            with torch.inference_mode():
                features = model.encode_image(batch.to(self._device, dtype=self._dtype))
            return self._finish(features)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        return self.embed_preprocessed(torch.stack([self.preprocess(i) for i in images]))

    def embed_text(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.load()
            if not texts:
                return np.zeros((0, self.dim or 0), dtype=np.float32)
            tokens = self._tokenizer(list(texts)).to(self._device)
            with torch.inference_mode():
                features = self._model.encode_text(tokens)
            return self._finish(features)

    # ----- internals --------------------------------------------------------------------------
    def _finish(self, features: torch.Tensor) -> np.ndarray:
        vectors = features.float().cpu().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.last_used = time.monotonic()
        return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)

    def _load(self) -> None:
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        config = self._config_or_raise()
        arch = config.arch
        source = resolve_weights(arch, self.pretrained, self.cache_dir, offline=hub_offline())
        try:
            model = self._create(config, source)
        except ModelUnavailable:
            if not source.from_cache:
                raise
            # A download cut short leaves a file torch cannot read: clear it and fetch again once.
            logger.warning("cached weights %s unreadable; removing and retrying once", source.path)
            source.discard()
            source = resolve_weights(arch, self.pretrained, self.cache_dir, offline=hub_offline())
            model = self._create(config, source)
        try:
            self._tokenizer = open_clip.get_tokenizer(arch, cache_dir=_str(self.cache_dir))
        except Exception as error:
            raise ModelUnavailable(
                f"could not load the text tokenizer for {self.name}: {clause(error)}. Connect once to "
                "download it, or choose a model that uses the built-in CLIP tokenizer"
            ) from error
        self._model = model
        # open_clip's fp16 keeps some parameters (class embedding, norms) in fp32; inputs must
        # match the half-precision conv/linear weights.
        self._dtype = torch.float16 if self.precision == "fp16" else torch.float32
        with self._transform_lock:
            # The loaded model's own preprocess config is authoritative.
            self._transform = _image_transform(PreprocessCfg(**model.visual.preprocess_cfg))

    def _create(self, config: ModelConfig, source: WeightsSource) -> Any:
        try:
            model = open_clip.create_model(
                config.arch,
                pretrained=str(source.path),
                precision=self.precision,
                device=self._device,
                force_quick_gelu=source.quick_gelu,
                force_preprocess_cfg=config.preprocess_cfg(self.pretrained),
                cache_dir=_str(self.cache_dir),
            )
        except Exception as error:  # torch, pickle and safetensors each raise their own types
            if _is_device_error(error):
                raise ModelUnavailable(
                    f"could not put model {self.name} on device {self._device}: {clause(error)}. "
                    "Set model.device to cpu, or free GPU memory"
                ) from error
            raise ModelUnavailable(
                f"could not build model {self.name} with weights {source.path}: "
                f"{clause(_short(error))}. The weights file is corrupt or made for another model (or "
                "the model config is wrong): replace it, or set model.pretrained to the right "
                "checkpoint or tag"
            ) from error
        model.eval()
        return model

    def _weights_identity(self) -> str:
        # Fingerprinting reads 2 MiB: redo it only when the file's size or mtime changes.
        path = Path(self.pretrained).expanduser()
        try:
            stat = path.stat()
            key: tuple[int, float] | None = (stat.st_size, stat.st_mtime)
        except OSError:
            key = None
        cached = self._weights_id
        if cached is None or cached[0] != key:
            cached = self._weights_id = (key, weights_identity(self.pretrained))
        return cached[1]

    def _config_or_none(self) -> ModelConfig | None:
        try:
            return self._config_or_raise()
        except ModelUnavailable:
            return None

    def _config_or_raise(self) -> ModelConfig:
        if self._config is None:
            self._config = resolve_config(self.name, self.cache_dir)
        return self._config

    def _image_transform(self) -> Any:
        with self._transform_lock:
            if self._transform is None:
                cfg = self._config_or_raise().preprocess_cfg(self.pretrained)
                self._transform = _image_transform(PreprocessCfg(**cfg))
            return self._transform


def _image_transform(cfg: PreprocessCfg) -> Callable[[Image.Image], torch.Tensor]:
    """open_clip's evaluation transform, done in numpy where it can be (clip_preprocess)."""
    exact = image_transform_v2(cfg, is_train=False)
    fast = numpy_transform(cfg)
    if fast is None:
        return exact

    def transform(image: Image.Image) -> torch.Tensor:
        array = fast(image)
        return exact(image) if array is None else torch.from_numpy(array)

    return transform


def _release_cuda_memory() -> None:
    # cuBLAS keeps a 32 MiB workspace per stream in PyTorch's allocator (measured on an H100:
    # 33 MiB still allocated after the model was gone); torch only exposes clearing it
    # privately. The CUDA context itself (a few hundred MB) stays until the process exits.
    clear_workspaces = getattr(torch._C, "_cuda_clearCublasWorkspaces", None)
    if clear_workspaces is not None:
        clear_workspaces()
    torch.cuda.empty_cache()


def _is_device_error(error: Exception) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    text = str(error).lower()
    return any(
        marker in text
        for marker in ("out of memory", "cuda error", "no cuda gpus", "mps backend", "not compiled")
    )


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _str(path: Path | None) -> str | None:
    return str(path) if path else None
