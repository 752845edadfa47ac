"""Typed errors of the InvokeAI bridge; each carries the message the user sees.

The first four messages are the ones PhotoMapAI shows under its URL field, kept word for word so
that its documentation's troubleshooting list applies to photomapd too.
"""

from __future__ import annotations

from enum import StrEnum

MSG_BAD_SCHEME = "InvokeAI URL must use http:// or https://"
MSG_NO_HOST = "InvokeAI URL must include a host"
MSG_UNREACHABLE = "Could not reach backend"
MSG_NOT_INVOKEAI = "Server is reachable but doesn't appear to be an InvokeAI backend"
MSG_NOT_CONFIGURED = (
    "InvokeAI backend URL is not configured. Set it in the photomapd settings panel."
)


class ErrorCode(StrEnum):
    INVALID_URL = "invokeai_invalid_url"
    NOT_CONFIGURED = "invokeai_not_configured"
    UNREACHABLE = "invokeai_unreachable"
    NOT_INVOKEAI = "invokeai_not_invokeai"
    AUTH_REQUIRED = "invokeai_auth_required"
    AUTH_FAILED = "invokeai_auth_failed"
    FORBIDDEN = "invokeai_forbidden"
    NOT_SUPPORTED = "invokeai_not_supported"
    REJECTED = "invokeai_rejected"
    UPSTREAM = "invokeai_upstream"
    BAD_REQUEST = "invokeai_bad_request"
    FILE_MISSING = "invokeai_file_missing"
    # InvokeAI's own database (invokeai.db under its root), read without its server:
    DATABASE = "invokeai_database"
    BOARD_NOT_FOUND = "board_not_found"


class InvokeAIError(Exception):
    """Base class: `message` is complete (what happened + what to do) and safe to show."""

    code: ErrorCode = ErrorCode.UPSTREAM
    # HTTP status the photomapd API should answer with for this error.
    http_status: int = 502

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        # status/detail are InvokeAI's own, when the error came from one of its responses.
        self.status = status
        self.detail = detail


class InvalidURLError(InvokeAIError):
    code = ErrorCode.INVALID_URL
    http_status = 400


class NotConfiguredError(InvokeAIError):
    code = ErrorCode.NOT_CONFIGURED
    http_status = 400


class UnreachableError(InvokeAIError):
    code = ErrorCode.UNREACHABLE


class NotInvokeAIError(InvokeAIError):
    code = ErrorCode.NOT_INVOKEAI


class AuthRequiredError(InvokeAIError):
    """Multi-user InvokeAI and no username/password configured."""

    code = ErrorCode.AUTH_REQUIRED


class AuthFailedError(InvokeAIError):
    """InvokeAI refused the configured username/password."""

    code = ErrorCode.AUTH_FAILED


class ForbiddenError(InvokeAIError):
    code = ErrorCode.FORBIDDEN


class NotSupportedError(InvokeAIError):
    """The server's InvokeAI version lacks the feature (the message names the version needed)."""

    code = ErrorCode.NOT_SUPPORTED
    http_status = 409


class RejectedError(InvokeAIError):
    """InvokeAI answered 4xx to a request we built (validation, unknown image, ...)."""

    code = ErrorCode.REJECTED


class UpstreamError(InvokeAIError):
    code = ErrorCode.UPSTREAM


class MissingFileError(InvokeAIError):
    code = ErrorCode.FILE_MISSING
    http_status = 404


class BadRequestError(InvokeAIError):
    """Our caller asked for something invalid (bad queue id, image without metadata, ...)."""

    code = ErrorCode.BAD_REQUEST
    http_status = 400
