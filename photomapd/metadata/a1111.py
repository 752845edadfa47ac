"""AUTOMATIC1111 infotext and its descendants (Forge, SD.Next, Civitai, ComfyUI savers, Fooocus).

Found in the PNG `parameters` chunk, EXIF UserComment (JPEG/WebP), a JPEG comment, or the
alpha-channel stealth data (put into `parameters` by the reader).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from photomapd.metadata.infotext import prompt_loras, split_infotext
from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import (
    as_float,
    as_int,
    as_number,
    loads_json,
    looks_like_json,
    parse_size,
)

if TYPE_CHECKING:
    from photomapd.metadata.infotext import Infotext
    from photomapd.metadata.source import Source

_FORGE_VERSION = re.compile(r"^(f\d|neo$|classic$)")


def parse(source: Source) -> dict[str, Any] | None:
    text = _infotext_source(source)
    if text is None:
        return None
    info = split_infotext(text)
    if not info.params and info.negative is None:
        return None  # free text without the parameter line is not infotext
    return summary_from_infotext(info)


def _infotext_source(source: Source) -> str | None:
    candidates = [
        source.text_ci("parameters"),
        source.exif.get("UserComment"),
        source.jpeg_comment,
    ]
    for candidate in candidates:
        if candidate and not looks_like_json(candidate):
            return candidate
    return None


def summary_from_infotext(info: Infotext) -> dict[str, Any]:
    params = info.params
    summary = empty_summary()
    summary["generator"] = _generator(params)
    summary["generator_version"] = params.get("Version")
    summary["positive_prompt"] = info.positive
    summary["negative_prompt"] = info.negative
    summary["model"] = model_ref(params.get("Model"), hash_=params.get("Model hash"))
    summary["seed"] = as_int(params.get("Seed"))
    summary["steps"] = as_int(params.get("Steps"))
    summary["cfg_scale"] = as_number(params.get("CFG scale"))
    summary["sampler"] = params.get("Sampler")
    summary["scheduler"] = params.get("Schedule type")
    summary["width"], summary["height"] = parse_size(params.get("Size"))
    summary["clip_skip"] = as_int(params.get("Clip skip"))
    summary["vae"] = params.get("VAE")
    # With hires fix, "Denoising strength" belongs to the upscale pass of a txt2img.
    hires = any(key.startswith("Hires") for key in params)
    if "Denoising strength" in params and not hires:
        summary["strength"] = as_float(params.get("Denoising strength"))
        summary["generation_mode"] = "img2img"
    summary["loras"] = _loras(info.positive, params)
    summary["extra"] = _extra(params)
    return summary


def _generator(params: dict[str, str]) -> Generator:
    version = params.get("Version", "")
    if "Civitai resources" in params or "Civitai metadata" in params:
        return Generator.CIVITAI
    if version == "ComfyUI":
        return Generator.COMFYUI
    if version.startswith("Fooocus"):
        return Generator.FOOOCUS
    if _FORGE_VERSION.match(version):
        return Generator.FORGE
    if "SD.Next" in params.get("App", "") or "Pipeline" in params or "Backend" in params:
        return Generator.SDNEXT
    return Generator.A1111


def _loras(prompt: str | None, params: dict[str, str]) -> list[dict[str, Any]] | None:
    loras = prompt_loras(prompt)
    if loras:
        return loras
    hashes = params.get("Lora hashes")
    if hashes:
        names = [part.partition(":")[0].strip() for part in hashes.split(",")]
        return [{"name": name, "weight": None} for name in names if name]
    return None


def _extra(params: dict[str, str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for key in ("Hashes", "Civitai resources", "Civitai metadata"):
        value = params.get(key)
        if value and looks_like_json(value):
            extra[key.lower().replace(" ", "_")] = loads_json(value)
    known = {
        "Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model", "Model hash",
        "Version", "Clip skip", "VAE", "Hashes", "Civitai resources",
        "Civitai metadata",
    }  # fmt: skip
    others = {key: value for key, value in params.items() if key not in known}
    if others:
        extra["parameters"] = others
    return extra
