"""A tiny random-weight CLIP written to disk, so tests run real open_clip code without a hub.

The text tower keeps CLIP's 49,408-token vocabulary so the stock tokenizer works; everything
else is as small as open_clip allows (about 1.7 M parameters, a 7 MB checkpoint, ~0.1 s load).
"""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import torch

TINY_CLIP_NAME = "photomapd-tiny-clip"
TINY_CLIP_DIM = 32
TINY_CLIP_CONFIG = {
    "embed_dim": TINY_CLIP_DIM,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def write_tiny_clip(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write (model-config JSON, checkpoint) into `directory`; same seed, same weights."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / f"{TINY_CLIP_NAME}.json"
    config_path.write_text(json.dumps(TINY_CLIP_CONFIG, indent=2), encoding="utf-8")
    if open_clip.get_model_config(TINY_CLIP_NAME) is None:
        open_clip.add_model_config(config_path)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = open_clip.create_model(TINY_CLIP_NAME, pretrained=None)
    finally:
        torch.random.set_rng_state(generator_state)
    checkpoint_path = directory / f"{TINY_CLIP_NAME}.pt"
    torch.save(model.state_dict(), checkpoint_path)
    return config_path, checkpoint_path
