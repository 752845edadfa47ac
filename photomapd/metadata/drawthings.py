"""Draw Things: a JSON document (`c` prompt, `uc` negative, `v2` full settings) in XMP
`exif:UserComment` (PNG) or in EXIF UserComment with Software "Draw Things" (JPEG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import (
    as_dict,
    as_float,
    as_int,
    as_list,
    as_number,
    as_str,
    loads_json,
    parse_size,
)
from photomapd.metadata.xmp import xmp_property

if TYPE_CHECKING:
    from photomapd.metadata.source import Source


def parse(source: Source) -> dict[str, Any] | None:
    document = _document(source)
    if not document:
        return None
    v2 = as_dict(document.get("v2"))
    summary = empty_summary()
    summary["generator"] = Generator.DRAWTHINGS
    summary["positive_prompt"] = as_str(document.get("c"))
    summary["negative_prompt"] = as_str(document.get("uc"))
    summary["model"] = model_ref(as_str(document.get("model")) or as_str(v2.get("model")))
    summary["seed"] = as_int(document.get("seed"))
    summary["steps"] = as_int(document.get("steps"))
    summary["cfg_scale"] = as_number(document.get("scale"))
    summary["sampler"] = as_str(document.get("sampler"))
    width, height = parse_size(document.get("size"))
    summary["width"] = width or as_int(v2.get("width"))
    summary["height"] = height or as_int(v2.get("height"))
    summary["strength"] = as_float(document.get("strength"))
    summary["clip_skip"] = as_int(document.get("clip_skip"))
    summary["loras"] = _loras(document.get("lora") if "lora" in document else v2.get("loras"))
    summary["control_layers"] = [
        {
            "type": "control",
            "model": as_str(as_dict(control).get("file")),
            "image_name": None,
            "weight": as_number(as_dict(control).get("weight")),
            "begin_step_percent": as_number(as_dict(control).get("guidance_start")),
            "end_step_percent": as_number(as_dict(control).get("guidance_end")),
            "control_mode": None,
        }
        for control in as_list(document.get("control"))
        if as_str(as_dict(control).get("file"))
    ]
    return summary


def _document(source: Source) -> dict[str, Any]:
    if source.xmp:
        comment = xmp_property(source.xmp, "exif:UserComment")
        document = as_dict(loads_json(comment)) if comment else {}
        if "c" in document:
            return document
    if source.exif.get("Software", "").startswith("Draw Things"):
        document = as_dict(source.user_comment_json())
        if "c" in document:
            return document
    return {}


def _loras(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [
        {
            "name": as_str(as_dict(lora).get("file")),
            "weight": as_number(as_dict(lora).get("weight")),
        }
        for lora in value
        if as_str(as_dict(lora).get("file"))
    ]
