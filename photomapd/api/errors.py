"""Typed API errors, turned into one JSON shape: {"error": {"code", "message"}}.

Domain exceptions (albums, InvokeAI, search) get the same shape through the table in
domain_errors.py, so route handlers need no try/except to translate them.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from photomapd.api.domain_errors import domain_answer

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BadRequest(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)


class NotFound(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(404, code, message)


class Conflict(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(409, code, message)


class Forbidden(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(403, code, message)


class Unavailable(ApiError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(503, code, message)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"error": {"code": code, "message": message}}),
        content_type="application/json",
    )


@web.middleware
async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message)
    except web.HTTPException as error:
        if error.status < 400 or not request.path.startswith("/api/"):
            raise
        code = error.reason.lower().replace(" ", "_")
        response = error_response(error.status, code, error.text or error.reason)
        if "Allow" in error.headers:  # 405 must say which methods the route has (RFC 9110)
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except Exception as error:
        answer = domain_answer(error)
        if answer is not None:
            return error_response(*answer)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500, "internal_error", "internal error; the daemon log has the details"
        )
