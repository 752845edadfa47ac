"""Easy Diffusion: one PNG text chunk per setting (`prompt`, `num_inference_steps`, ...), or the
same keys as a JSON object in EXIF UserComment. Older versions capitalise ("Seed",
"Stable Diffusion model"); keys are matched case- and space-insensitively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import as_dict, as_float, as_int, as_number, as_str

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

_SIGNATURE_KEYS = {"use_stable_diffusion_model", "num_inference_steps", "stable_diffusion_model"}


def parse(source: Source) -> dict[str, Any] | None:
    fields = _normalized(source.text) or _normalized(as_dict(source.user_comment_json()))
    if not _SIGNATURE_KEYS & fields.keys():
        return None
    summary = empty_summary()
    summary["generator"] = Generator.EASYDIFFUSION
    summary["positive_prompt"] = as_str(fields.get("prompt"))
    summary["negative_prompt"] = as_str(fields.get("negative_prompt"))
    model = fields.get("use_stable_diffusion_model") or fields.get("stable_diffusion_model")
    summary["model"] = model_ref(as_str(model))
    summary["seed"] = as_int(fields.get("seed"))
    summary["steps"] = as_int(fields.get("num_inference_steps") or fields.get("steps"))
    summary["cfg_scale"] = as_number(fields.get("guidance_scale"))
    summary["sampler"] = as_str(fields.get("sampler_name") or fields.get("sampler"))
    summary["width"] = as_int(fields.get("width"))
    summary["height"] = as_int(fields.get("height"))
    summary["clip_skip"] = as_int(fields.get("clip_skip"))
    summary["strength"] = as_float(fields.get("prompt_strength"))
    summary["vae"] = as_str(fields.get("use_vae_model"))
    lora = as_str(fields.get("use_lora_model"))
    if lora:
        summary["loras"] = [{"name": lora, "weight": as_number(fields.get("lora_alpha"))}]
    return summary


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    return {str(key).strip().lower().replace(" ", "_"): value for key, value in fields.items()}
