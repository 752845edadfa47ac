"""The typed record of the daemon's components that the web app serves from.

daemon.py builds every component (the composition root) and hands this record to
`create_app`; the web layer builds nothing of its own, so each component has one owner that
starts and stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from photomapd.albums.service import AlbumService
    from photomapd.config import Config
    from photomapd.events import EventBus
    from photomapd.indexing.pipeline import Pipeline
    from photomapd.invokeai.bridge import InvokeAIBridge
    from photomapd.map.service import MapService
    from photomapd.model.lifecycle import ModelHandle
    from photomapd.search.searcher import Searcher
    from photomapd.store.store import Store


class StatusReport(Protocol):
    """What /api/status and the event stream's first message report (the Daemon answers)."""

    async def status(self) -> dict[str, Any]: ...

    def model_status(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Components:
    config: Config
    events: EventBus
    store: Store
    model: ModelHandle
    pipeline: Pipeline
    albums: AlbumService
    searcher: Searcher
    map_service: MapService
    invokeai: InvokeAIBridge
    status: StatusReport
