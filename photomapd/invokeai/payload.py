"""Fit a recall body to InvokeAI's `RecallParameter` before sending it.

InvokeAI validates with `extra="forbid"` and ranges (steps >= 1, width >= 64, seed >= 0, ...):
one bad value fails the whole recall with a 422. Old or odd metadata (v2 seeds, 32 px sizes,
made-up keys) is common, so we drop what InvokeAI would refuse and say so, instead of failing.
"""

from __future__ import annotations

from typing import Any

STRINGS = ("positive_prompt", "negative_prompt", "model", "refiner_model", "vae_model", "scheduler")
INT_MINIMUMS = {
    "steps": 1,
    "refiner_steps": 0,
    "width": 64,
    "height": 64,
    "seed": 0,
    "clip_skip": 0,
}
FLOATS = (
    "cfg_scale",
    "cfg_rescale_multiplier",
    "refiner_cfg_scale",
    "guidance",
    "refiner_positive_aesthetic_score",
    "refiner_negative_aesthetic_score",
)
UNIT_FLOATS = ("denoise_strength", "refiner_denoise_start")
BOOLS = ("seamless_x", "seamless_y")
IMAGE_LISTS = ("control_layers", "ip_adapters", "reference_images")
LISTS = ("loras", *IMAGE_LISTS)

NESTED: dict[str, dict[str, Any]] = {
    "loras": {"model_name": str, "weight": (-10.0, 10.0), "is_enabled": bool},
    "control_layers": {
        "model_name": str,
        "image_name": str,
        "weight": (-1.0, 2.0),
        "begin_step_percent": (0.0, 1.0),
        "end_step_percent": (0.0, 1.0),
        "control_mode": ("balanced", "more_prompt", "more_control"),
    },
    "ip_adapters": {
        "model_name": str,
        "image_name": str,
        "weight": (-1.0, 2.0),
        "begin_step_percent": (0.0, 1.0),
        "end_step_percent": (0.0, 1.0),
        "method": ("full", "style", "composition"),
        "image_influence": ("lowest", "low", "medium", "high", "highest"),
    },
    "reference_images": {"image_name": str},
}
REQUIRED = {
    "loras": "model_name",
    "control_layers": "model_name",
    "ip_adapters": "model_name",
    "reference_images": "image_name",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_ok(key: str, value: Any) -> bool:
    if key in STRINGS:
        return isinstance(value, str)
    if key in INT_MINIMUMS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= INT_MINIMUMS[key]
    if key in FLOATS:
        return _is_number(value)
    if key in UNIT_FLOATS:
        return _is_number(value) and 0 <= value <= 1
    if key in BOOLS:
        return isinstance(value, bool)
    return False


def _field_ok(rule: Any, value: Any) -> bool:
    if rule is str:
        return isinstance(value, str)
    if rule is bool:
        return isinstance(value, bool)
    if isinstance(rule, tuple) and rule and isinstance(rule[0], float):
        return _is_number(value) and rule[0] <= value <= rule[1]
    return value in rule


def _clean_entry(key: str, entry: Any, warnings: list[str]) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get(REQUIRED[key]), str):
        warnings.append(f"Left out an entry of {key} that InvokeAI would refuse: {entry!r:.80}")
        return None
    clean = {}
    for name, value in entry.items():
        rule = NESTED[key].get(name)
        if value is None:
            continue
        if rule is not None and _field_ok(rule, value):
            clean[name] = value
        else:
            warnings.append(f"Left out {key}.{name}={value!r:.60}: InvokeAI would refuse it.")
    return clean


def sanitize_payload(
    payload: dict[str, Any], *, reference_images: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Return (the body InvokeAI will accept, one warning per thing left out)."""
    warnings: list[str] = []
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None:
            continue
        if key == "reference_images" and not reference_images:
            warnings.append(
                "Left out the reference images: this InvokeAI version cannot receive them "
                "(needs 6.13 or newer)."
            )
        elif key in LISTS:
            if not isinstance(value, list):
                warnings.append(f"Left out {key}: not a list.")
                continue
            entries = [_clean_entry(key, entry, warnings) for entry in value]
            clean[key] = [entry for entry in entries if entry is not None]
        elif _scalar_ok(key, value):
            clean[key] = value
        else:
            warnings.append(f"Left out {key}={value!r:.60}: InvokeAI would refuse it.")
    return clean, warnings
