"""NovelAI: PNG `Comment` JSON (+ `Description`, `Source`, `Software`), or in WebP/JPEG an
EXIF UserComment `{"Comment": "<json>"}` with the model in EXIF Software.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary, model_ref
from photomapd.metadata.values import as_dict, as_float, as_int, as_number, as_str, loads_json

if TYPE_CHECKING:
    from photomapd.metadata.source import Source


def parse(source: Source) -> dict[str, Any] | None:
    fields = _fields(source)
    software = as_str(fields.get("Software")) or ""
    comment = fields.get("Comment")
    if isinstance(comment, str):
        comment = loads_json(comment)
    comment = as_dict(comment)
    if not software.startswith("NovelAI") and not ("uc" in comment and "scale" in comment):
        return None
    summary = empty_summary()
    summary["generator"] = Generator.NOVELAI
    summary["positive_prompt"] = (
        as_str(comment.get("prompt"))
        or _caption(comment.get("v4_prompt"))
        or as_str(fields.get("Description"))
    )
    summary["negative_prompt"] = as_str(comment.get("uc")) or _caption(
        comment.get("v4_negative_prompt")
    )
    source_name = as_str(fields.get("Source"))
    if not source_name and software.startswith("NovelAI "):
        source_name = software  # curated WebP: the model is in EXIF Software
    summary["model"] = model_ref(source_name)
    summary["seed"] = as_int(comment.get("seed"))
    summary["steps"] = as_int(comment.get("steps"))
    summary["cfg_scale"] = as_number(comment.get("scale"))
    summary["cfg_rescale_multiplier"] = as_number(comment.get("cfg_rescale"))
    summary["sampler"] = as_str(comment.get("sampler"))
    summary["scheduler"] = as_str(comment.get("noise_schedule"))
    summary["width"] = as_int(comment.get("width"))
    summary["height"] = as_int(comment.get("height"))
    summary["strength"] = as_float(comment.get("strength"))
    summary["extra"] = {"request_type": as_str(comment.get("request_type"))}
    return summary


def _fields(source: Source) -> dict[str, Any]:
    """PNG text chunks, or the same keys carried in EXIF (UserComment JSON + Software)."""
    fields: dict[str, Any] = dict(source.text)
    bundle = as_dict(source.user_comment_json())
    if "Comment" in bundle:
        for key, value in bundle.items():
            fields.setdefault(key, value)
    if "Software" not in fields and "Software" in source.exif:
        fields["Software"] = source.exif["Software"]
    return fields


def _caption(value: Any) -> str | None:
    return as_str(as_dict(as_dict(value).get("caption")).get("base_caption"))
