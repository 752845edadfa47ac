"""POST /api/v1/recall/{queue_id}: push parameters into the open InvokeAI web UI (>= 6.12)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from photomapd.invokeai.errors import BadRequestError, InvokeAIError, UpstreamError
from photomapd.invokeai.models import RecallResult
from photomapd.invokeai.transport import error_for, require_json
from photomapd.invokeai.urls import check_queue_id

if TYPE_CHECKING:
    from photomapd.invokeai.client import InvokeAIClient

log = logging.getLogger(__name__)

MODEL_LISTS = ("loras", "control_layers", "ip_adapters")


async def post_recall(
    client: InvokeAIClient,
    payload: dict[str, Any],
    *,
    queue_id: str = "default",
    strict: bool = False,
    append: bool = False,
) -> RecallResult:
    check_queue_id(queue_id)
    if strict and append:
        raise BadRequestError("Recall cannot be both strict and append.")
    query = {"strict": strict, "append": append}
    params = {key: "true" for key, on in query.items() if on}
    reply = await client.request(
        "POST", f"/api/v1/recall/{queue_id}", params=params or None, json_body=payload
    )
    if reply.status >= 300:
        raise error_for(reply, what="recalling parameters", has_credentials=client.has_credentials)
    data = require_json(reply, what="the recall")
    if not isinstance(data, dict):
        raise UpstreamError("InvokeAI's recall endpoint returned an unexpected answer.")
    found = data.get("parameters")
    resolved: dict[str, Any] = found if isinstance(found, dict) else {}
    return RecallResult(
        queue_id=queue_id,
        status=str(data.get("status", "")),
        updated_count=int(data.get("updated_count") or 0),
        sent=payload,
        query=query,
        parameters=resolved,
        unresolved_models=await _unresolved_models(client, payload, resolved),
    )


async def _unresolved_models(
    client: InvokeAIClient, sent: dict[str, Any], resolved: dict[str, Any]
) -> list[str]:
    """Model names InvokeAI could not resolve (it drops them silently and only logs it)."""
    missing: list[str] = []
    if isinstance(sent.get("model"), str) and not resolved.get("model"):
        missing.append(sent["model"])
    short_lists = [
        key
        for key in MODEL_LISTS
        if isinstance(sent.get(key), list) and len(resolved.get(key) or []) < len(sent[key])
    ]
    if not short_lists:
        return missing
    installed = await _installed_model_names(client)
    for key in short_lists:
        names = [e.get("model_name") for e in sent[key] if isinstance(e, dict)]
        if installed is None:
            lost = len(sent[key]) - len(resolved.get(key) or [])
            missing.append(f"{lost} of {len(sent[key])} {key.replace('_', ' ')}")
        else:
            missing.extend(n for n in names if isinstance(n, str) and n not in installed)
    return missing


async def _installed_model_names(client: InvokeAIClient) -> set[str] | None:
    try:
        data = await client.get_json("/api/v2/models/", what="listing models")
    except InvokeAIError as exc:
        log.info("could not list InvokeAI models to name unresolved ones: %s", exc.message)
        return None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        return None
    return {m["name"] for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)}
