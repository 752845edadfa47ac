"""The live event stream stays one open connection across its keep-alive heartbeats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from photomapd.api import routes_status
from tests.helpers import png_bytes


async def test_events_still_arrive_after_heartbeats(
    tmp_path: Path, make_config, start_daemon, monkeypatch
):
    # A heartbeat used to cancel the wait for the next event, which closed the subscription
    # inside the generator: the stream ended at the first quiet spell.
    monkeypatch.setattr(routes_status, "HEARTBEAT_SECONDS", 0.2)
    folder = tmp_path / "images"
    running = await start_daemon(make_config(folder))
    timeout = aiohttp.ClientTimeout(total=30)
    async with running.session.get(running.url + "/api/events", timeout=timeout) as response:
        heartbeats = 0
        while heartbeats < 3:
            line = (await response.content.readline()).decode()
            assert line, "the event stream ended during a quiet spell"
            heartbeats += line.startswith(": heartbeat")
        (folder / "after-the-quiet.png").write_bytes(png_bytes((20, 90, 200)))
        async with asyncio.timeout(20):
            while True:
                line = (await response.content.readline()).decode()
                assert line, "the event stream ended before the image was announced"
                if line.startswith("event: image_added"):
                    break
        data = (await response.content.readline()).decode()
    assert "after-the-quiet.png" in data
