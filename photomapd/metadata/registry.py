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

from photomapd.metadata.a1111 import parse as parse_a1111
from photomapd.metadata.comfyui import parse as parse_comfyui
from photomapd.metadata.drawthings import parse as parse_drawthings
from photomapd.metadata.easydiffusion import parse as parse_easydiffusion
from photomapd.metadata.fooocus import parse as parse_fooocus
from photomapd.metadata.invokeai import parse as parse_invokeai
from photomapd.metadata.midjourney import parse as parse_midjourney
from photomapd.metadata.novelai import parse as parse_novelai
from photomapd.metadata.record import empty_summary
from photomapd.metadata.schedulers import normalize as normalize_scheduler
from photomapd.metadata.source import Source
from photomapd.metadata.stabilitymatrix import parse as parse_stabilitymatrix
from photomapd.metadata.swarmui import parse as parse_swarmui

logger = logging.getLogger(__name__)

Parser = Callable[[Source], dict[str, Any] | None]

PARSERS: tuple[tuple[str, Parser], ...] = (
    ("invokeai", parse_invokeai),
    ("swarmui", parse_swarmui),
    ("stability_matrix", parse_stabilitymatrix),
    ("novelai", parse_novelai),
    ("fooocus", parse_fooocus),
    ("drawthings", parse_drawthings),
    ("easydiffusion", parse_easydiffusion),
    ("comfyui", parse_comfyui),
    ("a1111", parse_a1111),
    ("midjourney", parse_midjourney),
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
            normalize_scheduler(summary)
            return summary
    return empty_summary()
