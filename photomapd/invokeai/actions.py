"""The buttons of the metadata drawer: Use as Ref Image, Recall, Remix, partial recalls, Send.

Each action checks what the server can do first, so an old InvokeAI gets a message naming the
version it needs instead of a 405 or 422, and each returns an ActionResult saying what was sent
and what InvokeAI accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photomapd.invokeai.capabilities import (
    APPEND_SINCE,
    RECALL_SINCE,
    REFERENCE_IMAGES_SINCE,
    STRICT_SINCE,
    UPLOAD_KEEPS_METADATA_SINCE,
    Capabilities,
    format_version,
    parse_version,
)
from photomapd.invokeai.errors import BadRequestError, MissingFileError, NotSupportedError
from photomapd.invokeai.gallery import find_image, upload_image
from photomapd.invokeai.payload import IMAGE_LISTS, sanitize_payload
from photomapd.invokeai.recall import post_recall
from photomapd.invokeai.urls import is_safe_image_name, looks_like_invokeai_output
from photomapd.metadata.schedulers import recall_scheduler

if TYPE_CHECKING:
    from photomapd.invokeai.client import InvokeAIClient

log = logging.getLogger(__name__)

# recall_payload(summary, with_seed) from photomapd.metadata.recall (teammate's module).
PayloadBuilder = Callable[[Any, bool], dict[str, Any]]
# Finds a referenced image (by InvokeAI name) on this machine, e.g. in InvokeAI's outputs.
ImageLocator = Callable[[str, Path], Path | None]

PRESS_INVOKE = "Switch to InvokeAI and press Invoke to generate."


class RecallMode(StrEnum):
    RECALL = "recall"  # every parameter, seed included: reproduces the image
    REMIX = "remix"  # every parameter but the seed: a sibling of the image
    PROMPTS = "prompts"  # positive + negative prompt only
    SEED = "seed"  # the seed only


MODE_LABELS = {
    RecallMode.RECALL: "Recall",
    RecallMode.REMIX: "Remix",
    RecallMode.PROMPTS: "Recall prompts",
    RecallMode.SEED: "Recall seed",
}


@dataclass(frozen=True)
class ImageSource:
    path: Path
    # The normalized metadata summary (photomapd.metadata); None for images without any.
    summary: Any = None


@dataclass
class ActionResult:
    action: str
    message: str
    sent: dict[str, Any] | None = None
    query: dict[str, bool] | None = None
    updated_count: int | None = None
    accepted: dict[str, Any] | None = None
    unresolved_models: list[str] = field(default_factory=list)
    uploaded: list[dict[str, str | None]] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "message": self.message,
            "sent": self.sent,
            "query": self.query,
            "updated_count": self.updated_count,
            "accepted": self.accepted,
            "unresolved_models": self.unresolved_models,
            "uploaded": self.uploaded,
            "reused": self.reused,
            "warnings": self.warnings,
        }


def sibling_locator(name: str, source: Path) -> Path | None:
    """InvokeAI's flat outputs folder: a referenced image sits next to the one that used it."""
    if not is_safe_image_name(name):
        return None
    candidate = source.parent / name
    return candidate if candidate.is_file() else None


class InvokeAIActions:
    def __init__(
        self,
        client: InvokeAIClient,
        payload_builder: PayloadBuilder | None = None,
        *,
        board_id: str | None = None,
        queue_id: str = "default",
        locate_image: ImageLocator = sibling_locator,
    ) -> None:
        self.client = client
        self.payload_builder = payload_builder
        self.board_id = board_id or None
        self.queue_id = queue_id
        self.locate_image = locate_image

    # -- Use as Ref Image -------------------------------------------------------------------

    async def use_as_reference(self, image: ImageSource, *, append: bool = False) -> ActionResult:
        caps = await self.client.capabilities()
        if append and not caps.append:
            raise NotSupportedError(self._needs("Append as reference image", APPEND_SINCE))
        result = ActionResult(action="reference", message="")
        name = await self._ensure_on_server(image.path, result)
        if not (caps.recall and caps.reference_images):
            result.warnings.append(self._needs("Sending a reference image", REFERENCE_IMAGES_SINCE))
            result.message = (
                f"Uploaded {image.path.name} to InvokeAI as {name}. Drag it from the board into "
                "a Reference Image layer."
            )
            return result
        payload = {"reference_images": [{"image_name": name}]}
        recall = await post_recall(self.client, payload, queue_id=self.queue_id, append=append)
        self._record(result, recall)
        how = "added to" if append else "replacing"
        result.message = (
            f"Sent {image.path.name} to InvokeAI as a reference image ({how} the current "
            f"reference images). {PRESS_INVOKE}"
        )
        return result

    # -- Recall / Remix / partial recalls ------------------------------------------------------

    async def recall(self, image: ImageSource, mode: RecallMode) -> ActionResult:
        caps = await self.client.capabilities()
        if not caps.recall:
            raise NotSupportedError(
                self._needs(MODE_LABELS[mode], RECALL_SINCE)
                + " Use “Send to InvokeAI gallery” instead: the image keeps its metadata, so "
                "InvokeAI's own Recall and Remix buttons work on it there."
            )
        payload = self._payload(image, mode)
        result = ActionResult(action=mode.value, message="")
        if mode in (RecallMode.RECALL, RecallMode.REMIX):
            result.warnings.extend(_scheduler_warnings(image.summary))
        payload, dropped = sanitize_payload(payload, reference_images=caps.reference_images)
        result.warnings.extend(dropped)
        await self._upload_referenced_images(payload, image.path, result)
        strict = mode in (RecallMode.RECALL, RecallMode.REMIX) and caps.strict
        if mode in (RecallMode.RECALL, RecallMode.REMIX) and not caps.strict:
            result.warnings.append(
                self._needs("Clearing the settings this image does not use", STRICT_SINCE)
                + " Other settings in InvokeAI were left as they were."
            )
        recall = await post_recall(self.client, payload, queue_id=self.queue_id, strict=strict)
        self._record(result, recall)
        unresolved = (
            f" InvokeAI does not have these models: {', '.join(recall.unresolved_models)}."
            if recall.unresolved_models
            else ""
        )
        result.message = (
            f"{MODE_LABELS[mode]} sent to InvokeAI: it updated {recall.updated_count} "
            f"setting(s).{unresolved} {PRESS_INVOKE}"
        )
        return result

    # -- Send to InvokeAI gallery ------------------------------------------------------------

    async def send_to_gallery(self, image: ImageSource) -> ActionResult:
        await self.client.capabilities()
        result = ActionResult(action="gallery", message="")
        data = await _read_file(image.path)
        upload = await upload_image(self.client, data, image.path.name, board_id=self.board_id)
        result.uploaded.append({"local": image.path.name, "image_name": upload.image_name})
        if upload.warning:
            result.warnings.append(upload.warning)
        version = parse_version(self.client.last_version)
        if version is not None and version < UPLOAD_KEEPS_METADATA_SINCE:
            result.warnings.append(self._needs("Keeping metadata on upload", (3, 4, 0)))
        result.message = (
            f"Uploaded {image.path.name} to InvokeAI as {upload.image_name}. Its generation "
            "metadata came along, so InvokeAI's own Recall and Remix buttons work on it there."
        )
        return result

    # -- helpers -----------------------------------------------------------------------------

    def _payload(self, image: ImageSource, mode: RecallMode) -> dict[str, Any]:
        if image.summary is None or self.payload_builder is None:
            raise BadRequestError("No InvokeAI metadata available for this image")
        with_seed = mode in (RecallMode.RECALL, RecallMode.SEED)
        payload = dict(self.payload_builder(image.summary, with_seed) or {})
        if mode is RecallMode.PROMPTS:
            payload = {k: v for k, v in payload.items() if k.endswith("_prompt")}
            if not payload:
                raise BadRequestError("This image's metadata has no prompt to recall.")
        elif mode is RecallMode.SEED:
            payload = {k: v for k, v in payload.items() if k == "seed"}
            if not payload:
                raise BadRequestError("This image's metadata has no seed to recall.")
        if not payload:
            raise BadRequestError("No recallable parameters were found in this image's metadata")
        return payload

    async def _ensure_on_server(self, path: Path, result: ActionResult) -> str:
        """The InvokeAI name of `path`: reused when InvokeAI already has it, else uploaded."""
        if looks_like_invokeai_output(path.name) and await find_image(self.client, path.name):
            result.reused.append(path.name)
            return path.name
        data = await _read_file(path)
        upload = await upload_image(self.client, data, path.name, board_id=self.board_id)
        result.uploaded.append({"local": path.name, "image_name": upload.image_name})
        if upload.warning:
            result.warnings.append(upload.warning)
        return upload.image_name

    async def _upload_referenced_images(
        self, payload: dict[str, Any], source: Path, result: ActionResult
    ) -> None:
        """Control and reference images must be on the server; upload the ones it lacks."""
        for key in IMAGE_LISTS:
            kept = []
            for entry in payload.get(key) or []:
                name = entry.get("image_name")
                if name is None or await find_image(self.client, name):
                    kept.append(entry)
                    continue
                local = self.locate_image(name, source) if is_safe_image_name(name) else None
                if local is None:
                    result.warnings.append(
                        f"Referenced image {name} is not on the InvokeAI server and was not "
                        "found on this machine; it was left out."
                    )
                    if key != "reference_images":
                        kept.append({k: v for k, v in entry.items() if k != "image_name"})
                    continue
                entry = {**entry, "image_name": await self._ensure_on_server(local, result)}
                kept.append(entry)
            if key in payload:
                payload[key] = kept

    def _record(self, result: ActionResult, recall: Any) -> None:
        result.sent = recall.sent
        result.query = recall.query
        result.updated_count = recall.updated_count
        result.accepted = recall.parameters
        result.unresolved_models = recall.unresolved_models

    def _needs(self, what: str, since: tuple[int, int, int]) -> str:
        running = self.client.last_version or "an unknown version"
        return (
            f"{what} needs InvokeAI {format_version(since)} or newer (this server runs {running})."
        )


async def _read_file(path: Path) -> bytes:
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError as exc:
        raise MissingFileError(f"Image file not found on disk: {path}") from exc
    except OSError as exc:
        raise MissingFileError(
            f"Could not read {path}: {exc.strerror}. Check its permissions."
        ) from exc


__all__ = ["ActionResult", "Capabilities", "ImageSource", "InvokeAIActions", "RecallMode"]


def _scheduler_warnings(summary: Any) -> list[str]:
    """Another generator's sampler InvokeAI has no exact scheduler for: say what was sent."""
    if not isinstance(summary, dict):
        return []
    match = recall_scheduler(summary)
    if not match.note:
        return []
    what = "left out" if match.name is None else f"sent as {match.name}"
    return [f"The scheduler was {what}: {match.note}."]
