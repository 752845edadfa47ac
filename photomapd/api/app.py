"""The aiohttp application: the daemon's components on typed keys, middleware, every route."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from photomapd.api import (
    keys,
    routes_albums,
    routes_images,
    routes_invokeai,
    routes_map,
    routes_metadata,
    routes_search,
    routes_status,
    routes_ui,
    routes_web,
)
from photomapd.api.errors import error_middleware
from photomapd.api.security import security_middleware

if TYPE_CHECKING:
    from photomapd.components import Components


def create_app(components: Components) -> web.Application:
    """Serves what the daemon built; the web layer builds, starts and stops no component."""
    config = components.config
    app = web.Application(
        middlewares=[security_middleware(config.host, config.token), error_middleware],
        client_max_size=64 * 1024 * 1024,
    )
    app[keys.CONFIG] = config
    app[keys.STORE] = components.store
    app[keys.EVENTS] = components.events
    app[keys.PIPELINE] = components.pipeline
    app[keys.ALBUMS] = components.albums
    app[keys.SEARCHER] = components.searcher
    app[keys.MAP_SERVICE] = components.map_service
    app[keys.BRIDGE] = components.invokeai
    app[keys.MODEL] = components.model
    app[keys.STATUS] = components.status
    add_routes(app)
    return app


# Route modules in the order they are added; routes_web goes last (add_routes).
ROUTE_MODULES = (
    routes_status,
    routes_albums,
    routes_images,
    routes_search,
    routes_metadata,
    routes_invokeai,
    routes_map,
    routes_ui,
)


def add_routes(app: web.Application) -> None:
    """Every route; alone (no components), it is enough to build the OpenAPI document."""
    for module in ROUTE_MODULES:
        module.setup(app)
    routes_web.setup(app)  # last: its catch-all must not shadow /api routes
