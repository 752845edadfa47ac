"""The HTTP side: aiohttp app, JSON API routes, security middleware, the event stream."""
