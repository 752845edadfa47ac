"""Records the InvokeAI client returns (plain dataclasses, JSON-ready through to_dict)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from photomapd.invokeai.capabilities import Capabilities

UNCATEGORIZED_NAME = "Uncategorized"


@dataclass(frozen=True)
class ServerStatus:
    url: str | None
    reachable: bool
    version: str | None = None
    multiuser: bool | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    # The message to show under the URL field when something is wrong (None when all is well).
    detail: str | None = None
    # Multi-user only: whether the configured username/password were accepted.
    authenticated: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["capabilities"] = self.capabilities.to_dict()
        return data


@dataclass(frozen=True)
class Board:
    # None is InvokeAI's "Uncategorized" (no board row; spelled "none" in its query strings).
    board_id: str | None
    board_name: str
    image_count: int | None = None
    asset_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


UNCATEGORIZED = Board(board_id=None, board_name=UNCATEGORIZED_NAME)


@dataclass(frozen=True)
class UploadResult:
    image_name: str
    board_id: str | None
    width: int | None = None
    height: int | None = None
    # Set when the image did not land on the board that was asked for.
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecallResult:
    queue_id: str
    status: str
    updated_count: int
    sent: dict[str, Any]
    query: dict[str, bool]
    # What InvokeAI resolved and pushed to its UI (model names replaced by keys).
    parameters: dict[str, Any]
    unresolved_models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
