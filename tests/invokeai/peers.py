"""An InvokeAI server seen only through HTTP, so one scenario test runs on the fake and live.

Setup (admin account, boards) and checks (what landed in `client_state` `recall_*` keys) go
through InvokeAI's own API, exactly as a person would verify them against a real server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

from tests.invokeai.fake_server import FakeInvokeAI


class Peer:
    def __init__(
        self,
        url: str,
        multiuser: bool,
        email: str,
        password: str,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = url
        self.multiuser = multiuser
        self.email = email
        self.password = password
        self._session = session
        self._token: str | None = None
        self.is_fake = False

    @property
    def username(self) -> str | None:
        return self.email if self.multiuser else None

    @property
    def secret(self) -> str | None:
        return self.password if self.multiuser else None

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        session = self._session or aiohttp.ClientSession()
        try:
            async with session.request(method, self.url + path, headers=headers, **kwargs) as r:
                assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
                return await r.json()
        finally:
            if self._session is None:
                await session.close()

    async def prepare(self) -> None:
        if not self.multiuser:
            return
        status = await self._call("GET", "/api/v1/auth/status")
        if status["setup_required"]:
            await self._call(
                "POST",
                "/api/v1/auth/setup",
                json={"email": self.email, "password": self.password, "display_name": "Admin"},
            )
        login = await self._call(
            "POST", "/api/v1/auth/login", json={"email": self.email, "password": self.password}
        )
        self._token = login["token"]

    async def create_board(self, name: str | None = None) -> str:
        name = name or f"photomapd-{uuid.uuid4().hex[:8]}"
        board = await self._call("POST", "/api/v1/boards/", params={"board_name": name})
        return board["board_id"]

    async def board_image_names(self, board_id: str) -> list[str]:
        return await self._call("GET", f"/api/v1/boards/{board_id}/image_names")

    async def recalled(self, field: str, queue_id: str = "default") -> Any:
        """What InvokeAI stored for `recall_<field>` (None when never set or cleared)."""
        raw = await self._call(
            "GET",
            f"/api/v1/client_state/{queue_id}/get_by_key",
            params={"key": f"recall_{field}"},
        )
        return json.loads(raw) if isinstance(raw, str) else raw

    async def image_metadata(self, image_name: str) -> Any:
        return await self._call("GET", f"/api/v1/images/i/{image_name}/metadata")


class FakePeer(Peer):
    def __init__(self, fake: FakeInvokeAI, multiuser: bool, email: str, password: str) -> None:
        super().__init__(fake.url, multiuser, email, password)
        self.fake = fake
        self.is_fake = True
        if multiuser:
            fake.add_user(email, password, is_admin=True, name="Admin")


class LivePeer(Peer):
    pass
