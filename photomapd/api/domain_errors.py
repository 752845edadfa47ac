"""The one table from domain exceptions to API answers (status, code), so handlers let them
propagate and the error middleware answers them like any ApiError."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from photomapd.config import AlbumError
from photomapd.invokeai.errors import InvokeAIError
from photomapd.search.searcher import SearchUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

# Album codes that are not a plain 400.
ALBUM_ERROR_STATUS = {"album_not_found": 404, "album_exists": 409}

Answer = tuple[int, str]


def _album_answer(error: AlbumError) -> Answer:
    return ALBUM_ERROR_STATUS.get(error.code, 400), error.code


def _invokeai_answer(error: InvokeAIError) -> Answer:
    # Each subclass carries its own; LocalDatabaseError and BoardNotFoundError included.
    return error.http_status, str(error.code)


# A fixed answer, or a function when the exception itself carries its status or code.
DOMAIN_ERRORS: dict[type[Exception], Answer | Callable[[Any], Answer]] = {
    AlbumError: _album_answer,
    InvokeAIError: _invokeai_answer,
    SearchUnavailable: (503, "model_unavailable"),
}


def domain_answer(error: Exception) -> tuple[int, str, str] | None:
    """(status, code, message) for a domain exception, found by its nearest class in the table;
    None for anything else (a bug: the middleware logs it and answers 500).

    The message is the exception's text: every domain error is written to be shown to people.
    """
    for kind in type(error).__mro__:
        entry = DOMAIN_ERRORS.get(kind)
        if entry is not None:
            status, code = entry(error) if callable(entry) else entry
            return status, code, str(error)
    return None
