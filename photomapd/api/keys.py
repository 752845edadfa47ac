"""Typed keys for the components kept on the aiohttp Application (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from photomapd.albums.service import AlbumService
from photomapd.config import Config
from photomapd.events import EventBus
from photomapd.indexing.pipeline import Pipeline
from photomapd.search.searcher import Searcher
from photomapd.store.store import Store

if TYPE_CHECKING:
    from photomapd.daemon import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")
CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
EVENTS = web.AppKey("events", EventBus)
PIPELINE = web.AppKey("pipeline", Pipeline)
ALBUMS = web.AppKey("albums", AlbumService)
SEARCHER = web.AppKey("searcher", Searcher)
