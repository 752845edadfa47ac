"""Async transport to one InvokeAI server: probe, capabilities, auth, and sending requests.

Only the daemon talks to InvokeAI (the browser never does), so this works across machines.
One instance per (URL, username, password); the API layer replaces it when settings change.
What the requests mean (boards, uploads, recall) lives in gallery.py and recall.py, which use
this client; the client never imports them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from photomapd.invokeai.auth import TokenState
from photomapd.invokeai.capabilities import (
    capabilities_from_openapi,
    capabilities_from_version,
)
from photomapd.invokeai.errors import (
    MSG_NOT_INVOKEAI,
    MSG_UNREACHABLE,
    AuthFailedError,
    InvokeAIError,
    NotInvokeAIError,
    UnreachableError,
    UpstreamError,
)
from photomapd.invokeai.models import ServerStatus
from photomapd.invokeai.redaction import Redactor
from photomapd.invokeai.transport import MAX_BODY_BYTES, Reply, error_for, require_json
from photomapd.invokeai.urls import normalize_base_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from photomapd.invokeai.capabilities import (
        Capabilities,
    )

log = logging.getLogger(__name__)

CONTROL_TIMEOUT = 5.0
LISTING_TIMEOUT = 30.0
CAPABILITY_TTL = 300.0
CAPABILITY_FAILURE_TTL = 30.0
MULTIUSER_DISABLED = "Multiuser mode is disabled"


class InvokeAIClient:
    """All HTTP calls to one InvokeAI server. Methods raise InvokeAIError subclasses."""

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        control_timeout: float = CONTROL_TIMEOUT,
        listing_timeout: float = LISTING_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.username = (username or "").strip() or None
        self._password = password or None
        self.control_timeout = control_timeout
        self.listing_timeout = listing_timeout
        self._monotonic = monotonic
        self._token = TokenState(clock=wall_clock)
        self._login_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._capabilities: tuple[float, Capabilities] | None = None
        self._multiuser: bool | None = None
        # The version from the last successful probe, for messages ("this server runs 6.11").
        self.last_version: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> InvokeAIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def has_credentials(self) -> bool:
        return bool(self.username and self._password)

    def __repr__(self) -> str:  # never shows the password
        return f"InvokeAIClient({self.base_url!r}, username={self.username!r})"

    # -- raw exchange ----------------------------------------------------------------------

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        timeout: float | None = None,
        token: str | None = None,
    ) -> Reply:
        """One request with an explicit token (or none); network failures -> UnreachableError."""
        session = self._ensure_session()
        redact = Redactor((self._password, token, self._token.token))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if form is not None:
            # A fresh FormData per attempt: aiohttp refuses to send one twice.
            kwargs["data"] = form()
        kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout or self.control_timeout)
        try:
            async with session.request(method, self.base_url + path, **kwargs) as response:
                body = await _read_body(response)
                return Reply(response.status, response.headers, body, redact)
        except TimeoutError as exc:
            raise UnreachableError(
                f"{MSG_UNREACHABLE}: {self.base_url} did not answer {method} {path} in "
                f"{kwargs['timeout'].total:g} s.",
            ) from exc
        except aiohttp.ClientError as exc:
            # aiohttp's text may quote what the server sent (a malformed header line).
            raise UnreachableError(
                f"{MSG_UNREACHABLE}: {redact(str(exc))}. Check that InvokeAI is running at "
                f"{self.base_url} and that the port is right."
            ) from exc

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """`send` with InvokeAI's auth dance.

        Token reused while fresh; on 401 with credentials, log in once and retry; on 403 while a
        token was sent, retry anonymously (a server switched back to single-user mode) and keep
        the 403 when the anonymous try is refused.
        """
        token = await self._token_for_request()
        reply = await self.send(method, path, token=token, **kwargs)
        if reply.status == 401 and self.has_credentials:
            self._token.clear()
            token = await self.login()
            reply = await self.send(method, path, token=token, **kwargs)
        elif reply.status == 403 and token:
            anonymous = await self.send(method, path, token=None, **kwargs)
            if anonymous.status not in (401, 403):
                log.info("InvokeAI at %s accepted the request without a token", self.base_url)
                self._token.clear()
                self._multiuser = False
                reply = anonymous
        refreshed = reply.headers.get("X-Refreshed-Token")
        if refreshed and reply.status < 400:
            self._token.refresh(refreshed)
        return reply

    async def get_json(self, path: str, *, what: str, **kwargs: Any) -> Any:
        reply = await self.request("GET", path, **kwargs)
        if reply.status >= 300:
            raise error_for(reply, what=what, has_credentials=self.has_credentials)
        return require_json(reply, what=what)

    # -- probe -------------------------------------------------------------------------------

    async def version(self) -> str:
        """InvokeAI's version; raises UnreachableError or NotInvokeAIError."""
        reply = await self.send("GET", "/api/v1/app/version")
        data = reply.json()
        version = data.get("version") if isinstance(data, dict) else None
        if reply.status != 200 or not isinstance(version, str) or not version.strip():
            log.info(
                "%s is not InvokeAI: /api/v1/app/version gave HTTP %s %s",
                self.base_url,
                reply.status,
                reply.header("Content-Type", "without a content type"),
            )
            raise NotInvokeAIError(MSG_NOT_INVOKEAI, status=reply.status)
        self.last_version = version.strip()
        return self.last_version

    async def is_multiuser(self) -> bool:
        """From `/api/v1/auth/status` (>= 6.12); older servers have no such route -> False."""
        if self._multiuser is None:
            reply = await self.send("GET", "/api/v1/auth/status")
            data = reply.json() if reply.status == 200 else None
            self._multiuser = bool(isinstance(data, dict) and data.get("multiuser_enabled"))
        return self._multiuser

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        now = self._monotonic()
        if not refresh and self._capabilities and now < self._capabilities[0]:
            return self._capabilities[1]
        version = await self.version()
        found: Capabilities | None = None
        try:
            reply = await self.send("GET", "/openapi.json", timeout=self.listing_timeout)
            found = capabilities_from_openapi(reply.json()) if reply.status == 200 else None
        except UnreachableError:
            found = None
        ttl = CAPABILITY_TTL if found is not None else CAPABILITY_FAILURE_TTL
        result = found if found is not None else capabilities_from_version(version)
        self._capabilities = (now + ttl, result)
        return result

    async def status(self) -> ServerStatus:
        """Everything the settings panel shows; never raises."""
        try:
            version = await self.version()
            caps = await self.capabilities()
            multiuser = await self.is_multiuser()
        except InvokeAIError as exc:
            return ServerStatus(url=self.base_url, reachable=False, detail=exc.message)
        authenticated: bool | None = None
        detail: str | None = None
        if multiuser:
            try:
                authenticated = bool(await self.login()) if self.has_credentials else False
            except InvokeAIError as exc:
                authenticated, detail = False, exc.message
            if not self.has_credentials:
                detail = (
                    "InvokeAI runs in multi-user mode: enter your InvokeAI username (e-mail) "
                    "and password."
                )
        return ServerStatus(
            url=self.base_url,
            reachable=True,
            version=version,
            multiuser=multiuser,
            capabilities=caps,
            detail=detail,
            authenticated=authenticated,
        )

    # -- auth --------------------------------------------------------------------------------

    async def login(self) -> str | None:
        """Log in (multi-user mode) and return the token; None when the server is single-user."""
        async with self._login_lock:
            usable = self._token.usable()
            if usable:
                return usable
            reply = await self.send(
                "POST",
                "/api/v1/auth/login",
                json_body={"email": self.username or "", "password": self._password or ""},
            )
            data = reply.json()
            if reply.status == 200 and isinstance(data, dict) and data.get("token"):
                self._token.set_from_login(str(data["token"]), data.get("expires_in"))
                self._multiuser = True
                return self._token.token
            detail = reply.detail()
            if reply.status == 403 and MULTIUSER_DISABLED in detail:
                self._multiuser = False
                return None
            raise AuthFailedError(
                _login_failure_message(reply.status, detail), status=reply.status, detail=detail
            )

    async def _token_for_request(self) -> str | None:
        if not self.has_credentials:
            return None
        usable = self._token.usable()
        if usable:
            return usable
        if not await self.is_multiuser():
            return None
        return await self.login()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No cookie jar: 6.14 sets a media cookie we never want to send implicitly.
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._session


async def _read_body(response: aiohttp.ClientResponse) -> bytes:
    """The whole body (a single read() may return one chunk only), refusing absurd sizes."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise UpstreamError(
                f"InvokeAI sent more than {MAX_BODY_BYTES // (1024 * 1024)} MB for "
                f"{response.method} {response.url.path}; refusing to read it."
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _login_failure_message(status: int, detail: str) -> str:
    if status == 422:
        return (
            f"InvokeAI authentication failed (422): {detail}. The InvokeAI username is the "
            "e-mail address you log in to InvokeAI with."
        )
    return (
        f"InvokeAI authentication failed ({status}): {detail}. Check the InvokeAI username "
        "and password in settings."
    )
