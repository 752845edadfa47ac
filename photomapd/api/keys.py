"""Typed keys for the components kept on the aiohttp Application (no module globals)."""

from __future__ import annotations

from aiohttp import web

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

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
EVENTS = web.AppKey("events", EventBus)
PIPELINE = web.AppKey("pipeline", Pipeline)
ALBUMS = web.AppKey("albums", AlbumService)
SEARCHER = web.AppKey("searcher", Searcher)
MAP_SERVICE = web.AppKey("map_service", MapService)
BRIDGE = web.AppKey("invokeai_bridge", InvokeAIBridge)
MODEL: web.AppKey[ModelHandle] = web.AppKey("model")
STATUS: web.AppKey[StatusReport] = web.AppKey("status")
