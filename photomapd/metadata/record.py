"""The normalized generation record (`summary`) and the result of reading one file."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Bump whenever parsing output changes: the store re-parses rows with an older version.
# 2: `scheduler` holds InvokeAI's scheduler name for every generator; `stored_scheduler` added.
PARSER_VERSION = 2


class Generator(StrEnum):
    INVOKEAI = "invokeai"
    A1111 = "a1111"
    FORGE = "forge"
    SDNEXT = "sdnext"
    COMFYUI = "comfyui"
    NOVELAI = "novelai"
    FOOOCUS = "fooocus"
    RUINED_FOOOCUS = "ruined_fooocus"
    SWARMUI = "swarmui"
    EASYDIFFUSION = "easydiffusion"
    DRAWTHINGS = "drawthings"
    MIDJOURNEY = "midjourney"
    CIVITAI = "civitai"
    STABILITY_MATRIX = "stability_matrix"


GENERATOR_NAMES: dict[str, str] = {
    Generator.INVOKEAI: "InvokeAI",
    Generator.A1111: "AUTOMATIC1111",
    Generator.FORGE: "Forge",
    Generator.SDNEXT: "SD.Next",
    Generator.COMFYUI: "ComfyUI",
    Generator.NOVELAI: "NovelAI",
    Generator.FOOOCUS: "Fooocus",
    Generator.RUINED_FOOOCUS: "RuinedFooocus",
    Generator.SWARMUI: "SwarmUI",
    Generator.EASYDIFFUSION: "Easy Diffusion",
    Generator.DRAWTHINGS: "Draw Things",
    Generator.MIDJOURNEY: "Midjourney",
    Generator.CIVITAI: "Civitai",
    Generator.STABILITY_MATRIX: "Stability Matrix",
}


def empty_summary() -> dict[str, Any]:
    """Every key the record can have, so consumers never need `.get` chains.

    `loras` stays None when the format has no LoRA field at all and is [] when it stores an
    empty list (the corpus README keeps that distinction). `extra` holds generator-specific
    values worth showing (job id, Civitai resources, sampler count, ...).
    """
    return {
        "generator": None,
        "generator_version": None,
        "positive_prompt": None,
        "negative_prompt": None,
        "model": None,  # {"name", "base", "hash", "key"}
        "seed": None,
        "steps": None,
        "cfg_scale": None,
        "cfg_rescale_multiplier": None,
        "guidance": None,
        "scheduler": None,  # InvokeAI's name (schedulers.py maps other generators' names)
        "stored_scheduler": None,  # the scheduler / schedule type exactly as the file says
        "sampler": None,
        "width": None,
        "height": None,
        "clip_skip": None,
        "seamless_x": None,
        "seamless_y": None,
        "vae": None,
        "loras": None,  # [{"name", "weight"}]
        "reference_images": [],  # [{"image_name", "model", "weight", ...}]
        "control_layers": [],  # [{"model", "image_name", "weight", ...}]
        "init_image": None,
        "strength": None,
        "generation_mode": None,
        "refiner": None,  # {"model", "cfg_scale", "steps", "scheduler", "start", ...}
        "has_workflow": False,
        "extra": {},
    }


def model_ref(
    name: str | None, base: str | None = None, hash_: str | None = None, key: str | None = None
) -> dict[str, Any] | None:
    if not name and not hash_ and not key:
        return None
    return {"name": name, "base": base, "hash": hash_, "key": key}


@dataclass
class ImageMetadata:
    """What one file says about how it was made.

    `summary` is the normalized record; `raw` maps every metadata chunk/tag to its value
    (JSON-decoded where it parses) for the "full metadata" view; `warnings` says what was odd
    or unreadable. Reading never raises: problems end up in `warnings`.
    """

    summary: dict[str, Any] = field(default_factory=empty_summary)
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    image_format: str | None = None
    pixel_width: int | None = None
    pixel_height: int | None = None
    parser_version: int = PARSER_VERSION

    @property
    def generator(self) -> str | None:
        return self.summary.get("generator")

    def summary_json(self) -> str:
        return _dumps(self.summary)

    def raw_json(self) -> str:
        return _dumps(self.raw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "raw": self.raw,
            "warnings": self.warnings,
            "image_format": self.image_format,
            "pixel_width": self.pixel_width,
            "pixel_height": self.pixel_height,
            "parser_version": self.parser_version,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        # A hostile chunk (NaN, absurd nesting) must not block storing the rest.
        return json.dumps(_stringify(value), ensure_ascii=False)


def _stringify(value: Any, depth: int = 0) -> Any:
    if depth > 50:
        return "<too deeply nested>"
    if isinstance(value, dict):
        return {str(key): _stringify(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
