"""The domain-error table: each domain exception a handler lets propagate comes out of the
real error middleware with the status, code and JSON shape the API promises."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from photomapd.api.domain_errors import DOMAIN_ERRORS
from photomapd.api.errors import error_middleware
from photomapd.config import AlbumError
from photomapd.invokeai import errors as invokeai
from photomapd.invokeai.local_db import BoardNotFoundError, LocalDatabaseError
from photomapd.search.searcher import SearchUnavailable

# (exception raised by a handler, status, code)
CASES: list[tuple[Exception, int, str]] = [
    (AlbumError("album_not_found", "no album with key 'x'"), 404, "album_not_found"),
    (AlbumError("album_exists", "an album with key 'x' already exists"), 409, "album_exists"),
    (AlbumError("folder_missing", "folder /x does not exist"), 400, "folder_missing"),
    (AlbumError("board_not_found", "InvokeAI has no board 'x'"), 400, "board_not_found"),
    (invokeai.NotConfiguredError(invokeai.MSG_NOT_CONFIGURED), 400, "invokeai_not_configured"),
    (invokeai.UnreachableError(invokeai.MSG_UNREACHABLE), 502, "invokeai_unreachable"),
    (invokeai.NotSupportedError("needs InvokeAI 6.12"), 409, "invokeai_not_supported"),
    (invokeai.MissingFileError("the file is gone"), 404, "invokeai_file_missing"),
    (invokeai.BadRequestError("no metadata to recall"), 400, "invokeai_bad_request"),
    (LocalDatabaseError("InvokeAI database not found"), 400, "invokeai_database"),
    (BoardNotFoundError("InvokeAI has no board 'x'"), 400, "board_not_found"),
    (SearchUnavailable("the model is still loading"), 503, "model_unavailable"),
]


def _ids(case: tuple[Exception, int, str]) -> str:
    return f"{type(case[0]).__name__}-{case[2]}"


async def _answer(error: Exception) -> tuple[int, str, object]:
    async def handler(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/boom", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/boom")
        return response.status, response.content_type, await response.json()


@pytest.mark.parametrize("case", CASES, ids=map(_ids, CASES))
async def test_domain_error_gets_its_status_code_and_message(
    case: tuple[Exception, int, str],
) -> None:
    error, status, code = case
    assert await _answer(error) == (
        status,
        "application/json",
        {"error": {"code": code, "message": str(error)}},
    )


def test_every_table_entry_has_a_case() -> None:
    """A new entry in DOMAIN_ERRORS needs a case above, so its answer is pinned."""
    covered = {kind for error, _, _ in CASES for kind in type(error).__mro__}
    assert set(DOMAIN_ERRORS) <= covered


async def test_other_exceptions_stay_internal_errors(caplog: pytest.LogCaptureFixture) -> None:
    status, _, body = await _answer(RuntimeError("secret detail"))
    assert status == 500
    assert body == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the daemon log has the details",
        }
    }
    assert "secret detail" in caplog.text  # logged for the user, not sent to the client
