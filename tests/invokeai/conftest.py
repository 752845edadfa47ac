"""Fixtures: fake InvokeAI servers per version, and (opt-in) real ones from invokeai-peer.sh."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from photomapd.invokeai.client import InvokeAIClient
from tests.conftest import SHARED
from tests.invokeai.fake_server import FakeInvokeAI
from tests.invokeai.peers import FakePeer, LivePeer, Peer

# One per InvokeAI era the bridge must handle: 3.x and 5.x (no recall, no auth), 6.11 (last
# without recall; SPA-less 404s), 6.12 (recall, multi-user, SPA fallback), 6.13.5 (strict,
# reference images, append, refreshed tokens), 6.14.2 (media auth).
VERSIONS = ["3.6.3", "5.6.0", "6.11.1", "6.12.0", "6.13.5", "6.14.2"]
MULTIUSER_VERSIONS = ["6.12.0", "6.13.5", "6.14.2"]

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Passw0rd-peer"
PEER_SCRIPT = Path(
    os.environ.get("INVOKEAI_PEER_SCRIPT", str(SHARED / "tools" / "invokeai-peer.sh"))
)
LIVE_PORTS = {False: 19090, True: 19091}

FakeFactory = Callable[..., Awaitable[FakeInvokeAI]]


@pytest.fixture
async def fake_factory() -> AsyncIterator[FakeFactory]:
    servers: list[FakeInvokeAI] = []

    async def make(version: str = "6.14.2", *, multiuser: bool = False, **kwargs) -> FakeInvokeAI:
        fake = FakeInvokeAI(version, multiuser=multiuser, **kwargs)
        await fake.start()
        servers.append(fake)
        return fake

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def client_factory() -> AsyncIterator[Callable[..., InvokeAIClient]]:
    clients: list[InvokeAIClient] = []

    def make(url: str, username: str | None = None, password: str | None = None, **kwargs):
        client = InvokeAIClient(url, username, password, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


# -- peers: the same scenario tests against the fake and (opt-in) a real InvokeAI -------------


def _live_enabled() -> bool:
    return os.environ.get("PHOTOMAPD_LIVE_INVOKEAI") == "1"


def _start_live(multiuser: bool, tmp_root: Path) -> str:
    """Start (or reuse) a real InvokeAI on a fixed loopback port; returns its base URL."""
    port = LIVE_PORTS[multiuser]
    url = f"http://127.0.0.1:{port}"
    root = tmp_root / ("ia-mu" if multiuser else "ia-su")
    env = {**os.environ, "INVOKEAI_PEER_MULTIUSER": "1" if multiuser else "0"}
    status = subprocess.run(
        [str(PEER_SCRIPT), "status", str(root)], env=env, capture_output=True, text=True
    )
    if status.returncode != 0:
        subprocess.run(
            [str(PEER_SCRIPT), "start", str(root), str(port)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    return url


@pytest.fixture(scope="session")
def live_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = Path(os.environ.get("PHOTOMAPD_LIVE_INVOKEAI_ROOT", tmp_path_factory.mktemp("live")))
    yield base
    if os.environ.get("PHOTOMAPD_LIVE_INVOKEAI_KEEP") != "1":
        for name in ("ia-su", "ia-mu"):
            if (base / name).exists():
                subprocess.run([str(PEER_SCRIPT), "stop", str(base / name)], capture_output=True)


PEER_PARAMS = [
    pytest.param(("fake", False), id="fake-single"),
    pytest.param(("fake", True), id="fake-multi"),
    pytest.param(("live", False), id="live-single", marks=pytest.mark.invokeai_live),
    pytest.param(("live", True), id="live-multi", marks=pytest.mark.invokeai_live),
]


@pytest.fixture(params=PEER_PARAMS)
async def peer(request: pytest.FixtureRequest, fake_factory: FakeFactory) -> AsyncIterator[Peer]:
    kind, multiuser = request.param
    if kind == "fake":
        fake = await fake_factory("6.14.2", multiuser=multiuser)
        fake_peer = FakePeer(fake, multiuser, ADMIN_EMAIL, ADMIN_PASSWORD)
        await fake_peer.prepare()
        yield fake_peer
        return
    if not _live_enabled():
        pytest.skip("set PHOTOMAPD_LIVE_INVOKEAI=1 to run against a real InvokeAI")
    roots = request.getfixturevalue("live_roots")
    url = _start_live(multiuser, roots)
    async with aiohttp.ClientSession() as session:
        live = LivePeer(url, multiuser, ADMIN_EMAIL, ADMIN_PASSWORD, session)
        await live.prepare()
        yield live
