"""InvokeAI 1.x/2.x: the `sd-metadata` JSON chunk and the `Dream` command-line string.

`sd-metadata` wins where both exist; the Dream string fills what it lacks (1.x files have
only Dream). The negative prompt of these versions lives inside the prompt as [brackets] and
is left there, as stored.
"""

from __future__ import annotations

import re
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
)

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

# Dream flags: short ones may be glued to their value ("-s50", "-Ak_lms").
_DREAM_FLAGS = {
    "s": "steps",
    "S": "seed",
    "W": "width",
    "H": "height",
    "C": "cfg_scale",
    "A": "sampler",
    "I": "init_image",
    "f": "strength",
    "m": "model",
}
_LONG_FLAGS = {"cf", "ft", "tm", "seamless", "hires_fix", "model", "steps", "seed", "sampler"}
_QUOTED_PROMPT = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"(.*)$', re.DOTALL)
_FIRST_FLAG = re.compile(r"(?:^|\s)-{1,2}[A-Za-z]")


def parse(source: Source) -> dict[str, Any]:
    summary = empty_summary()
    summary["generator"] = Generator.INVOKEAI
    dream = source.text_ci("Dream")
    if dream is not None:
        _apply(summary, parse_dream(dream))
    sd_text = source.text_ci("sd-metadata")
    if sd_text is not None:
        sd_metadata = loads_json(sd_text)
        if isinstance(sd_metadata, dict):
            _apply(summary, _from_sd_metadata(sd_metadata), override=True)
        else:
            source.warn("sd-metadata is not a JSON object; only the raw text is kept")
    summary["extra"]["invokeai_format"] = "v2" if sd_text is not None else "v1"
    return summary


def _apply(summary: dict[str, Any], values: dict[str, Any], override: bool = False) -> None:
    for key, value in values.items():
        if value is None:
            continue
        if key == "extra":
            summary["extra"].update(value)
        elif override or summary.get(key) is None:
            summary[key] = value


def _from_sd_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    image = as_dict(metadata.get("image"))
    if not image:
        images = as_list(metadata.get("images"))
        image = as_dict(images[0]) if images else {}
    name = as_str(metadata.get("model_id")) or as_str(metadata.get("model_weights"))
    return {
        "generator_version": as_str(metadata.get("app_version")),
        "positive_prompt": _prompt_text(image.get("prompt")),
        "model": model_ref(name, hash_=as_str(metadata.get("model_hash"))),
        "seed": as_int(image.get("seed")),
        "steps": as_int(image.get("steps")),
        "cfg_scale": as_number(image.get("cfg_scale")),
        "sampler": as_str(image.get("sampler")),
        "width": as_int(image.get("width")),
        "height": as_int(image.get("height")),
        "generation_mode": as_str(image.get("type")),
        "init_image": as_str(image.get("init_img")),
        "strength": as_float(image.get("strength")),
        "extra": {"app_id": as_str(metadata.get("app_id"))},
    }


def _prompt_text(value: Any) -> str | None:
    """2.x stores [{"prompt", "weight"}]; several weighted parts are joined as text:weight."""
    if isinstance(value, str):
        return value
    parts = [as_dict(part) for part in as_list(value)]
    texts = [
        (text, as_number(part.get("weight")))
        for part in parts
        if (text := as_str(part.get("prompt"))) is not None
    ]
    if not texts:
        return None
    if len(texts) == 1:
        return texts[0][0]
    return " ".join(f"{text}:{weight}" if weight is not None else text for text, weight in texts)


def parse_dream(dream: str) -> dict[str, Any]:
    quoted = _QUOTED_PROMPT.match(dream)
    if quoted:
        prompt = quoted.group(1).replace('\\"', '"')
        rest = quoted.group(2)
    else:
        flag = _FIRST_FLAG.search(dream)
        cut = flag.start() if flag else len(dream)
        prompt, rest = dream[:cut].strip(), dream[cut:]
    values: dict[str, Any] = {"positive_prompt": prompt}
    tokens = rest.split()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or _is_number(token):
            continue
        option = token.lstrip("-")
        value: str | None
        if option in _LONG_FLAGS or not option:
            value = tokens[index] if index < len(tokens) else None
            name = option
        else:
            name, value = option[0], option[1:] or None
            if value is None and index < len(tokens) and not _is_flag(tokens[index]):
                value = tokens[index]
        if value is not None and not _is_flag(value):
            _set_dream_value(values, name, value)
    return values


def _set_dream_value(values: dict[str, Any], flag: str, value: str) -> None:
    field_name = _DREAM_FLAGS.get(flag) or (flag if flag in {"steps", "seed", "sampler"} else None)
    if field_name in ("steps", "seed", "width", "height"):
        values[field_name] = as_int(value)
    elif field_name == "cfg_scale":
        values[field_name] = as_number(value)
    elif field_name == "strength":
        values[field_name] = as_float(value)
    elif field_name == "model":
        values["model"] = model_ref(value)
    elif field_name in ("sampler", "init_image"):
        values[field_name] = value


def _is_number(token: str) -> bool:
    return as_float(token) is not None


def _is_flag(token: str) -> bool:
    return token.startswith("-") and not _is_number(token)
