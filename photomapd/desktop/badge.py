"""What the tray shows: the badge image per daemon state and the one-line status text.

Pure functions (Pillow only), so they are tested without a display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from photomapd.desktop.control import DaemonState
from photomapd.model.lifecycle import ModelState

if TYPE_CHECKING:
    from photomapd.desktop.control import DaemonStatus

APP_NAME = "PhotoMap"

STATE_COLOURS = {
    DaemonState.IDLE: (46, 125, 50),
    DaemonState.INDEXING: (21, 101, 192),
    DaemonState.PAUSED: (117, 117, 117),
    DaemonState.ERROR: (198, 40, 40),
}


def draw_icon(state: str, size: int = 64) -> Image.Image:
    """A round badge in the state's colour with a glyph, readable at 16 px as well as 64 px."""
    known = state if state in STATE_COLOURS else DaemonState.ERROR
    colour = STATE_COLOURS[DaemonState(known)]
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 16
    draw.ellipse((0, 0, size - 1, size - 1), fill=(*colour, 255))
    white = (255, 255, 255, 255)
    if known == DaemonState.IDLE:  # a map pin: the gallery is a map
        draw.ellipse((5 * unit, 3 * unit, 11 * unit, 9 * unit), fill=white)
        draw.polygon(
            [(5.4 * unit, 7.5 * unit), (10.6 * unit, 7.5 * unit), (8 * unit, 13 * unit)], fill=white
        )
        draw.ellipse((6.8 * unit, 4.8 * unit, 9.2 * unit, 7.2 * unit), fill=(*colour, 255))
    elif known == DaemonState.INDEXING:  # three dots: work in progress
        for x in (4, 8, 12):
            draw.ellipse(((x - 1.5) * unit, 6.5 * unit, (x + 1.5) * unit, 9.5 * unit), fill=white)
    elif known == DaemonState.PAUSED:  # two bars
        draw.rectangle((5 * unit, 4 * unit, 7 * unit, 12 * unit), fill=white)
        draw.rectangle((9 * unit, 4 * unit, 11 * unit, 12 * unit), fill=white)
    else:  # an exclamation mark
        draw.rectangle((7 * unit, 3 * unit, 9 * unit, 9.5 * unit), fill=white)
        draw.rectangle((7 * unit, 11 * unit, 9 * unit, 13 * unit), fill=white)
    return image


def status_line(status: DaemonStatus) -> str:
    """One line for the menu and tooltip, e.g. "Indexing 12 of 340"."""
    state, queued, done = status["state"], status["queued"], status["done"]
    if state == DaemonState.ERROR:
        message = status.get("message") or "see the logs"
        return f"Error: {message}"[:80]
    if state == DaemonState.PAUSED:
        return (
            f"Paused — {queued:,} waiting"
            if queued
            else f"Paused — {status['total_images']:,} images"
        )
    if status["model_state"] == ModelState.UNAVAILABLE:
        return f"Model unavailable — {queued:,} waiting" if queued else "Model unavailable"
    if state == DaemonState.INDEXING:
        return f"Indexing {done:,} of {done + queued:,}"
    return f"Up to date — {status['total_images']:,} images"


def tooltip(status: DaemonStatus) -> str:
    return f"{APP_NAME}: {status_line(status)}"
