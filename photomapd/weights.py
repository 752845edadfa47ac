"""Where a model's weights come from: a local checkpoint, the download cache, or the model hub.

Split from embedder.py so the no-network rules live in one place: with HF_HUB_OFFLINE set we
only look in caches and never open a connection; every failure is a ModelUnavailable whose
message names the fix.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import open_clip
from open_clip import pretrained as open_clip_pretrained

logger = logging.getLogger(__name__)

_CHECKPOINT_SUFFIXES = {".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt"}
_FIX = "Put a checkpoint file path in model.pretrained, or connect once to download"


class ModelUnavailable(Exception):
    """The model cannot be loaded; the message says what happened and what to do.
    (Re-exported by photomapd.embedder, where callers import it from.)"""


@dataclass
class WeightsSource:
    path: Path
    from_cache: bool  # True when we may delete it and fetch again
    preprocess: dict[str, Any] = field(default_factory=dict)  # the tag's mean/std/resize
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
        return WeightsSource(cached, True, tag, quick_gelu)
    if offline:
        raise ModelUnavailable(
            f"could not download weights {pretrained!r} for {arch}: offline (HF_HUB_OFFLINE is "
            f"set) and they are not in the download cache. {_FIX} (unset HF_HUB_OFFLINE)"
        )
    logger.info("downloading weights %s for %s", pretrained, arch)
    try:
        fetched = open_clip_pretrained.download_pretrained(tag, cache_dir=_str(cache_dir))
    except Exception as error:
        raise ModelUnavailable(
            f"could not download weights {pretrained!r} for {arch}: {_reason(error)}. {_FIX}"
        ) from error
    if not fetched:
        raise ModelUnavailable(f"no download source is known for {pretrained!r} ({arch}). {_FIX}")
    return WeightsSource(Path(fetched), True, tag, quick_gelu)


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
