"""InvokeAI reference images and control layers across the v3-v6 shapes.

References: v3/v4 `ipAdapters`, v5 `canvas_v2_metadata.referenceImages[*].ipAdapter`, v6
`ref_images[*].config` (whose `image` is croppable: `image.original.image`).
Control: v3/v4 `controlnets` and `t2iAdapters`, v5+ `canvas_v2_metadata.controlLayers`.
Disabled entries are left out: they did not shape the image.
"""

from __future__ import annotations

from typing import Any

from photomapd.metadata.values import as_bool, as_dict, as_list, as_number, as_str


def _model_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    model = as_dict(value)
    return as_str(model.get("name")) or as_str(model.get("model_name"))


def image_name(value: Any) -> str | None:
    """Image name from {image_name}, the v6 croppable {original: {image}}, or a list of them."""
    if isinstance(value, list):
        return image_name(value[0]) if value else None
    image = as_dict(value)
    original = as_dict(as_dict(image.get("original")).get("image"))
    return as_str(original.get("image_name")) or as_str(image.get("image_name"))


def _step_range(entry: dict[str, Any]) -> tuple[Any, Any]:
    pct = as_list(entry.get("beginEndStepPct"))
    if len(pct) == 2:
        return as_number(pct[0]), as_number(pct[1])
    return as_number(entry.get("begin_step_percent")), as_number(entry.get("end_step_percent"))


def _flatten(entries: list[Any]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, list):
            flat.extend(item for item in entry if isinstance(item, dict))
        elif isinstance(entry, dict):
            flat.append(entry)
    return flat


def _reference(config: dict[str, Any], model_key: str = "model") -> dict[str, Any]:
    begin, end = _step_range(config)
    return {
        "type": as_str(config.get("type")),
        "image_name": image_name(config.get("image")),
        "model": _model_name(config.get(model_key)),
        "weight": as_number(config.get("weight")),
        "begin_step_percent": begin,
        "end_step_percent": end,
        "method": as_str(config.get("method")),
        "image_influence": as_str(config.get("imageInfluence")),
    }


def reference_images(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    references = []
    for entry in _flatten(as_list(metadata.get("ref_images"))):
        if as_bool(entry.get("isEnabled")) is not False:
            references.append(_reference(as_dict(entry.get("config"))))
    canvas = as_dict(metadata.get("canvas_v2_metadata"))
    for entry in _flatten(as_list(canvas.get("referenceImages"))):
        if as_bool(entry.get("isEnabled")) is not False:
            references.append(_reference(as_dict(entry.get("ipAdapter"))))
    for entry in _flatten(as_list(metadata.get("ipAdapters"))):
        reference = _reference(entry, model_key="ip_adapter_model")
        reference["type"] = "ip_adapter"
        references.append(reference)
    return [ref for ref in references if ref["image_name"] or ref["model"]]


def control_layers(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    layers = []
    canvas = as_dict(metadata.get("canvas_v2_metadata"))
    for entry in _flatten(as_list(canvas.get("controlLayers"))):
        if as_bool(entry.get("isEnabled")) is False:
            continue
        adapter = as_dict(entry.get("controlAdapter"))
        begin, end = _step_range(adapter)
        images = [
            image_name(item.get("image"))
            for item in _flatten(as_list(entry.get("objects")))
            if item.get("type") == "image"
        ]
        layers.append(
            {
                "type": as_str(adapter.get("type")),
                "model": _model_name(adapter.get("model")),
                "image_name": next((name for name in images if name), None),
                "weight": as_number(adapter.get("weight")),
                "begin_step_percent": begin,
                "end_step_percent": end,
                "control_mode": as_str(adapter.get("controlMode")),
            }
        )
    for key, model_key, weight_key, kind in (
        ("controlnets", "control_model", "control_weight", "controlnet"),
        ("t2iAdapters", "t2i_adapter_model", "weight", "t2i_adapter"),
    ):
        for entry in _flatten(as_list(metadata.get(key))):
            begin, end = _step_range(entry)
            layers.append(
                {
                    "type": kind,
                    "model": _model_name(entry.get(model_key)),
                    "image_name": image_name(entry.get("image")),
                    "weight": as_number(entry.get(weight_key)),
                    "begin_step_percent": begin,
                    "end_step_percent": end,
                    "control_mode": as_str(entry.get("control_mode")),
                }
            )
    return [layer for layer in layers if layer["model"] or layer["image_name"]]
