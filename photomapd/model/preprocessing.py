"""CLIP's evaluation image transform done with PIL and numpy instead of torch.

torchvision's transform runs its small tensor ops (to-tensor, normalize) through torch's
intra-op thread pool. On a 2-core machine waking that pool cost 13.7 ms per 256-px image, against
0.8 ms with one thread (bench/RESULTS.md, "Embedding"): a tenth of the CPU an import has, and more
when the machine is busy. This does the same arithmetic — PIL's resize, torchvision's crop
rounding, float32 normalization — in about 1 ms with no threads. It handles the transform every
common open_clip model uses (shortest-side resize to a square, centre crop); any other config, and
any image that is not already RGB, keeps torchvision's transform so results never differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Callable

RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def numpy_transform(cfg: Any) -> Callable[[Image.Image], np.ndarray | None] | None:
    """A function image -> (3, size, size) float32 array for `cfg` (open_clip's PreprocessCfg),
    returning None for an image it does not handle; None when the config itself is not handled."""
    size = cfg.size
    if isinstance(size, (tuple, list)):
        if len(size) != 2 or size[0] != size[1]:
            return None
        size = size[0]
    if (
        cfg.resize_mode != "shortest"
        or cfg.mode != "RGB"
        or cfg.interpolation not in RESAMPLING
        or not isinstance(size, int)
    ):
        return None
    resample = RESAMPLING[cfg.interpolation]
    mean = np.asarray(cfg.mean, dtype=np.float32).reshape(3, 1, 1)
    scale = (1.0 / (255.0 * np.asarray(cfg.std, dtype=np.float32))).reshape(3, 1, 1)

    def transform(image: Image.Image) -> np.ndarray | None:
        if image.mode != "RGB":
            return None
        resized = image.resize(_shortest_side_size(image.size, size), resample)
        width, height = resized.size
        # torchvision's center_crop rounds with Python's round(); the same expression keeps the
        # crop on the same pixel when the margin is odd.
        top = round((height - size) / 2.0)
        left = round((width - size) / 2.0)
        crop = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32)
        # ToTensor divides by 255, Normalize subtracts mean and divides by std: fused here.
        return (crop.transpose(2, 0, 1) - mean * 255.0) * scale

    return transform


def _shortest_side_size(image_size: tuple[int, int], target: int) -> tuple[int, int]:
    """torchvision's Resize(int) rule: the short side becomes `target`, the long side is
    truncated, not rounded."""
    width, height = image_size
    short, long = (width, height) if width <= height else (height, width)
    if short == target:
        return width, height
    new_long = int(target * long / short)
    return (target, new_long) if width <= height else (new_long, target)
