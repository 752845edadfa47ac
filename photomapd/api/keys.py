"""Typed keys for the components kept on the aiohttp Application (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from photomapd.albums.service import AlbumService
    from photomapd.components import StatusReport
    from photomapd.config import Config
    from photomapd.events import EventBus
    from photomapd.indexing.pipeline import Pipeline
    from photomapd.invokeai.bridge import InvokeAIBridge
    from photomapd.map.service import MapService
    from photomapd.model.lifecycle import ModelHandle
    from photomapd.search.searcher import Searcher
    from photomapd.store.store import Store

# Typed by annotation, not by a class argument: the route modules that import these keys need
# not import (and so depend on) every component at run time.
CONFIG: web.AppKey[Config] = web.AppKey("config")
STORE: web.AppKey[Store] = web.AppKey("store")
EVENTS: web.AppKey[EventBus] = web.AppKey("events")
PIPELINE: web.AppKey[Pipeline] = web.AppKey("pipeline")
ALBUMS: web.AppKey[AlbumService] = web.AppKey("albums")
SEARCHER: web.AppKey[Searcher] = web.AppKey("searcher")
MAP_SERVICE: web.AppKey[MapService] = web.AppKey("map_service")
BRIDGE: web.AppKey[InvokeAIBridge] = web.AppKey("invokeai_bridge")
MODEL: web.AppKey[ModelHandle] = web.AppKey("model")
STATUS: web.AppKey[StatusReport] = web.AppKey("status")
