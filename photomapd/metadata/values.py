"""Tolerant coercion of values read from untrusted metadata into the record's types.

Every helper returns ``None`` instead of raising, because metadata written by other programs
(or by a fuzzer) routinely carries the wrong type: a seed as a string, steps as a float, a prompt
as a list.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Enough for any real prompt or workflow; bounds the cost of a hostile file.
MAX_TEXT = 1_000_000


def as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            return None
        try:
            return int(text)
        except ValueError:
            number = as_float(text)
            return as_int(number) if number is not None else None
    return None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**63 else None
        return number if number is not None and math.isfinite(number) else None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_number(value: Any) -> int | float | None:
    """An int when the value is integral, else a float: keeps `5` as 5 and `7.5` as 7.5."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = as_float(value)
    if number is None:
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "yes", "1", "on", "enable", "enabled"}:
            return True
        if lowered in {"false", "no", "0", "off", "disable", "disabled"}:
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_size(value: Any) -> tuple[int | None, int | None]:
    """'1024x768', '(768, 1280)' or [w, h] → (width, height)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return as_int(value[0]), as_int(value[1])
    text = as_str(value)
    if not text:
        return None, None
    cleaned = text.strip().strip("()[]")
    for separator in ("x", "X", "×", ","):
        if separator in cleaned:
            first, _, second = cleaned.partition(separator)
            return as_int(first), as_int(second)
    return None, None


def loads_json(text: str) -> Any:
    """json.loads that returns None for anything that is not valid (or too deep) JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith(("{", "["))
