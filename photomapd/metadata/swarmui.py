"""SwarmUI: `{"sui_image_params": {...}, "sui_models": [...]}` in the PNG `parameters` chunk
or EXIF UserComment. Wins over the ComfyUI `prompt` chunk SwarmUI also writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import as_dict, as_int, as_list, as_number, as_str

if TYPE_CHECKING:
    from photomapd.metadata.source import Source


def parse(source: Source) -> dict[str, Any] | None:
    document = as_dict(source.json_chunk("parameters")) or as_dict(source.user_comment_json())
    params = as_dict(document.get("sui_image_params"))
    if not params:
        return None
    summary = empty_summary()
    summary["generator"] = Generator.SWARMUI
    summary["generator_version"] = as_str(params.get("swarm_version"))
    summary["positive_prompt"] = as_str(params.get("prompt"))
    summary["negative_prompt"] = as_str(params.get("negativeprompt"))
    summary["model"] = model_ref(as_str(params.get("model")), hash_=_model_hash(document))
    summary["seed"] = as_int(params.get("seed"))
    summary["steps"] = as_int(params.get("steps"))
    summary["cfg_scale"] = as_number(params.get("cfgscale"))
    summary["sampler"] = as_str(params.get("sampler"))
    summary["scheduler"] = as_str(params.get("scheduler"))
    summary["width"] = as_int(params.get("width"))
    summary["height"] = as_int(params.get("height"))
    summary["clip_skip"] = as_int(params.get("clipstopatlayer"))
    summary["strength"] = as_number(params.get("initimagecreativity"))
    summary["loras"] = _loras(params) if "loras" in params else None
    summary["extra"] = {"sui_extra_data": document.get("sui_extra_data")}
    return summary


def _model_hash(document: dict[str, Any]) -> str | None:
    for model in as_list(document.get("sui_models")):
        if as_dict(model).get("param") == "model":
            return as_str(as_dict(model).get("hash"))
    return None


def _loras(params: dict[str, Any]) -> list[dict[str, Any]]:
    names = as_list(params.get("loras"))
    weights = as_list(params.get("loraweights"))
    loras = []
    for index, name in enumerate(names):
        weight = weights[index] if index < len(weights) else None
        if as_str(name):
            loras.append({"name": as_str(name), "weight": as_number(weight)})
    return loras
