from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from photomapd.config import AlbumConfig, Config, ModelConfig
from photomapd.daemon import Daemon
from tests.tinyclip import write_tiny_clip

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config_path, checkpoint_path) of a tiny random CLIP: Embedder(str(cfg), str(ckpt))."""
    return write_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the read-only shared inputs) is not beside the checkout")
    return SHARED


@pytest.fixture
def make_config(tmp_path: Path, tiny_clip: tuple[Path, Path]) -> Callable[..., Config]:
    """A Config in a temp data folder using the tiny model, on a free port."""

    def make(*folders: Path, data_dir: Path | None = None, **model: object) -> Config:
        config_path, checkpoint = tiny_clip
        config = Config(
            data_dir=data_dir or tmp_path / "data",
            port=0,
            model=ModelConfig(
                name=str(config_path), pretrained=str(checkpoint), device="cpu", batch_size=8
            ),
        )
        for key, value in model.items():
            setattr(config.model, key, value)
        for number, folder in enumerate(folders):
            folder.mkdir(parents=True, exist_ok=True)
            config.albums.append(AlbumConfig(f"album{number}", f"Album {number}", [folder]))
        return config

    return make


class RunningDaemon:
    def __init__(self, daemon: Daemon, session: aiohttp.ClientSession) -> None:
        self.daemon = daemon
        self.session = session
        self.url = daemon.url

    async def get(self, path: str, **kwargs: object) -> tuple[int, object]:
        async with self.session.get(self.url + path, **kwargs) as response:  # type: ignore[arg-type]
            return response.status, await _body(response)

    async def send(self, method: str, path: str, **kwargs: object) -> tuple[int, object]:
        async with self.session.request(method, self.url + path, **kwargs) as response:  # type: ignore[arg-type]
            return response.status, await _body(response)


async def _body(response: aiohttp.ClientResponse) -> object:
    if response.content_type == "application/json":
        return await response.json()
    return await response.read()


@pytest.fixture
async def start_daemon() -> AsyncIterator[Callable[..., object]]:
    """Start a real daemon (real SQLite, watchdog, open_clip, aiohttp on a real socket)."""
    started: list[tuple[Daemon, aiohttp.ClientSession]] = []

    async def start(config: Config, **kwargs: object) -> RunningDaemon:
        daemon = Daemon(config, **kwargs)  # type: ignore[arg-type]
        await daemon.start()
        session = aiohttp.ClientSession()
        started.append((daemon, session))
        return RunningDaemon(daemon, session)

    yield start
    for daemon, session in started:
        await session.close()
        await daemon.stop()
