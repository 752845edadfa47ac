"""The aiohttp application: components on typed keys, middleware, and every route module."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from photomapd.api import (
    keys,
    routes_albums,
    routes_images,
    routes_search,
    routes_status,
    routes_web,
)
from photomapd.api.errors import error_middleware
from photomapd.api.security import security_middleware

if TYPE_CHECKING:
    from photomapd.daemon import Daemon

log = logging.getLogger(__name__)

# Feature areas that plug in their own routes; missing ones are skipped so each can land alone.
OPTIONAL_ROUTE_MODULES = (
    "photomapd.api.routes_metadata",
    "photomapd.api.routes_invokeai",
    "photomapd.api.routes_map",
    "photomapd.api.routes_ui",
)


def create_app(daemon: Daemon) -> web.Application:
    app = web.Application(
        middlewares=[
            security_middleware(daemon.config.host, daemon.config.token),
            error_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[keys.DAEMON] = daemon
    app[keys.CONFIG] = daemon.config
    app[keys.STORE] = daemon.store
    app[keys.EVENTS] = daemon.events
    app[keys.PIPELINE] = daemon.pipeline
    app[keys.ALBUMS] = daemon.albums
    app[keys.SEARCHER] = daemon.searcher
    for module in (routes_status, routes_albums, routes_images, routes_search):
        module.setup(app)
    for name in OPTIONAL_ROUTE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.setup(app)
    routes_web.setup(app)  # last: its catch-all must not shadow /api routes
    return app
