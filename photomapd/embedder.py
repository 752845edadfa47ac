"""The open_clip model: lazy load, device choice, fp16 on CUDA, idle unload, image/text embeddings.

Every method blocks; the caller picks the thread. One lock guards the model, so load, embed and
unload never overlap. `preprocess` needs only the image transform, which is built from the model
config without loading weights, so an I/O pool can prepare the next batch while one is embedded.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict
from PIL import Image

from photomapd.weights import ModelUnavailable, WeightsSource, resolve_weights

__all__ = ["Embedder", "ModelState", "ModelUnavailable", "hub_offline", "resolve_device"]

logger = logging.getLogger(__name__)

_TRUTHY = {"1", "true", "yes", "on"}
_ID_SAMPLE = 1 << 20  # bytes read from each end of a checkpoint to fingerprint it


class ModelState(StrEnum):
    UNLOADED = "unloaded"
    LOADING = "loading"
    READY = "ready"
    UNAVAILABLE = "unavailable"


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


class Embedder:
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
        self.name = name
        self.pretrained = pretrained
        self.idle_unload_seconds = idle_unload_seconds
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.torch_threads = torch_threads
        self._requested_device = device
        self._device = resolve_device(device)
        self._lock = threading.RLock()
        self._transform_lock = threading.Lock()
        self._state = ModelState.UNLOADED
        self._error: str | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._transform: Any = None
        self._dtype = torch.float32
        self._arch: str | None = None
        self._model_cfg: dict[str, Any] | None = None
        self._preprocess_overlay: dict[str, Any] = {}
        self._id_cache: tuple[tuple[int, float] | None, str] | None = None
        self.last_used = time.monotonic()

    # ----- read-only views --------------------------------------------------------------------
    @property
    def state(self) -> ModelState:
        return self._state

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def device(self) -> str:
        return self._device

    @property
    def precision(self) -> str:
        return "fp16" if self._device.startswith("cuda") else "fp32"

    @property
    def dim(self) -> int | None:
        """Embedding width, known from the config before the weights load when possible."""
        config = self._config_or_none()
        return int(config["embed_dim"]) if config else None

    @property
    def model_id(self) -> str:
        """Stable identity of (architecture, weights): stored with each embedding so a change
        of model is noticed. A checkpoint file is fingerprinted by size + its first and last
        MiB, so a copy or a touch keeps the id while a different file changes it."""
        path = Path(self.pretrained).expanduser()
        try:
            stat = path.stat() if path.is_file() else None
        except OSError:
            stat = None
        key = (stat.st_size, stat.st_mtime) if stat else None
        cached = self._id_cache
        if cached and cached[0] == key:
            return cached[1]
        weights = _file_fingerprint(path, stat.st_size) if stat else self.pretrained
        value = f"{self._architecture_id()}/{weights}"
        self._id_cache = (key, value)
        return value

    # ----- lifecycle --------------------------------------------------------------------------
    def load(self) -> None:
        """Load if not loaded. Raises ModelUnavailable (state UNAVAILABLE, `error` set)."""
        with self._lock:
            if self._state is ModelState.READY:
                return
            self._state = ModelState.LOADING
            started = time.monotonic()
            try:
                self._load()
            except ModelUnavailable as error:
                self._state = ModelState.UNAVAILABLE
                self._error = str(error)
                logger.warning("model unavailable: %s", error)
                raise
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
                torch.cuda.empty_cache()
            elif self._device == "mps":
                torch.mps.empty_cache()
            logger.info("model %s unloaded", self.model_id)

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

    # ----- embedding --------------------------------------------------------------------------
    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """Image -> (3, H, W) float tensor. Needs no weights; safe from many threads."""
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
        arch = self._architecture()
        source = resolve_weights(arch, self.pretrained, self.cache_dir, offline=hub_offline())
        try:
            model = self._create(arch, source)
        except ModelUnavailable:
            if not source.from_cache:
                raise
            # A download cut short leaves a file torch cannot read: clear it and fetch again once.
            logger.warning("cached weights %s unreadable; removing and retrying once", source.path)
            source.discard()
            source = resolve_weights(arch, self.pretrained, self.cache_dir, offline=hub_offline())
            model = self._create(arch, source)
        try:
            self._tokenizer = open_clip.get_tokenizer(arch, cache_dir=_str(self.cache_dir))
        except Exception as error:
            raise ModelUnavailable(
                f"could not load the text tokenizer for {self.name}: {error}. Connect once to "
                "download it, or choose a model that uses the built-in CLIP tokenizer"
            ) from error
        self._model = model
        self._dtype = next(model.visual.parameters()).dtype
        with self._transform_lock:
            # The loaded model's own preprocess config is authoritative.
            self._transform = image_transform_v2(
                PreprocessCfg(**model.visual.preprocess_cfg), is_train=False
            )

    def _create(self, arch: str, source: WeightsSource) -> Any:
        try:
            model = open_clip.create_model(
                arch,
                pretrained=str(source.path),
                precision=self.precision,
                device=self._device,
                force_quick_gelu=source.quick_gelu,
                force_preprocess_cfg=self._preprocess_cfg(source.preprocess),
                cache_dir=_str(self.cache_dir),
            )
        except (RuntimeError, OSError, EOFError, ValueError, KeyError) as error:
            if _is_device_error(error):
                raise ModelUnavailable(
                    f"could not put model {self.name} on device {self._device}: {error}. "
                    "Set model.device to cpu, or free GPU memory"
                ) from error
            raise ModelUnavailable(
                f"could not load weights from {source.path} for model {self.name}: "
                f"{_short(error)}. The file is corrupt or made for another model: replace it, "
                "or set model.pretrained to the right checkpoint or tag"
            ) from error
        model.eval()
        return model

    def _architecture(self) -> str:
        """The open_clip registry name, registering a config JSON file first."""
        if self._arch is None:
            self._config_or_raise()
        assert self._arch is not None
        return self._arch

    def _architecture_id(self) -> str:
        path = Path(self.name).expanduser()
        if path.suffix.lower() == ".json" and path.is_file():
            digest = hashlib.blake2b(path.read_bytes(), digest_size=6).hexdigest()
            return f"{path.stem}@{digest}"
        return self.name

    def _config_or_none(self) -> dict[str, Any] | None:
        try:
            return self._config_or_raise()
        except ModelUnavailable:
            return None

    def _config_or_raise(self) -> dict[str, Any]:
        if self._model_cfg is not None:
            return self._model_cfg
        path = Path(self.name).expanduser()
        if path.suffix.lower() == ".json":
            self._model_cfg, self._preprocess_overlay, self._arch = _register_config(
                path, self.cache_dir
            )
            return self._model_cfg
        config = open_clip.get_model_config(self.name.replace("/", "-"))
        if config is None:
            raise ModelUnavailable(
                f"unknown model {self.name!r}: not an open_clip model name (for example "
                "ViT-B-32) and not a model-config .json file. Fix model.name"
            )
        self._model_cfg, self._arch = config, self.name.replace("/", "-")
        return config

    def _preprocess_cfg(self, from_tag: dict[str, Any]) -> dict[str, Any]:
        config = self._config_or_raise()
        merged = merge_preprocess_dict(PreprocessCfg(), from_tag)
        merged = merge_preprocess_dict(merged, self._preprocess_overlay)
        merged["size"] = config["vision_cfg"].get("image_size", merged["size"])
        return merged

    def _image_transform(self) -> Any:
        with self._transform_lock:
            if self._transform is None:
                arch = self._architecture()
                tag = open_clip.get_pretrained_cfg(arch, self.pretrained)
                cfg = self._preprocess_cfg(tag)
                self._transform = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
            return self._transform


def _register_config(
    path: Path, cache_dir: Path | None
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Read a model-config JSON (plain or HF-style {model_cfg, preprocess_cfg}) and add it to
    open_clip's registry under the file's stem. Returns (model_cfg, preprocess overlay, name)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ModelUnavailable(
            f"model config file {path} does not exist. Fix model.name (an open_clip model "
            "name such as ViT-B-32, or the path to a model-config .json)"
        ) from error
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"model config file {path} is not readable JSON ({_short(error)}). Fix the file"
        ) from error
    model_cfg = raw.get("model_cfg", raw) if isinstance(raw, dict) else None
    if not isinstance(model_cfg, dict) or not all(
        key in model_cfg for key in ("embed_dim", "vision_cfg", "text_cfg")
    ):
        raise ModelUnavailable(
            f"model config file {path} is not an open_clip config: it needs embed_dim, "
            "vision_cfg and text_cfg. Fix the file"
        )
    name = path.stem
    known = open_clip.get_model_config(name)
    if known is None and model_cfg is raw:
        open_clip.add_model_config(path)
    elif known != model_cfg:
        # The registry is keyed by file stem and only reads the plain form: register a plain
        # copy under a content-derived name so it never shadows a built-in or another file.
        digest = hashlib.blake2b(json.dumps(model_cfg, sort_keys=True).encode(), digest_size=4)
        name = f"{path.stem}-{digest.hexdigest()}"
        if open_clip.get_model_config(name) is None:
            folder = (cache_dir or Path(tempfile.gettempdir())) / "photomapd-model-configs"
            folder.mkdir(parents=True, exist_ok=True)
            copy = folder / f"{name}.json"
            copy.write_text(json.dumps(model_cfg), encoding="utf-8")
            open_clip.add_model_config(copy)
    overlay = raw.get("preprocess_cfg", {}) if model_cfg is not raw else {}
    return model_cfg, overlay, name


def _file_fingerprint(path: Path, size: int) -> str:
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


def _is_device_error(error: Exception) -> bool:
    text = str(error).lower()
    return "out of memory" in text or "cuda" in text or "mps" in text


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _str(path: Path | None) -> str | None:
    return str(path) if path else None
