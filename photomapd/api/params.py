"""Parsing query and body values with errors that say which value is wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.api.errors import BadRequest, NotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import web


def int_param(
    request: web.Request, name: str, default: int, low: int = 0, high: int = 10_000
) -> int:
    return int_value(request.query, name, default, low, high)


def float_param(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    return float_value(request.query, name, default, low, high)


def int_value(
    values: Mapping[str, str], name: str, default: int, low: int = 0, high: int = 10_000
) -> int:
    """`name` from query or form fields as an int in [low, high]; BadRequest names the field."""
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise BadRequest("invalid_parameter", f"{name} must be an integer, got {raw!r}") from error
    if not low <= value <= high:
        raise BadRequest("invalid_parameter", f"{name} must be between {low} and {high}")
    return value


def float_value(
    values: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise BadRequest("invalid_parameter", f"{name} must be a number, got {raw!r}") from error
    if not low <= value <= high:
        raise BadRequest("invalid_parameter", f"{name} must be between {low} and {high}")
    return value


# SQLite's INTEGER is signed 64-bit: no row id is larger, and a larger one overflows the driver.
MAX_ROW_ID = 2**63 - 1
# Room for leading zeros; int() refuses strings over 4300 digits, so never hand it one that long.
MAX_ID_DIGITS = 40


def is_image_id(value: object) -> bool:
    """A JSON value that can be an image id (bool is an int in Python, but not an id)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ROW_ID


def image_id_param(request: web.Request) -> int:
    raw = request.match_info.get("id", "")
    # isdigit() alone accepts "²" and other Unicode digits that int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("invalid_image_id", f"image id must be a positive integer, got {raw!r}")
    # Thousands of digits would make int() itself refuse; no such id exists either way.
    if len(raw) > MAX_ID_DIGITS or int(raw) > MAX_ROW_ID:
        raise NotFound("image_not_found", f"no image with id {raw[:MAX_ID_DIGITS]}")
    return int(raw)


def _is_image_id_text(text: str) -> bool:
    # Digits only (int() also takes "-5", "1_000" and "²"), and no larger than SQLite's INTEGER.
    return (
        text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS and int(text) <= MAX_ROW_ID
    )


def image_ids_param(request: web.Request, name: str) -> list[int]:
    """Comma-separated image ids in the query; BadRequest for anything that cannot be one."""
    raw = request.query.get(name, "")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(_is_image_id_text(part) for part in parts):
        raise BadRequest(
            "invalid_parameter",
            f"{name} must be comma-separated image ids (whole numbers from 0 to {MAX_ROW_ID}), "
            f"got {raw[:100]!r}",
        )
    return [int(part) for part in parts]


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as error:
        raise BadRequest("invalid_json", f"the request body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", "the request body must be a JSON object")
    return body
