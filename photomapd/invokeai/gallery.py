"""Boards and images on the InvokeAI server: list boards, look an image up, upload one."""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING, Any

import aiohttp

from photomapd.invokeai.errors import BadRequestError, UpstreamError
from photomapd.invokeai.models import UNCATEGORIZED, Board, UploadResult
from photomapd.invokeai.transport import error_for, require_json
from photomapd.invokeai.urls import image_path, is_safe_image_name

if TYPE_CHECKING:
    from photomapd.invokeai.client import InvokeAIClient

log = logging.getLogger(__name__)

# InvokeAI's own drag-and-drop upload uses "user" (shown under the board's Assets tab).
UPLOAD_CATEGORY = "user"
MISSING_BOARD_STATUSES = (403, 404)


async def list_boards(client: InvokeAIClient) -> list[Board]:
    """Uncategorized first, then every board the user may see (archived ones hidden)."""
    # The trailing slash matters: >= 6.12 answers "/api/v1/boards" with the web UI's HTML.
    data = await client.get_json(
        "/api/v1/boards/",
        params={"all": "true"},
        what="listing boards",
        timeout=client.listing_timeout,
    )
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise UpstreamError("InvokeAI's boards endpoint did not return a list of boards.")
    boards = [UNCATEGORIZED]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("board_id"), str):
            continue
        boards.append(
            Board(
                board_id=item["board_id"],
                board_name=str(item.get("board_name") or "(unnamed board)"),
                image_count=_int_or_none(item.get("image_count")),
                asset_count=_int_or_none(item.get("asset_count")),
            )
        )
    return boards


async def find_image(client: InvokeAIClient, image_name: str) -> dict[str, Any] | None:
    """The server's ImageDTO for `image_name`, or None when it does not have (or show) it."""
    if not is_safe_image_name(image_name):
        return None
    reply = await client.request("GET", f"/api/v1/images/i/{image_path(image_name)}")
    data = reply.json()
    if reply.status == 200 and isinstance(data, dict) and data.get("image_name") == image_name:
        return data
    if reply.status in (401, 403, 404) or reply.status == 200:
        return None
    raise error_for(reply, what="looking up an image", has_credentials=client.has_credentials)


async def upload_image(
    client: InvokeAIClient,
    data: bytes,
    filename: str,
    *,
    board_id: str | None = None,
    content_type: str | None = None,
) -> UploadResult:
    """Upload image bytes; when the board refuses, land in Uncategorized with a warning."""
    if not data:
        raise BadRequestError(f"{filename} is empty; nothing to upload.")
    ctype = content_type or mimetypes.guess_type(filename)[0] or "image/png"
    if not ctype.startswith("image/"):
        # InvokeAI answers 415 "Not an image" to anything else, even for real image bytes.
        ctype = "image/png"
    warning = None
    reply = await _post_upload(client, data, filename, ctype, board_id)
    if board_id and reply.status in MISSING_BOARD_STATUSES:
        log.warning("board %s refused the upload (HTTP %s); retrying", board_id, reply.status)
        warning = (
            f"Upload to the selected board failed (HTTP {reply.status}); "
            "image was placed in Uncategorized."
        )
        reply = await _post_upload(client, data, filename, ctype, None)
    if reply.status >= 300:
        raise error_for(reply, what="uploading an image", has_credentials=client.has_credentials)
    dto = require_json(reply, what="the image upload")
    name = dto.get("image_name") if isinstance(dto, dict) else None
    if not isinstance(name, str) or not is_safe_image_name(name):
        raise UpstreamError("InvokeAI image upload response did not include image_name")
    landed = dto.get("board_id")
    if board_id and not warning and landed != board_id:
        # Before 6.13 InvokeAI accepted an unknown board id and filed the image as uncategorized.
        warning = (
            "InvokeAI did not put the image on the selected board (it may have been deleted); "
            "image was placed in Uncategorized."
        )
    return UploadResult(
        image_name=name,
        board_id=landed if isinstance(landed, str) else None,
        width=_int_or_none(dto.get("width")),
        height=_int_or_none(dto.get("height")),
        warning=warning,
    )


async def _post_upload(
    client: InvokeAIClient, data: bytes, filename: str, ctype: str, board_id: str | None
):
    params = {"image_category": UPLOAD_CATEGORY, "is_intermediate": "false"}
    if board_id:
        # Uncategorized is spelled by leaving board_id out: >= 6.13 answers board_id=none 404.
        params["board_id"] = board_id

    def form() -> aiohttp.FormData:
        fields = aiohttp.FormData()
        fields.add_field("file", data, filename=filename, content_type=ctype)
        return fields

    return await client.request(
        "POST", "/api/v1/images/upload", params=params, form=form, timeout=client.listing_timeout
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
