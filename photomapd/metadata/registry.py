"""The ordered list of generator parsers and the loop that tries them.

Order matters where files carry several formats: SwarmUI and Stability Matrix also write a
ComfyUI `prompt` chunk, Fooocus and SwarmUI put JSON where A1111 puts infotext, and Draw Things
JPEGs carry A1111-like text in ImageDescription. The most specific signature goes first;
A1111 infotext and Midjourney's free-text description come last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from photomapd.metadata import (
    a1111,
    comfyui,
    drawthings,
    easydiffusion,
    fooocus,
    invokeai,
    midjourney,
    novelai,
    schedulers,
    stabilitymatrix,
    swarmui,
)
from photomapd.metadata.record import empty_summary
from photomapd.metadata.source import Source

logger = logging.getLogger(__name__)

Parser = Callable[[Source], dict[str, Any] | None]

PARSERS: tuple[tuple[str, Parser], ...] = (
    ("invokeai", invokeai.parse),
    ("swarmui", swarmui.parse),
    ("stability_matrix", stabilitymatrix.parse),
    ("novelai", novelai.parse),
    ("fooocus", fooocus.parse),
    ("drawthings", drawthings.parse),
    ("easydiffusion", easydiffusion.parse),
    ("comfyui", comfyui.parse),
    ("a1111", a1111.parse),
    ("midjourney", midjourney.parse),
)


def parse_source(source: Source) -> dict[str, Any]:
    """The first parser that recognises the file wins; a parser that breaks is skipped."""
    for name, parser in PARSERS:
        try:
            summary = parser(source)
        except Exception as error:
            logger.debug("metadata parser %s failed", name, exc_info=True)
            source.warn(f"{name} parser failed on this file ({type(error).__name__}: {error})")
            continue
        if summary is not None:
            if summary["generator"] is not None:
                summary["generator"] = str(summary["generator"])  # plain str, not the enum
            schedulers.normalize(summary)
            return summary
    return empty_summary()
