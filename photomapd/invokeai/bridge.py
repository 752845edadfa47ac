"""The daemon's InvokeAI connection: settings (config `invokeai` section + keyring password),
one client rebuilt when they change, and the drawer actions for one image.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from photomapd.invokeai.actions import (
    ImageSource,
    InvokeAIActions,
    RecallMode,
)
from photomapd.invokeai.client import InvokeAIClient
from photomapd.invokeai.errors import (
    BadRequestError,
    InvokeAIError,
    NotConfiguredError,
)
from photomapd.invokeai.gallery import list_boards
from photomapd.invokeai.models import ServerStatus
from photomapd.invokeai.urls import check_queue_id, normalize_base_url

if TYPE_CHECKING:
    from pathlib import Path

    from photomapd.invokeai.actions import (
        ActionResult,
        PayloadBuilder,
    )
    from photomapd.invokeai.capabilities import Capabilities
    from photomapd.invokeai.credentials import CredentialStore
    from photomapd.invokeai.models import Board

log = logging.getLogger(__name__)

PASSWORD_ACCOUNT = "invokeai"
INVOKEAI_GENERATOR = "invokeai"


@dataclass
class InvokeAISettings:
    url: str | None = None
    username: str | None = None
    board_id: str | None = None  # None: Uncategorized
    queue_id: str = "default"

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> InvokeAISettings:
        return cls(
            url=section.get("url") or None,
            username=section.get("username") or None,
            board_id=section.get("board_id") or None,
            queue_id=section.get("queue_id") or "default",
        )

    def to_config(self) -> dict[str, Any]:
        values = {"url": self.url, "username": self.username, "board_id": self.board_id}
        if self.queue_id != "default":
            values["queue_id"] = self.queue_id
        return {key: value for key, value in values.items() if value}


def _payload_builder() -> PayloadBuilder | None:
    try:
        from photomapd.metadata.recall import recall_payload
    except ImportError:
        return None
    return recall_payload  # type: ignore[return-value]


class InvokeAIBridge:
    def __init__(
        self,
        config: Any,
        credentials: CredentialStore,
        payload_builder: PayloadBuilder | None = None,
    ) -> None:
        self.config = config  # photomapd.config.Config: its `invokeai` dict is our section
        self.credentials = credentials
        self.payload_builder = payload_builder or _payload_builder()
        self.settings = InvokeAISettings.from_config(config.invokeai or {})
        self._client: InvokeAIClient | None = None
        self._lock = asyncio.Lock()

    # -- settings ------------------------------------------------------------------------

    async def settings_json(self) -> dict[str, Any]:
        has_password = await asyncio.to_thread(self.credentials.has, PASSWORD_ACCOUNT)
        return {
            "url": self.settings.url,
            "username": self.settings.username,
            "board_id": self.settings.board_id,
            "has_password": has_password,
            "password_storage": self.credentials.backend_name,
            "password_warning": self.credentials.storage_warning(stored=has_password),
        }

    async def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update. Absent keys stay; "" or null clears (password: "" clears)."""
        unknown = set(changes) - {"url", "username", "password", "board_id", "queue_id"}
        if unknown:
            raise BadRequestError(f"Unknown InvokeAI setting(s): {', '.join(sorted(unknown))}.")
        new = InvokeAISettings(**vars(self.settings))
        if "url" in changes:
            url = _text(changes["url"], "url")
            new.url = normalize_base_url(url) if url else None  # the seed's messages
        if "username" in changes:
            new.username = _text(changes["username"], "username") or None
        if "board_id" in changes:
            new.board_id = _text(changes["board_id"], "board_id") or None
        if "queue_id" in changes:
            new.queue_id = check_queue_id(_text(changes["queue_id"], "queue_id") or "default")
        async with self._lock:
            if "password" in changes:
                password = _text(changes["password"], "password")
                if password:
                    await asyncio.to_thread(self.credentials.set, PASSWORD_ACCOUNT, password)
                else:
                    await asyncio.to_thread(self.credentials.delete, PASSWORD_ACCOUNT)
            self.settings = new
            self.config.invokeai = new.to_config()
            await asyncio.to_thread(self.config.save)
            await self._drop_client()
        return await self.settings_json()

    # -- connection ----------------------------------------------------------------------

    async def client(self) -> InvokeAIClient:
        async with self._lock:
            if self._client is None:
                if not self.settings.url:
                    raise NotConfiguredError(
                        "InvokeAI backend URL is not configured. Set it in the photomapd "
                        "settings panel."
                    )
                password = None
                if self.settings.username:
                    password = await asyncio.to_thread(self.credentials.get, PASSWORD_ACCOUNT)
                self._client = InvokeAIClient(self.settings.url, self.settings.username, password)
            return self._client

    async def status(self) -> dict[str, Any]:
        if not self.settings.url:
            status = ServerStatus(url=None, reachable=False, detail="No InvokeAI URL configured")
            return {"configured": False, **status.to_dict()}
        client = await self.client()
        return {"configured": True, **(await client.status()).to_dict()}

    async def boards(self) -> list[Board]:
        return await list_boards(await self.client())

    async def capabilities(self) -> Capabilities:
        return await (await self.client()).capabilities()

    async def close(self) -> None:
        async with self._lock:
            await self._drop_client()

    async def _drop_client(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- actions -------------------------------------------------------------------------

    def actions_for(self, client: InvokeAIClient) -> InvokeAIActions:
        return InvokeAIActions(
            client,
            self.payload_builder,
            board_id=self.settings.board_id,
            queue_id=self.settings.queue_id,
        )

    async def available_actions(self, path: Path, summary: Any) -> dict[str, Any]:
        """Which drawer buttons to show for one image (only what the server can do)."""
        caps = await self.capabilities()
        payload = self._preview(summary)
        invokeai = isinstance(summary, dict) and summary.get("generator") == INVOKEAI_GENERATOR
        return {
            "reference": caps.recall and caps.reference_images,
            "reference_append": caps.append,
            "recall": caps.recall and invokeai and bool(payload),
            "remix": caps.recall and invokeai and bool(payload),
            "prompts": caps.recall and any(k.endswith("_prompt") for k in payload),
            "seed": caps.recall and "seed" in payload,
            "gallery": True,
            "capabilities": caps.to_dict(),
        }

    def _preview(self, summary: Any) -> dict[str, Any]:
        if not isinstance(summary, dict) or self.payload_builder is None:
            return {}
        try:
            return self.payload_builder(summary, True) or {}
        except Exception:  # a summary shape the builder does not know: no recall buttons
            log.info("recall payload builder failed on a summary", exc_info=True)
            return {}

    async def run(
        self, action: str, path: Path, summary: Any, body: dict[str, Any]
    ) -> ActionResult:
        client = await self.client()
        actions = self.actions_for(client)
        image = ImageSource(path, summary)
        if action == "reference":
            append = body.get("append", False)
            if not isinstance(append, bool):
                raise BadRequestError('"append" must be true or false.')
            return await actions.use_as_reference(image, append=append)
        if action == "gallery":
            return await actions.send_to_gallery(image)
        if action == "recall":
            try:
                mode = RecallMode(body.get("mode", "recall"))
            except ValueError as exc:
                raise BadRequestError(
                    '"mode" must be one of "recall", "remix", "prompts", "seed".'
                ) from exc
            generator = summary.get("generator") if isinstance(summary, dict) else None
            if mode in (RecallMode.RECALL, RecallMode.REMIX) and generator not in (
                None,
                INVOKEAI_GENERATOR,
            ):
                raise BadRequestError("Image does not contain recognizable InvokeAI metadata")
            return await actions.recall(image, mode)
        raise BadRequestError(
            f"Unknown InvokeAI action {action!r}: use recall, reference or gallery."
        )


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequestError(f'InvokeAI setting "{name}" must be a string.')
    return value.strip() if name != "password" else value


__all__ = ["InvokeAIBridge", "InvokeAIError", "InvokeAISettings"]
