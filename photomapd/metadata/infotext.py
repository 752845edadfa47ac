"""Split A1111-style "infotext" into positive prompt, negative prompt and the parameter line.

Format: prompt lines, optionally "Negative prompt: ..." lines, then one last line of
`Key: value, Key: value`. Values may be "quoted" (A1111 JSON-escapes them) or bare JSON
(`Civitai resources: [{...}]`, ComfyUI savers' `Hashes: {...}`) that contains commas.
Prompts are returned verbatim, trailing newlines included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_KEY = re.compile(r"\s*([^\s,:\"{}\[\]][^,:\"{}\[\]\n]{0,60}?):\s*")
NEGATIVE_MARKER = "Negative prompt: "
# A line is the parameter line when it has at least this many Key: value pairs and one of these.
_PARAM_ANCHORS = {"Steps", "Sampler", "Seed", "Size", "Model", "CFG scale", "Model hash"}


@dataclass
class Infotext:
    positive: str | None
    negative: str | None
    params: dict[str, str] = field(default_factory=dict)


def split_infotext(text: str) -> Infotext:
    body = text.rstrip("\n")
    head, separator, last_line = body.rpartition("\n")
    params = parse_params(last_line)
    if not _is_param_line(params):
        head, params = text, {}
    elif not separator:
        head = ""
    positive, negative = _split_negative(head)
    return Infotext(positive=positive, negative=negative, params=params)


def _split_negative(head: str) -> tuple[str, str | None]:
    if head.startswith(NEGATIVE_MARKER):
        return "", head[len(NEGATIVE_MARKER) :]
    before, marker, after = head.partition("\n" + NEGATIVE_MARKER)
    if not marker:
        # "Negative prompt:" with nothing after it has no trailing space.
        stripped = "\n" + NEGATIVE_MARKER.rstrip()
        if head.endswith(stripped):
            return head[: -len(stripped)], ""
        return head, None
    return before, after


def _is_param_line(params: dict[str, str]) -> bool:
    return len(params) >= 2 and any(anchor in params for anchor in _PARAM_ANCHORS)


def parse_params(line: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(line):
        match = _KEY.match(line, position)
        if match is None:
            break
        key = match.group(1).strip()
        position = match.end()
        value, position = _read_value(line, position)
        params.setdefault(key, value)
        while position < len(line) and line[position] in ", ":
            position += 1
    return params


def _read_value(line: str, position: int) -> tuple[str, int]:
    if position < len(line) and line[position] == '"':
        end = _scan_string(line, position)
        quoted = line[position:end]
        try:
            return str(json.loads(quoted)), end
        except ValueError:
            return quoted.strip('"'), end
    if position < len(line) and line[position] in "{[":
        closing = _scan_brackets(line, position)
        if closing is not None:
            return line[position:closing], closing
    comma = line.find(",", position)
    end = len(line) if comma == -1 else comma
    return line[position:end].strip(), end


def _scan_string(line: str, start: int) -> int:
    position = start + 1
    while position < len(line):
        if line[position] == "\\":
            position += 2
            continue
        if line[position] == '"':
            return position + 1
        position += 1
    return len(line)


def _scan_brackets(line: str, start: int) -> int | None:
    depth = 0
    position = start
    while position < len(line):
        char = line[position]
        if char == '"':
            position = _scan_string(line, position)
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return None


_LORA_TAG = re.compile(r"<(?:lora|lyco):([^:>]+)(?::([^:>]+))?[^>]*>", re.IGNORECASE)


def prompt_loras(prompt: str | None) -> list[dict[str, object]]:
    """LoRAs named in a prompt as <lora:name:weight> (A1111 and descendants)."""
    if not prompt:
        return []
    loras: list[dict[str, object]] = []
    for match in _LORA_TAG.finditer(prompt):
        weight: object = None
        if match.group(2):
            try:
                weight = float(match.group(2))
            except ValueError:
                weight = None
        loras.append({"name": match.group(1).strip(), "weight": weight})
    return loras
