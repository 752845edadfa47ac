"""Which files make a model: its architecture config (built-in name or a JSON file) and its
weights (a local checkpoint, the download cache, or the model hub), and their stable identity.

Kept apart from embedder.py so the no-network rules live in one place: with HF_HUB_OFFLINE set
we only look in caches and never open a connection. Every failure is a ModelUnavailable whose
message names the fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import open_clip
from open_clip import pretrained as open_clip_pretrained

from photomapd.model.lifecycle import ModelUnavailable
from photomapd.sentences import clause

logger = logging.getLogger(__name__)

_CHECKPOINT_SUFFIXES = {".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt"}
_FIX = "Put a checkpoint file path in model.pretrained, or connect once to download"
_PROBE_TIMEOUT = 5.0  # seconds for the one connect that tells "no network" apart


@dataclass(frozen=True)
class ModelConfig:
    arch: str  # the name open_clip's registry knows it by
    model_cfg: dict[str, Any]
    preprocess_overlay: dict[str, Any]  # from an HF-style config's preprocess_cfg
    identity: str  # name, or the JSON's stem + content hash

    @property
    def embed_dim(self) -> int:
        return int(self.model_cfg["embed_dim"])

    def preprocess_cfg(self, pretrained: str) -> dict[str, Any]:
        """open_clip PreprocessCfg fields: defaults < the tag's mean/std < the config file."""
        from open_clip.transform import PreprocessCfg, merge_preprocess_dict

        tag = open_clip.get_pretrained_cfg(self.arch, pretrained)
        merged = merge_preprocess_dict(PreprocessCfg(), tag)
        merged = merge_preprocess_dict(merged, self.preprocess_overlay)
        merged["size"] = self.model_cfg["vision_cfg"].get("image_size", merged["size"])
        return merged


def resolve_config(name: str, cache_dir: Path | None) -> ModelConfig:
    """The architecture for model.name, registering a config JSON with open_clip if needed."""
    path = Path(name).expanduser()
    if path.suffix.lower() == ".json":
        return _register_config(path, cache_dir)
    if name.startswith(("hf-hub:", "local-dir:")):
        # Those schemas fetch config and weights together (hf-hub over the network);
        # photomapd keeps the two settings separate so each can be a local file.
        raise ModelUnavailable(
            f"model.name {name!r} uses an open_clip schema photomapd does not take. "
            "Download the repository's open_clip_config.json and weights, then set "
            "model.name to the .json path and model.pretrained to the weights file"
        )
    arch = name.replace("/", "-")
    config = open_clip.get_model_config(arch)
    if config is None:
        raise ModelUnavailable(
            f"unknown model {name!r}: not an open_clip model name (for example "
            "ViT-B-32) and not a model-config .json file. Fix model.name"
        )
    return ModelConfig(arch, config, {}, name)


@dataclass
class WeightsSource:
    path: Path
    from_cache: bool  # True when we may delete it and fetch again
    quick_gelu: bool = False

    def discard(self) -> None:
        """Remove a cached file (and, in the HF cache, the blob its snapshot link points to)."""
        target = self.path.resolve()
        self.path.unlink(missing_ok=True)
        if target != self.path:
            target.unlink(missing_ok=True)


def resolve_weights(
    arch: str, pretrained: str, cache_dir: Path | None, *, offline: bool
) -> WeightsSource:
    """Find or fetch the checkpoint for (arch, pretrained); raises ModelUnavailable."""
    if not pretrained:
        raise ModelUnavailable(
            f"model.pretrained is empty for {arch}: set a pretrained tag (for example "
            f"{_example_tag(arch)}) or a checkpoint file path"
        )
    local = Path(pretrained).expanduser()
    if local.is_file():
        return WeightsSource(local, from_cache=False)
    tag = open_clip.get_pretrained_cfg(arch, pretrained)
    if not tag:
        raise ModelUnavailable(_not_found_message(arch, pretrained, local))
    quick_gelu = bool(tag.get("quick_gelu", False))
    cached = _cached_path(tag, cache_dir)
    if cached is not None:
        return WeightsSource(cached, from_cache=True, quick_gelu=quick_gelu)
    if offline:
        raise ModelUnavailable(
            f"could not download weights {pretrained!r} for {arch}: offline (HF_HUB_OFFLINE is "
            f"set) and they are not in the download cache. {_FIX} (unset HF_HUB_OFFLINE)"
        )
    unreachable = _unreachable(_download_host(tag))
    if unreachable:
        raise ModelUnavailable(
            f"could not download weights {pretrained!r} for {arch}: no network ({unreachable}). "
            f"{_FIX}"
        )
    logger.info("downloading weights %s for %s", pretrained, arch)
    try:
        fetched = open_clip_pretrained.download_pretrained(tag, cache_dir=_str(cache_dir))
    except Exception as error:
        raise ModelUnavailable(
            f"could not download weights {pretrained!r} for {arch}: {clause(_reason(error))}. {_FIX}"
        ) from error
    if not fetched:
        raise ModelUnavailable(f"no download source is known for {pretrained!r} ({arch}). {_FIX}")
    return WeightsSource(Path(fetched), from_cache=True, quick_gelu=quick_gelu)


def _register_config(path: Path, cache_dir: Path | None) -> ModelConfig:
    """Read a model-config JSON (plain or HF-style {model_cfg, preprocess_cfg}) and add it to
    open_clip's registry, normally under the file's stem."""
    try:
        text = path.read_bytes()
        raw = json.loads(text)
    except FileNotFoundError as error:
        raise ModelUnavailable(
            f"model config file {path} does not exist. Fix model.name (an open_clip model "
            "name such as ViT-B-32, or the path to a model-config .json)"
        ) from error
    except (OSError, ValueError) as error:
        raise ModelUnavailable(
            f"model config file {path} is not readable JSON ({_reason(error)}). Fix the file"
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
    identity = f"{path.stem}@{hashlib.blake2b(text, digest_size=6).hexdigest()}"
    return ModelConfig(name, model_cfg, overlay, identity)


def _download_host(tag: dict[str, Any]) -> tuple[str, int] | None:
    """Where open_clip will download this tag from (it prefers the hub over a plain URL)."""
    url = tag.get("url", "")
    if tag.get("hf_hub") and open_clip_pretrained.has_hf_hub():
        from huggingface_hub import constants

        url = constants.ENDPOINT
    parsed = urlparse(url)
    if not parsed.hostname:
        return None
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


def _unreachable(host: tuple[str, int] | None) -> str | None:
    """A reason when `host` cannot be reached. One quick connect: huggingface_hub itself
    retries a refused connection with backoff for ~45 s per model before giving up."""
    if host is None:
        return None
    try:
        with socket.create_connection(host, timeout=_PROBE_TIMEOUT):
            return None
    except OSError as error:
        return f"cannot reach {host[0]}:{host[1]}: {error.strerror or error}"


def _cached_path(tag: dict[str, Any], cache_dir: Path | None) -> Path | None:
    if "file" in tag:
        return Path(tag["file"]) if Path(tag["file"]).is_file() else None
    hub = tag.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)
        filename = filename or open_clip_pretrained.HF_WEIGHTS_NAME
        names = [*open_clip_pretrained._get_safe_alternatives(filename), filename]
        for name in names:
            found = _hf_cached(repo_id, name, cache_dir)
            if found is not None:
                return found
    url = tag.get("url", "")
    if url:
        folder = cache_dir or Path("~/.cache/clip").expanduser()
        candidate = Path(folder) / os.path.basename(url)
        if candidate.is_file():
            return candidate
    return None


def _hf_cached(repo_id: str, filename: str, cache_dir: Path | None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, filename, cache_dir=_str(cache_dir))
    if isinstance(found, str) and Path(found).is_file():
        return Path(found)
    return None


def _not_found_message(arch: str, pretrained: str, local: Path) -> str:
    looks_like_file = local.suffix.lower() in _CHECKPOINT_SUFFIXES or os.sep in pretrained
    if looks_like_file:
        return (
            f"checkpoint file {local} does not exist. Fix model.pretrained (a checkpoint file "
            f"path, or a pretrained tag such as {_example_tag(arch)})"
        )
    tags = open_clip.list_pretrained_tags_by_model(arch)
    known = ", ".join(tags[:6]) + (", ..." if len(tags) > 6 else "") if tags else "none"
    return (
        f"{pretrained!r} is neither a pretrained tag for {arch} (known: {known}) nor an "
        "existing checkpoint file. Fix model.pretrained"
    )


def _example_tag(arch: str) -> str:
    tags = open_clip.list_pretrained_tags_by_model(arch)
    return repr(tags[0]) if tags else "'laion2b_s34b_b79k'"


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split())
    if any(word in text.lower() for word in ("connection", "resolve", "network", "timed out")):
        return f"no network ({text[:200]})"
    return text[:300] or type(error).__name__


def _str(path: Path | None) -> str | None:
    return str(path) if path else None
