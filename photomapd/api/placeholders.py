"""Placeholder thumbnails: what /api/images/{id}/thumbnail answers for an image that has no
picture to show yet (still being indexed) or never will (indexing failed), so every client (the
gallery, the map's hover card, scripts) gets an intentional image instead of a broken one."""

from __future__ import annotations

from enum import StrEnum
from html import escape

from aiohttp import web

PLACEHOLDER_HEADER = "X-Photomapd-Placeholder"


class Placeholder(StrEnum):
    UNREADABLE = "unreadable"  # status "error": the file could not be decoded
    PENDING = "pending"  # not indexed yet and no thumbnail can be made right now


# Same stroke icons as web/js/icons.js (image with a slash; hourglass-like clock).
_ICONS = {
    Placeholder.UNREADABLE: (
        '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/>'
        '<path d="M21 17l-5-5-9 8"/><path d="M3 3l18 18"/>'
    ),
    Placeholder.PENDING: '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
}
_LABELS = {Placeholder.UNREADABLE: "can't read", Placeholder.PENDING: "indexing…"}
_COLOURS = {Placeholder.UNREADABLE: "#f0625a", Placeholder.PENDING: "#f0b429"}


def placeholder_svg(kind: Placeholder) -> str:
    """A 256-px square SVG in the UI's dark theme: an icon over a short label."""
    colour = _COLOURS[kind]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
        '<rect width="256" height="256" fill="#1b1e23"/>'
        f'<g transform="translate(88 64) scale(3.333)" fill="none" stroke="{colour}" '
        f'stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">{_ICONS[kind]}</g>'
        f'<text x="128" y="186" fill="{colour}" font-family="system-ui, sans-serif" '
        f'font-size="22" text-anchor="middle">{escape(_LABELS[kind])}</text></svg>'
    )


def placeholder_response(kind: Placeholder) -> web.Response:
    """200 with the SVG, never cached: the real thumbnail replaces it once the file is readable."""
    return web.Response(
        text=placeholder_svg(kind),
        content_type="image/svg+xml",
        headers={"Cache-Control": "no-store", PLACEHOLDER_HEADER: str(kind)},
    )
