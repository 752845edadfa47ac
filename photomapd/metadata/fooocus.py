"""Fooocus (and RuinedFooocus): JSON in the PNG `parameters` chunk or EXIF UserComment.

Fooocus files written with the "a1111" scheme are infotext and go to the a1111 parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import as_dict, as_int, as_list, as_number, as_str, parse_size

if TYPE_CHECKING:
    from photomapd.metadata.source import Source


def parse(source: Source) -> dict[str, Any] | None:
    params = as_dict(source.json_chunk("parameters")) or as_dict(source.user_comment_json())
    if not params:
        return None
    if as_str(params.get("software")) == "RuinedFooocus":
        return _ruined(params)
    version = as_str(params.get("version")) or ""
    scheme = source.text_ci("fooocus_scheme") or params.get("metadata_scheme")
    if not version.startswith("Fooocus") and scheme is None:
        return None
    summary = empty_summary()
    summary["generator"] = Generator.FOOOCUS
    summary["generator_version"] = version or None
    summary["positive_prompt"] = as_str(params.get("prompt"))
    summary["negative_prompt"] = as_str(params.get("negative_prompt"))
    summary["model"] = model_ref(
        as_str(params.get("base_model")), hash_=as_str(params.get("base_model_hash"))
    )
    summary["seed"] = as_int(params.get("seed"))  # stored as a string
    summary["steps"] = as_int(params.get("steps"))
    summary["cfg_scale"] = as_number(params.get("guidance_scale"))
    summary["sampler"] = as_str(params.get("sampler"))
    summary["scheduler"] = as_str(params.get("scheduler"))
    summary["width"], summary["height"] = parse_size(params.get("resolution"))
    summary["clip_skip"] = as_int(params.get("clip_skip"))
    summary["vae"] = as_str(params.get("vae"))
    summary["loras"] = _loras(params) if "loras" in params else None
    refiner = as_str(params.get("refiner_model"))
    if refiner and refiner != "None":
        summary["refiner"] = {"model": refiner, "start": as_number(params.get("refiner_switch"))}
    summary["extra"] = {
        key: params[key] for key in ("styles", "performance", "metadata_scheme") if key in params
    }
    return summary


def _ruined(params: dict[str, Any]) -> dict[str, Any]:
    summary = empty_summary()
    summary["generator"] = Generator.RUINED_FOOOCUS
    summary["positive_prompt"] = as_str(params.get("Prompt"))
    summary["negative_prompt"] = as_str(params.get("Negative"))
    summary["model"] = model_ref(
        as_str(params.get("base_model_name")), hash_=as_str(params.get("base_model_hash"))
    )
    summary["seed"] = as_int(params.get("seed"))
    summary["steps"] = as_int(params.get("steps"))
    summary["cfg_scale"] = as_number(params.get("cfg"))
    summary["sampler"] = as_str(params.get("sampler_name"))
    summary["scheduler"] = as_str(params.get("scheduler"))
    summary["width"] = as_int(params.get("width"))
    summary["height"] = as_int(params.get("height"))
    summary["clip_skip"] = as_int(params.get("clip_skip"))
    summary["loras"] = _loras(params) if "loras" in params else None
    return summary


def _loras(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries are [name, weight(, hash)] lists or {name, weight} objects."""
    loras = []
    for entry in as_list(params.get("loras")):
        if isinstance(entry, list | tuple) and entry:
            name, weight = entry[0], entry[1] if len(entry) > 1 else None
        elif isinstance(entry, dict):
            name, weight = entry.get("name"), entry.get("weight")
        else:
            continue
        if as_str(name) and as_str(name) != "None":
            loras.append({"name": as_str(name), "weight": as_number(weight)})
    return loras
