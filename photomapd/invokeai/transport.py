"""One HTTP exchange with InvokeAI, read fully, plus turning its error answers into our errors.

Every piece of InvokeAI's text that goes into a message passes the reply's Redactor first, so a
server that echoes the password or the token back never makes us show or log it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from photomapd.invokeai.errors import (
    MSG_NOT_INVOKEAI,
    AuthFailedError,
    AuthRequiredError,
    ForbiddenError,
    NotInvokeAIError,
    RejectedError,
    UpstreamError,
)
from photomapd.invokeai.redaction import Redactor

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

    from photomapd.invokeai.errors import (
        InvokeAIError,
    )

# Largest body we read: the 6.14 OpenAPI document is 1.7 MB; nothing legitimate is near this.
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str] | CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes = b""
    # Knows the password and tokens the request could have revealed; the client sets it.
    redact: Redactor = field(default_factory=Redactor)

    @property
    def is_json(self) -> bool:
        # >= 6.12 answers unknown GETs with the web UI's index.html and a 200: only the content
        # type tells a real API answer apart.
        ctype = self.headers.get("Content-Type", "")
        return ctype.split(";")[0].strip().lower() == "application/json"

    def json(self) -> Any:
        """The parsed body, or None when it is not JSON."""
        if not self.is_json:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def detail(self) -> str:
        """FastAPI's error `detail`, flattened to one line, with any echoed secret masked."""
        return self.redact(self._raw_detail())

    def header(self, name: str, default: str) -> str:
        """A header's value for a message, with any echoed secret masked."""
        return self.redact(self.headers.get(name, default))

    def _raw_detail(self) -> str:
        data = self.json()
        detail = data.get("detail") if isinstance(data, dict) else None
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            return "; ".join(_validation_item(item) for item in detail)
        if self._is_html():
            return f"HTTP {self.status} with a web page instead of InvokeAI's JSON"
        # Masked before it is cut: a cut through the password would no longer match it.
        text = self.redact(self.body[:65_536].decode("utf-8", "replace")).strip()[:200]
        return text or f"HTTP {self.status}"

    def _is_html(self) -> bool:
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return ctype == "text/html" or self.body.lstrip()[:1] == b"<"


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    location = ".".join(str(part) for part in item.get("loc", []))
    return f"{location}: {item.get('msg', 'invalid')}" if location else str(item.get("msg"))


def error_for(reply: Reply, *, what: str, has_credentials: bool) -> InvokeAIError:
    """The error to raise for a non-2xx reply to `what` (e.g. "listing boards")."""
    detail = reply.detail()
    if reply.status in (404, 405) and not reply.is_json:
        # InvokeAI's API answers unknown routes with FastAPI's JSON; a bare 404 page means the
        # URL points at another program (or a sub-path of one).
        return NotInvokeAIError(
            f"{MSG_NOT_INVOKEAI} ({detail} while {what}). Check the InvokeAI URL and port "
            "in settings.",
            status=reply.status,
            detail=detail,
        )
    if reply.status == 401:
        if not has_credentials:
            return AuthRequiredError(
                "InvokeAI is running in multi-user mode and asked to log in "
                f"({detail}). Enter your InvokeAI username (the e-mail you log in with) "
                "and password in the InvokeAI settings.",
                status=401,
                detail=detail,
            )
        return AuthFailedError(
            f"InvokeAI authentication failed (401): {detail}. Check the InvokeAI username "
            "and password in settings.",
            status=401,
            detail=detail,
        )
    if reply.status == 403:
        return ForbiddenError(f"InvokeAI refused {what} (403): {detail}", status=403, detail=detail)
    if 400 <= reply.status < 500:
        return RejectedError(
            f"InvokeAI backend returned {reply.status} while {what}: {detail[:200]}",
            status=reply.status,
            detail=detail,
        )
    return UpstreamError(
        f"InvokeAI backend returned {reply.status} while {what}: {detail[:200]}",
        status=reply.status,
        detail=detail,
    )


def require_json(reply: Reply, *, what: str) -> Any:
    data = reply.json()
    if data is None:
        raise UpstreamError(
            f"InvokeAI did not answer {what} with JSON (HTTP {reply.status}, "
            f"{reply.header('Content-Type', 'no content type')}). Is the URL the InvokeAI "
            "server itself and is it recent enough?",
            status=reply.status,
        )
    return data
