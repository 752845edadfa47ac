"""InvokeAI 3.x-6.x `invokeai_metadata` (core metadata), plus graph/workflow detection.

One code path reads every version: v3 `{model_name, base_model}` identifiers and `{lora}`
LoRAs, v4 `ModelIdentifierField` and `{model}` LoRAs, v5 `canvas_v2_metadata` and FLUX
`guidance`, v6 top-level `ref_images`. Unknown keys are ignored here but stay in `raw`.
Legacy 1.x/2.x files (`Dream`, `sd-metadata`) go to `invokeai_legacy`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.invokeai_graph import graph_prompts
from photomapd.metadata.invokeai_layers import control_layers, reference_images
from photomapd.metadata.invokeai_legacy import parse as parse_legacy
from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_number,
    as_str,
)

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

_GRAPH_KEYS = ("invokeai_workflow", "invokeai_graph")


def parse(source: Source) -> dict[str, Any] | None:
    if source.text_ci("invokeai_metadata") is not None:
        metadata = source.json_chunk("invokeai_metadata")
        if isinstance(metadata, dict):
            summary = summary_from_core_metadata(metadata)
        else:
            source.warn("invokeai_metadata is not a JSON object; only the raw text is kept")
            summary = _bare_summary()
    elif source.text_ci("sd-metadata") is not None or source.text_ci("Dream") is not None:
        summary = parse_legacy(source)
    elif any(source.text_ci(key) is not None for key in _GRAPH_KEYS):
        summary = _bare_summary()
    else:
        return None
    summary["has_workflow"] = source.text_ci("invokeai_workflow") is not None
    summary["extra"]["has_graph"] = source.text_ci("invokeai_graph") is not None
    if summary["positive_prompt"] is None and (
        summary["has_workflow"] or summary["extra"]["has_graph"]
    ):
        prompts = graph_prompts(
            source.json_chunk("invokeai_graph"), source.json_chunk("invokeai_workflow")
        )
        if prompts:
            summary["extra"]["graph_prompts"] = prompts
    return summary


def _bare_summary() -> dict[str, Any]:
    summary = empty_summary()
    summary["generator"] = Generator.INVOKEAI
    return summary


def model_field(value: Any) -> dict[str, Any] | None:
    """v3 {model_name, base_model}, v4+ {key, hash, name, base, type}, or a bare name."""
    if not value:
        return None
    if isinstance(value, str):
        return model_ref(value)
    model = as_dict(value)
    return model_ref(
        as_str(model.get("name")) or as_str(model.get("model_name")),
        base=as_str(model.get("base")) or as_str(model.get("base_model")),
        hash_=as_str(model.get("hash")),
        key=as_str(model.get("key")),
    )


def model_name(value: Any) -> str | None:
    model = model_field(value)
    return model["name"] if model else None


def summary_from_core_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    summary = _bare_summary()
    summary["generator_version"] = as_str(metadata.get("app_version"))
    summary["positive_prompt"] = as_str(metadata.get("positive_prompt"))
    summary["negative_prompt"] = as_str(metadata.get("negative_prompt"))
    summary["model"] = model_field(metadata.get("model"))
    summary["seed"] = as_int(metadata.get("seed"))
    summary["steps"] = as_int(metadata.get("steps"))
    for key in ("cfg_scale", "cfg_rescale_multiplier", "guidance"):
        summary[key] = as_number(metadata.get(key))
    summary["scheduler"] = as_str(metadata.get("scheduler"))
    summary["width"] = as_int(metadata.get("width"))
    summary["height"] = as_int(metadata.get("height"))
    summary["clip_skip"] = as_int(metadata.get("clip_skip"))
    summary["seamless_x"] = as_bool(metadata.get("seamless_x"))
    summary["seamless_y"] = as_bool(metadata.get("seamless_y"))
    summary["vae"] = model_name(metadata.get("vae"))
    summary["generation_mode"] = as_str(metadata.get("generation_mode"))
    summary["strength"] = as_float(metadata.get("strength"))
    summary["init_image"] = _image_name(metadata.get("init_image"))
    summary["loras"] = _loras(metadata) if "loras" in metadata else None
    summary["reference_images"] = reference_images(metadata)
    summary["control_layers"] = control_layers(metadata)
    summary["refiner"] = _refiner(metadata)
    summary["extra"] = _extra(metadata)
    return summary


def _image_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return as_str(value.get("image_name"))
    return as_str(value)


def _loras(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    loras = []
    for entry in as_list(metadata.get("loras")):
        if not isinstance(entry, dict) or as_bool(entry.get("is_enabled")) is False:
            continue
        # v4+: {"model": MIF, "weight"}; v3: {"lora": {"model_name"}, "weight"}
        name = model_name(entry.get("model")) or model_name(entry.get("lora"))
        if name:
            loras.append({"name": name, "weight": as_number(entry.get("weight"))})
    return loras


def _refiner(metadata: dict[str, Any]) -> dict[str, Any] | None:
    model = model_name(metadata.get("refiner_model"))
    if model is None:
        return None
    return {
        "model": model,
        "cfg_scale": as_number(metadata.get("refiner_cfg_scale")),
        "steps": as_int(metadata.get("refiner_steps")),
        "scheduler": as_str(metadata.get("refiner_scheduler")),
        "start": as_float(metadata.get("refiner_start")),
        "positive_aesthetic_score": as_float(
            metadata.get("refiner_positive_aesthetic_score")
            or metadata.get("refiner_positive_aesthetic_store")  # misspelt in some 3.x files
        ),
        "negative_aesthetic_score": as_float(
            metadata.get("refiner_negative_aesthetic_score")
            or metadata.get("refiner_negative_aesthetic_store")
        ),
    }


def format_version(metadata: dict[str, Any]) -> str:
    """Which InvokeAI metadata generation wrote this (reference §6.4)."""
    app_version = (as_str(metadata.get("app_version")) or "").lstrip("v")
    major = app_version.split(".", 1)[0]
    if "ref_images" in metadata or (major.isdigit() and int(major) >= 6):
        return "v6"
    if "canvas_v2_metadata" in metadata or major == "5":
        return "v5"
    model = as_dict(metadata.get("model"))
    if "key" in model or "hash" in model or major == "4":
        return "v4"
    return "v3"


def _extra(metadata: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"invokeai_format": format_version(metadata)}
    for key in ("positive_style_prompt", "negative_style_prompt", "rand_device"):
        value = as_str(metadata.get(key))
        if value:
            extra[key] = value
    for key in ("t5_encoder", "clip_embed_model", "qwen3_encoder", "upscale_model"):
        name = model_name(metadata[key]) if key in metadata else None
        if name:
            extra[key] = name
    regions = as_list(as_dict(metadata.get("canvas_v2_metadata")).get("regionalGuidance"))
    if regions:
        extra["regional_guidance"] = len(regions)
    return extra
