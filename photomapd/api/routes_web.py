"""The browser UI: files from web/ (or the wheel's copy), and a minimal live page at /minimal."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from photomapd.api.errors import NotFound

MINIMAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>photomapd</title>
<style>body{background:#1b1c20;color:#ddd;font:14px system-ui;margin:1rem}
#grid{display:flex;flex-wrap:wrap;gap:4px}#grid img{width:128px;height:128px;object-fit:cover}
#state{color:#9ab}</style></head>
<body><h1>photomapd</h1><p id="state">connecting…</p><div id="grid"></div>
<script type="module">
const grid = document.getElementById("grid"), state = document.getElementById("state");
function tile(image, first) {
  if (document.getElementById("img-" + image.id)) return;
  const img = document.createElement("img");
  img.id = "img-" + image.id; img.alt = image.name; img.title = image.path;
  img.src = image.thumbnail_url; img.loading = "lazy";
  first ? grid.prepend(img) : grid.append(img);
}
const page = await (await fetch("/api/albums/all/images?limit=200")).json();
page.items.forEach(image => tile(image, false));
const events = new EventSource("/api/events");
events.onopen = () => { state.textContent = "live: new images appear here as they are indexed"; };
events.onerror = () => { state.textContent = "reconnecting…"; };
events.addEventListener("image_added", e => tile(JSON.parse(e.data).image, true));
events.addEventListener("image_removed", e => document.getElementById("img-" + JSON.parse(e.data).id)?.remove());
</script></body></html>
"""


def web_root() -> Path | None:
    """web/ next to the package in a checkout, or photomapd/_web inside an installed wheel."""
    packaged = resources.files("photomapd") / "_web"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "web"
    return checkout if checkout.is_dir() else None


async def minimal_page(request: web.Request) -> web.Response:
    return web.Response(text=MINIMAL_PAGE, content_type="text/html")


def make_static_handler(root: Path | None):  # type: ignore[no-untyped-def]
    async def static_file(request: web.Request) -> web.StreamResponse:
        relative = request.match_info.get("path", "") or "index.html"
        if root is None:
            if relative == "index.html":
                raise web.HTTPFound("/minimal")
            raise NotFound("not_found", f"no such page: /{relative}")
        target = (root / relative).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            if relative == "index.html":
                raise web.HTTPFound("/minimal")
            raise NotFound("not_found", f"no such page: /{relative}")
        response = web.FileResponse(target)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return static_file


def setup(app: web.Application) -> None:
    app.router.add_get("/minimal", minimal_page)
    app.router.add_get("/{path:(?!api/).*}", make_static_handler(web_root()))
