"""Probe, capabilities and status against the fake server of each InvokeAI era."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from photomapd.invokeai.capabilities import Capabilities
from photomapd.invokeai.errors import NotInvokeAIError, UnreachableError
from photomapd.invokeai.gallery import list_boards
from tests.invokeai.conftest import VERSIONS

EXPECTED = {
    "3.6.3": Capabilities(source="openapi"),
    "5.6.0": Capabilities(source="openapi"),
    "6.11.1": Capabilities(source="openapi"),
    "6.12.0": Capabilities(recall=True, source="openapi"),
    "6.13.5": Capabilities(True, True, True, True, source="openapi"),
    "6.14.2": Capabilities(True, True, True, True, source="openapi"),
}


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_reports_version_and_capabilities(
    version, fake_factory, client_factory
) -> None:
    fake = await fake_factory(version)
    client = client_factory(fake.url + "/")
    status = await client.status()
    assert status.reachable and status.detail is None
    assert status.version == version
    assert status.multiuser is False
    assert status.capabilities == EXPECTED[version]


async def test_capabilities_fall_back_to_the_version_without_openapi(
    fake_factory, client_factory
) -> None:
    fake = await fake_factory("6.13.5")
    fake.routes = [r for r in fake.routes if r.pattern.pattern != "/openapi\\.json"]
    caps = await client_factory(fake.url).capabilities()
    # 6.13.5 answers the missing path with the SPA's HTML; the version decides instead.
    assert caps == Capabilities(True, True, True, True, source="version")


async def test_capabilities_are_cached_briefly(fake_factory, client_factory) -> None:
    clock = [1000.0]
    fake = await fake_factory("6.14.2")
    client = client_factory(fake.url, monotonic=lambda: clock[0])
    await client.capabilities()
    await client.capabilities()
    openapi_calls = [r for r in fake.requests if r["path"] == "/openapi.json"]
    assert len(openapi_calls) == 1
    clock[0] += 301
    await client.capabilities()
    assert len([r for r in fake.requests if r["path"] == "/openapi.json"]) == 2


async def test_unreachable_server_gives_could_not_reach_backend(client_factory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_factory(f"http://127.0.0.1:{port}")
    status = await client.status()
    assert not status.reachable
    assert status.detail.startswith("Could not reach backend")
    with pytest.raises(UnreachableError):
        await client.version()


@pytest.fixture
async def other_service():
    """A web server that is not InvokeAI: 200 HTML everywhere, like many dashboards."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>router admin</html>", content_type="text/html")

    async def json_but_not_invokeai(request: web.Request) -> web.Response:
        return web.json_response({"name": "something else"})

    app = web.Application()
    app.router.add_get("/api/v1/app/version", json_but_not_invokeai)
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    await runner.cleanup()


async def test_other_service_is_not_mistaken_for_invokeai(other_service, client_factory) -> None:
    status = await client_factory(other_service).status()
    assert not status.reachable
    assert status.detail == "Server is reachable but doesn't appear to be an InvokeAI backend"


async def test_spa_html_200_is_not_a_version(fake_factory, client_factory) -> None:
    """A >= 6.12 server under a sub-path answers the version probe with index.html and 200."""
    fake = await fake_factory("6.14.2")
    client = client_factory(fake.url + "/not-the-root")
    with pytest.raises(NotInvokeAIError) as caught:
        await client.version()
    assert caught.value.message == (
        "Server is reachable but doesn't appear to be an InvokeAI backend"
    )


async def test_invokeai_2x_without_rest_api_is_not_invokeai(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.11.1")
    fake.routes = [r for r in fake.routes if "version" not in r.pattern.pattern]
    status = await client_factory(fake.url).status()
    assert status.detail == "Server is reachable but doesn't appear to be an InvokeAI backend"


@pytest.mark.parametrize("version", ["6.12.0", "6.13.5", "6.14.2"])
async def test_multiuser_detected_from_auth_status(version, fake_factory, client_factory) -> None:
    fake = await fake_factory(version, multiuser=True)
    status = await client_factory(fake.url).status()
    assert status.multiuser is True
    assert status.authenticated is False
    assert "multi-user mode" in status.detail


async def test_large_openapi_document_is_read_whole(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    fake.openapi_padding = 8000  # about 2 MB, like the real 6.14 schema
    caps = await client_factory(fake.url).capabilities()
    assert caps.source == "openapi" and caps.append


async def test_a_404_web_page_is_not_invokeai_and_never_dumped_into_messages(
    client_factory,
) -> None:
    """Python's http.server (any web server) answers InvokeAI's routes with an HTML 404 page: the
    boards listing said "InvokeAI backend returned 404 ...: <!DOCTYPE HTML>..."."""

    async def missing(request: web.Request) -> web.Response:
        page = "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1></body></html>"
        return web.Response(status=404, text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        with pytest.raises(NotInvokeAIError) as caught:
            await list_boards(client_factory(url))
        message = caught.value.message
        assert message.startswith("Server is reachable but doesn't appear to be an InvokeAI")
        assert "<" not in message and "HTTP 404 with a web page" in message
        assert "Check the InvokeAI URL and port" in message
    finally:
        await runner.cleanup()
