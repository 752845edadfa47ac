"""Security by default: Host check (DNS rebinding), Origin check (CSRF), token in LAN mode."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from urllib.parse import urlsplit

from aiohttp import web

from photomapd.api.errors import error_response

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
TOKEN_COOKIE = "photomapd_token"


def is_loopback_name(host: str) -> bool:
    """localhost or a loopback IP address; a DNS name like "127.evil.example" is not one."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_lan_mode(host: str) -> bool:
    return not is_loopback_name(host)


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def _is_loopback_peer(request: web.Request) -> bool:
    peer = request.remote or ""
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def security_middleware(bound_host: str, token: str | None):  # type: ignore[no-untyped-def]
    lan_mode = is_lan_mode(bound_host)

    @web.middleware
    async def middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
        host = _host_name(request.headers.get("Host", ""))
        if not lan_mode and host != bound_host and not is_loopback_name(host):
            # A browser tricked by DNS rebinding sends the attacker's name here.
            return error_response(
                403,
                "forbidden_host",
                f"Host {host!r} is not allowed; open the UI at http://127.0.0.1 or localhost",
            )
        if request.method not in SAFE_METHODS and not _same_origin(request):
            return error_response(
                403,
                "cross_origin_write",
                "cross-origin write refused; use the photomapd page itself",
            )
        # A page on this machine may skip the token only under a loopback name: a DNS-rebinding
        # page (evil.example resolving to 127.0.0.1) also arrives from a loopback peer.
        if lan_mode and token and not (_is_loopback_peer(request) and is_loopback_name(host)):
            response = _check_token(request, token)
            if response is not None:
                return response
        return await handler(request)

    return middleware


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        # No Origin: not a browser page (curl, the CLI) unless the fetch metadata says otherwise.
        site = request.headers.get("Sec-Fetch-Site")
        return site in (None, "same-origin", "none") and origin is None
    return urlsplit(origin).netloc == request.headers.get("Host", "")


def _check_token(request: web.Request, token: str) -> web.StreamResponse | None:
    given = (
        request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        or request.query.get("token", "")
        or request.cookies.get(TOKEN_COOKIE, "")
    )
    if given and hmac.compare_digest(given, token):
        if (
            request.query.get("token")
            and request.method == "GET"
            and not request.path.startswith("/api/")
        ):
            # First visit with ?token=: keep it in a cookie and drop it from the address bar.
            response = web.HTTPFound(request.rel_url.with_query(None))
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
            raise response
        return None
    return error_response(
        401, "token_required", "LAN mode: open the URL with ?token=<token> printed at start-up"
    )
