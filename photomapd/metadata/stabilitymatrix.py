"""Stability Matrix: `parameters-json` next to A1111 `parameters` and a ComfyUI `prompt`.

The JSON is preferred: it is the only copy whose text is reliably UTF-8.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import as_dict, as_int, as_number, as_str

if TYPE_CHECKING:
    from photomapd.metadata.source import Source


def parse(source: Source) -> dict[str, Any] | None:
    params = as_dict(source.json_chunk("parameters-json"))
    if not params:
        return None
    summary = empty_summary()
    summary["generator"] = Generator.STABILITY_MATRIX
    summary["positive_prompt"] = as_str(params.get("PositivePrompt"))
    summary["negative_prompt"] = as_str(params.get("NegativePrompt"))
    summary["model"] = model_ref(
        as_str(params.get("ModelName")), hash_=as_str(params.get("ModelHash"))
    )
    summary["seed"] = as_int(params.get("Seed"))
    summary["steps"] = as_int(params.get("Steps"))
    summary["cfg_scale"] = as_number(params.get("CfgScale"))
    summary["sampler"] = as_str(params.get("Sampler"))
    summary["width"] = as_int(params.get("Width"))
    summary["height"] = as_int(params.get("Height"))
    summary["has_workflow"] = source.text_ci("smproj") is not None
    return summary
