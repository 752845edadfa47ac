"""The file behind an image row, as the API may read or serve it: a path that leads through a
symlink outside every album folder is refused unless its album follows links (the rule indexing
keeps too), even for a row written before the link appeared."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photomapd.api import keys
from photomapd.api.errors import Forbidden

if TYPE_CHECKING:
    from aiohttp import web

    from photomapd.intake.links import LinkGuard


async def servable_file(request: web.Request, row: dict[str, Any]) -> Path:
    path = Path(row["path"])
    problem = await asyncio.to_thread(link_guard(request).refusal, row["album"], path)
    if problem is not None:
        raise Forbidden("link_not_followed", problem.reason)
    return path


def link_guard(request: web.Request) -> LinkGuard:
    return request.app[keys.ALBUMS].links
