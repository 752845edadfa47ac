"""Security by default: Host check (DNS rebinding), Origin and Referer check (CSRF), LAN token."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from aiohttp import web

from photomapd.api.errors import error_response

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
TOKEN_COOKIE = "photomapd_token"
# What a Host header may be: a name or IPv4 address, or a bracketed IPv6 address, then an optional
# port. Anything else (userinfo as in "127.0.0.1:8050@evil", paths, spaces) is not a host we serve.
_HOST_HEADER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::[0-9]{1,5})?")


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
    """The name part of a Host header, lower-cased: host names are case-insensitive."""
    host_header = host_header.lower()
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def _is_well_formed_host(host_header: str) -> bool:
    return _HOST_HEADER.fullmatch(host_header) is not None


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
        host_header = request.headers.get("Host", "")
        if host_header and not _is_well_formed_host(host_header):
            # Userinfo or other junk: "127.0.0.1:8050@evil" must not pass as 127.0.0.1.
            return error_response(
                403,
                "forbidden_host",
                f"Host {host_header!r} is not a host name with an optional port; "
                "open the UI at http://127.0.0.1 or localhost",
            )
        host = _host_name(host_header)
        if not lan_mode and host != bound_host and not is_loopback_name(host):
            # A browser tricked by DNS rebinding sends the attacker's name here.
            return error_response(
                403,
                "forbidden_host",
                f"Host {host!r} is not allowed; open the UI at http://127.0.0.1 or localhost",
            )
        if request.method not in SAFE_METHODS:
            refusal = _cross_site_refusal(request)
            if refusal is not None:
                return error_response(403, "cross_origin_write", refusal)
        # A page on this machine may skip the token only under a loopback name: a DNS-rebinding
        # page (evil.example resolving to 127.0.0.1) also arrives from a loopback peer.
        if lan_mode and token and not (_is_loopback_peer(request) and is_loopback_name(host)):
            response = _check_token(request, token)
            if response is not None:
                return response
        return await handler(request)

    return middleware


def _cross_site_refusal(request: web.Request) -> str | None:
    """Why a state-changing request looks like it came from another site; None when it did not."""
    advice = "use the photomapd page itself, or send the request without a browser (curl, the CLI)"
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin == "null" or not _is_this_host(origin, request):
            return f"cross-origin write from {_site(origin)} refused; {advice}"
        return None
    # No Origin: not a browser page (curl, the CLI) unless the fetch metadata or the Referer says
    # otherwise; some browsers and older clients send a Referer but no Origin on a form post.
    if request.headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        return f"cross-site write refused; {advice}"
    referer = request.headers.get("Referer")
    if referer is not None and not _is_this_host(referer, request):
        return f"cross-site write from a page on {_site(referer)} refused; {advice}"
    return None


def _is_this_host(url: str, request: web.Request) -> bool:
    """Whether an Origin or Referer URL names the host and port this request was sent to."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or "@" in netloc:
        return False
    return netloc == request.headers.get("Host", "").lower()


def _site(url: str) -> str:
    """Scheme and host of a URL, for a message: a Referer's path and query may hold anything."""
    try:
        parts = urlsplit(url)
        return repr(f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else url[:80])
    except ValueError:
        return repr(url[:80])


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
