"""Validation and normalisation of the InvokeAI base URL and of names spliced into its paths."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from photomapd.invokeai.errors import (
    MSG_BAD_SCHEME,
    MSG_NO_HOST,
    BadRequestError,
    InvalidURLError,
)

_QUEUE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# InvokeAI image names are "<uuid>.png"; anything that is a plain file name is accepted, but no
# path syntax, so a name from metadata can never splice another route into the URL.
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_UUID_NAME = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(png|jpg|jpeg|webp)$",
    re.IGNORECASE,
)


def normalize_base_url(url: str) -> str:
    """Return `url` as `scheme://host[:port][/sub/path]` without a trailing slash.

    Raises InvalidURLError with the seed's exact messages.
    """
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise InvalidURLError(f"Invalid InvokeAI URL: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURLError(MSG_BAD_SCHEME)
    if not parts.hostname:
        raise InvalidURLError(MSG_NO_HOST)
    # Query and fragment make no sense for a base URL; dropping them keeps path joins exact.
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", ""))


def check_queue_id(queue_id: str) -> str:
    if not _QUEUE_ID.match(queue_id or ""):
        raise BadRequestError(
            f"Invalid InvokeAI queue id {queue_id!r}: use 1-64 letters, digits, '_', '.' or '-'."
        )
    return queue_id


def is_safe_image_name(name: str) -> bool:
    return bool(_IMAGE_NAME.match(name or "")) and name not in (".", "..")


def looks_like_invokeai_output(name: str) -> bool:
    """InvokeAI names every image it stores `<uuid4>.png`."""
    return bool(_UUID_NAME.match(name or ""))


def image_path(name: str) -> str:
    """The quoted path segment for an image name, refusing anything with path syntax."""
    if not is_safe_image_name(name):
        raise BadRequestError(f"Refusing unsafe InvokeAI image name {name!r}.")
    return quote(name, safe="")
