"""A small stand-in for photomapd.metadata.recall.recall_payload, for raw InvokeAI metadata.

The real builder (teammate's module) takes a normalized summary; the action layer receives the
builder through its constructor, so these tests do not depend on it. Mapping per
invokeai-api.md section 5.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

SCALARS = (
    "positive_prompt",
    "negative_prompt",
    "steps",
    "cfg_scale",
    "cfg_rescale_multiplier",
    "width",
    "height",
    "scheduler",
    "seamless_x",
    "seamless_y",
    "clip_skip",
    "guidance",
)


def read_metadata(path: Path) -> dict[str, Any] | None:
    with Image.open(path) as img:
        text = img.info.get("invokeai_metadata")
    return json.loads(text) if isinstance(text, str) else None


def simple_recall_payload(meta: dict[str, Any], with_seed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {key: meta[key] for key in SCALARS if meta.get(key) is not None}
    model = meta.get("model")
    if isinstance(model, dict):
        body["model"] = model.get("name") or model.get("model_name")
    if with_seed and isinstance(meta.get("seed"), int):
        body["seed"] = meta["seed"]
    loras = []
    for lora in meta.get("loras") or []:
        ident = lora.get("model") or lora.get("lora") or {}
        loras.append(
            {
                "model_name": ident.get("name") or ident.get("model_name"),
                "weight": lora.get("weight"),
            }
        )
    if loras:
        body["loras"] = loras
    refs, adapters = [], []
    for ref in meta.get("ref_images") or []:
        config = ref.get("config") or {}
        image = (config.get("image") or {}).get("original", {}).get("image", {})
        if config.get("model"):
            adapters.append(
                {"model_name": config["model"]["name"], "image_name": image.get("image_name")}
            )
        else:
            refs.append({"image_name": image.get("image_name")})
    if adapters:
        body["ip_adapters"] = adapters
    if refs:
        body["reference_images"] = refs
    return body
