"""Board albums against the database a real InvokeAI writes (opt-in: -m invokeai_live).

The other board-album tests build invokeai.db from the reference schema; this one lets InvokeAI
6.14.2 itself create the board, store the uploads and write its rows, so a schema drift between
the reference and the real server shows up here.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import png_bytes, wait_for
from tests.invokeai.conftest import _live_enabled, _start_live

pytestmark = pytest.mark.invokeai_live


@pytest.fixture
def live_single_user(live_roots: Path) -> tuple[str, Path]:
    if not _live_enabled():
        pytest.skip("set PHOTOMAPD_LIVE_INVOKEAI=1 to run against a real InvokeAI")
    url = _start_live(False, live_roots)
    return url, (live_roots / "ia-su").resolve()


async def upload(
    session: aiohttp.ClientSession,
    url: str,
    color: tuple[int, int, int],
    board_id: str | None,
    intermediate: bool = False,
) -> str:
    form = aiohttp.FormData()
    form.add_field("file", png_bytes(color), filename="upload.png", content_type="image/png")
    params = {"image_category": "general", "is_intermediate": str(intermediate).lower()}
    if board_id:
        params["board_id"] = board_id
    async with session.post(f"{url}/api/v1/images/upload", params=params, data=form) as response:
        assert response.status < 300, await response.text()
        return (await response.json())["image_name"]


async def test_board_album_follows_a_real_invokeai(
    live_single_user: tuple[str, Path], make_config, start_daemon
) -> None:
    url, root = live_single_user
    board_name = f"photomapd-live-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/api/v1/boards/", params={"board_name": board_name}
        ) as response:
            assert response.status < 300, await response.text()
            board_id = (await response.json())["board_id"]
        on_board = await upload(session, url, (200, 40, 40), board_id)
        await upload(session, url, (40, 200, 40), None)  # another image, on no board
        intermediate = await upload(session, url, (40, 40, 200), board_id, intermediate=True)

    config = make_config(worker_process=False)
    config.invokeai_root = root
    running = await start_daemon(config)
    status, album = await running.send(
        "POST", "/api/albums", json={"name": board_name, "boards": [board_name]}
    )
    assert status == 201, album
    assert album["boards"] == [{"id": board_id, "name": board_name}]
    assert album["folders"] == [{"path": str(root / "outputs" / "images"), "exists": True}]

    async def contents() -> dict[str, str | None] | None:
        _, page = await running.get(f"/api/albums/{album['key']}/images?limit=100")
        names = {item["name"]: item["board"] for item in page["items"]}
        # The board column is filled by the board sync, which runs every few seconds.
        settled = all(item["status"] == "ok" and item["board"] for item in page["items"])
        return names if names and settled else None

    found = await wait_for(contents, timeout=60, message="board album indexed from real InvokeAI")
    assert found == {on_board: board_name}, f"intermediate {intermediate} must stay out"
