"""The generation-metadata filters of a search (prompt=, model=, lora=, generator=, seed=,
since=, until=, has_reference=, favourite=) read from query or form fields, and the image ids
they leave a semantic search."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from photomapd.api import keys
from photomapd.api.errors import BadRequest
from photomapd.store.metadata_index import MetadataFilter, MetadataIndex

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp import web

FILTER_PARAMS = ("prompt", "model", "lora", "generator", "seed", "since", "until", "has_reference")
TRUE_WORDS = ("1", "true")


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value[:1000] or None


def _time(params: Mapping[str, str], name: str) -> float | None:
    """Epoch seconds, or an ISO date / date-time (UTC when no zone is given)."""
    raw = _text(params, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise BadRequest(
            "invalid_parameter",
            f"{name} must be epoch seconds or an ISO date like 2026-11-25, got {raw!r}",
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def metadata_filter(params: Mapping[str, str]) -> MetadataFilter:
    """The metadata filters in query or form fields; BadRequest says which value is wrong."""
    seed_text = _text(params, "seed")
    try:
        seed: int | float | None = int(seed_text) if seed_text is not None else None
    except ValueError as error:
        raise BadRequest(
            "invalid_parameter", f"seed must be an integer, got {seed_text!r}"
        ) from error
    if seed is not None and not -(2**63) <= seed < 2**64:
        raise BadRequest(
            "invalid_parameter", f"seed must be between {-(2**63)} and {2**64 - 1}, got {seed}"
        )
    if seed is not None and seed >= 2**63:
        # ComfyUI seeds go up to 2**64 - 1; SQLite keeps those beyond its signed 64-bit INTEGER
        # as REAL (json_extract does so), so they match as a float.
        seed = float(seed)
    reference_text = _text(params, "has_reference")
    has_reference = None
    if reference_text is not None:
        if reference_text.lower() not in ("true", "false", "1", "0"):
            raise BadRequest("invalid_parameter", "has_reference must be true or false")
        has_reference = reference_text.lower() in ("true", "1")
    return MetadataFilter(
        prompt=_text(params, "prompt") or "",
        model=_text(params, "model"),
        lora=_text(params, "lora"),
        generator=_text(params, "generator"),
        seed=seed,
        since=_time(params, "since"),
        until=_time(params, "until"),
        has_reference=has_reference,
        favourite=_favourite(params),
    )


def _favourite(params: Mapping[str, str]) -> bool:
    return params.get("favourite", "").strip().lower() in TRUE_WORDS


def has_metadata_filter(params: Mapping[str, str]) -> bool:
    """Any metadata filter set, favourite=1 included (favourite=0 means no filter)."""
    return _favourite(params) or any(params.get(name, "").strip() for name in FILTER_PARAMS)


def metadata_index(request: web.Request) -> MetadataIndex:
    return MetadataIndex(request.app[keys.STORE])


async def allowed_ids(
    request: web.Request, params: Mapping[str, str], album: str | None
) -> frozenset[int] | None:
    """Ids a semantic search may return under these metadata filters (None: no filter)."""
    if not has_metadata_filter(params):
        return None
    return frozenset(await metadata_index(request).matching_ids(metadata_filter(params), album))
