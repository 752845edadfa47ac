"""What an InvokeAI server can do: parsed version plus features read from its OpenAPI schema."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

RECALL_PATH = "/api/v1/recall/{queue_id}"

# First InvokeAI versions with each feature (from the InvokeAI tags, not PhotoMapAI's notes,
# which are one minor version late for recall).
RECALL_SINCE = (6, 12, 0)
MULTIUSER_SINCE = (6, 12, 0)
STRICT_SINCE = (6, 13, 0)
REFERENCE_IMAGES_SINCE = (6, 13, 0)
APPEND_SINCE = (6, 13, 5)
UPLOAD_KEEPS_METADATA_SINCE = (3, 4, 0)

_LEADING_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """Leading dotted numbers: "6.14.0-alpha" -> (6, 14, 0), "6.12.0rc1" -> (6, 12, 0)."""
    match = _LEADING_VERSION.match(text or "")
    if not match:
        return None
    numbers = [int(part) for part in match.group(1).split(".")[:3]]
    while len(numbers) < 3:
        numbers.append(0)
    return (numbers[0], numbers[1], numbers[2])


def format_version(version: tuple[int, int, int]) -> str:
    major, minor, patch = version
    return f"{major}.{minor}" if patch == 0 else f"{major}.{minor}.{patch}"


@dataclass(frozen=True)
class Capabilities:
    recall: bool = False
    strict: bool = False
    append: bool = False
    reference_images: bool = False
    # "openapi" when read from the schema, "version" when guessed from the version number.
    source: str = "version"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def capabilities_from_version(version: str | None) -> Capabilities:
    parsed = parse_version(version)
    if parsed is None:
        return Capabilities()
    return Capabilities(
        recall=parsed >= RECALL_SINCE,
        strict=parsed >= STRICT_SINCE,
        append=parsed >= APPEND_SINCE,
        reference_images=parsed >= REFERENCE_IMAGES_SINCE,
        source="version",
    )


def capabilities_from_openapi(schema: Any) -> Capabilities | None:
    """Features from `/openapi.json`; None when the document is not a usable schema."""
    if not isinstance(schema, dict) or not isinstance(schema.get("paths"), dict):
        return None
    operation = schema["paths"].get(RECALL_PATH, {})
    post = operation.get("post") if isinstance(operation, dict) else None
    if not isinstance(post, dict):
        return Capabilities(source="openapi")
    params = {p.get("name") for p in post.get("parameters", []) if isinstance(p, dict)}
    body = _recall_body_schema(schema, post)
    properties = body.get("properties", {}) if isinstance(body, dict) else {}
    return Capabilities(
        recall=True,
        strict="strict" in params,
        append="append" in params,
        reference_images="reference_images" in properties,
        source="openapi",
    )


def _recall_body_schema(schema: dict[str, Any], post: dict[str, Any]) -> dict[str, Any]:
    content = post.get("requestBody", {}).get("content", {}).get("application/json", {})
    body = content.get("schema", {})
    ref = body.get("$ref") if isinstance(body, dict) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        return schema.get("components", {}).get("schemas", {}).get(name, {})
    return body if isinstance(body, dict) else {}
