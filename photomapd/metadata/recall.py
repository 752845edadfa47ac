"""Build InvokeAI's recall body (`POST /api/v1/recall/{queue_id}`) from a normalized record.

The server's `RecallParameter` model forbids unknown keys and validates ranges (steps >= 1,
width/height >= 64, seed >= 0, LoRA weight -10..10, adapter weight -1..2), and one invalid
value rejects the whole request with 422. So every field is checked here and left out when it
would not validate, rather than sent and failing. `with_seed=False` is InvokeAI's "Remix".
Other generators' samplers are mapped to InvokeAI scheduler names (schedulers.py); one with no
counterpart is left out, and `notes` says so.
Reference images need a server that knows `reference_images` (>= 6.13); the bridge decides
whether to drop that key for older servers.
"""

from __future__ import annotations

from typing import Any

from photomapd.metadata.schedulers import INVOKEAI_SCHEDULERS, recall_scheduler
from photomapd.metadata.values import as_bool, as_float, as_int, as_str

__all__ = ["INVOKEAI_SCHEDULERS", "recall_payload"]

CONTROL_MODES = {"balanced", "more_prompt", "more_control"}
IP_METHODS = {"full", "style", "composition"}
IMAGE_INFLUENCES = {"lowest", "low", "medium", "high", "highest"}


def recall_payload(
    summary: dict[str, Any], with_seed: bool = True, notes: list[str] | None = None
) -> dict[str, Any]:
    """The recall body; `notes`, when given, collects what was left out or approximated."""
    payload: dict[str, Any] = {}
    _put(payload, "positive_prompt", as_str(summary.get("positive_prompt")))
    _put(payload, "negative_prompt", as_str(summary.get("negative_prompt")))
    _put(payload, "model", _name(summary.get("model")))
    if with_seed:
        _put(payload, "seed", _at_least(as_int(summary.get("seed")), 0))
    _put(payload, "steps", _at_least(as_int(summary.get("steps")), 1))
    for key in ("cfg_scale", "cfg_rescale_multiplier", "guidance"):
        _put(payload, key, as_float(summary.get(key)))
    _put(payload, "width", _at_least(as_int(summary.get("width")), 64))
    _put(payload, "height", _at_least(as_int(summary.get("height")), 64))
    scheduler = recall_scheduler(summary)
    _put(payload, "scheduler", scheduler.name)
    if notes is not None and scheduler.note:
        left_out = "left out" if scheduler.name is None else f"sent as {scheduler.name}"
        notes.append(f"scheduler {left_out}: {scheduler.note}")
    _put(payload, "clip_skip", _at_least(as_int(summary.get("clip_skip")), 0))
    _put(payload, "seamless_x", as_bool(summary.get("seamless_x")))
    _put(payload, "seamless_y", as_bool(summary.get("seamless_y")))
    _put(payload, "vae_model", as_str(summary.get("vae")))
    _put(payload, "denoise_strength", _fraction(as_float(summary.get("strength"))))
    _add_refiner(payload, summary.get("refiner"))
    _put(payload, "loras", _loras(summary.get("loras")))
    _put(payload, "control_layers", _control_layers(summary.get("control_layers")))
    ip_adapters, references = _references(summary.get("reference_images"))
    _put(payload, "ip_adapters", ip_adapters)
    _put(payload, "reference_images", references)
    return payload


def _put(payload: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != []:
        payload[key] = value


def _name(model: Any) -> str | None:
    if isinstance(model, dict):
        return as_str(model.get("name")) or None
    return None


def _at_least(value: int | None, minimum: int) -> int | None:
    return value if value is not None and value >= minimum else None


def _fraction(value: float | None) -> float | None:
    return value if value is not None and 0 <= value <= 1 else None


def _within(value: Any, low: float, high: float) -> float | None:
    number = as_float(value)
    return number if number is not None and low <= number <= high else None


def _add_refiner(payload: dict[str, Any], refiner: Any) -> None:
    if not isinstance(refiner, dict):
        return
    _put(payload, "refiner_model", as_str(refiner.get("model")))
    _put(payload, "refiner_cfg_scale", as_float(refiner.get("cfg_scale")))
    _put(payload, "refiner_steps", _at_least(as_int(refiner.get("steps")), 0))
    _put(payload, "refiner_denoise_start", _fraction(as_float(refiner.get("start"))))
    for key in ("positive_aesthetic_score", "negative_aesthetic_score"):
        _put(payload, f"refiner_{key}", as_float(refiner.get(key)))


def _loras(loras: Any) -> list[dict[str, Any]]:
    result = []
    for lora in loras if isinstance(loras, list) else []:
        name = as_str(lora.get("name")) if isinstance(lora, dict) else None
        if not name:
            continue
        entry: dict[str, Any] = {"model_name": name}
        weight = _within(lora.get("weight"), -10, 10)
        if weight is not None:
            entry["weight"] = weight
        result.append(entry)
    return result


def _adapter_common(entry: dict[str, Any]) -> dict[str, Any]:
    common: dict[str, Any] = {"model_name": as_str(entry.get("model"))}
    _put(common, "image_name", as_str(entry.get("image_name")))
    _put(common, "weight", _within(entry.get("weight"), -1, 2))
    _put(common, "begin_step_percent", _fraction(as_float(entry.get("begin_step_percent"))))
    _put(common, "end_step_percent", _fraction(as_float(entry.get("end_step_percent"))))
    return common


def _control_layers(layers: Any) -> list[dict[str, Any]]:
    result = []
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict) or not as_str(layer.get("model")):
            continue
        entry = _adapter_common(layer)
        mode = as_str(layer.get("control_mode"))
        _put(entry, "control_mode", mode if mode in CONTROL_MODES else None)
        result.append(entry)
    return result


def _references(references: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """References with a model are IP adapters (or FLUX Redux); the rest are model-free."""
    ip_adapters, model_free = [], []
    for reference in references if isinstance(references, list) else []:
        if not isinstance(reference, dict):
            continue
        if as_str(reference.get("model")):
            entry = _adapter_common(reference)
            method = as_str(reference.get("method"))
            influence = as_str(reference.get("image_influence"))
            _put(entry, "method", method if method in IP_METHODS else None)
            _put(entry, "image_influence", influence if influence in IMAGE_INFLUENCES else None)
            ip_adapters.append(entry)
        elif as_str(reference.get("image_name")):
            model_free.append({"image_name": as_str(reference.get("image_name"))})
    return ip_adapters, model_free
