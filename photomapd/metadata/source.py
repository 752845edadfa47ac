"""What the container readers extract from a file before any generator parser looks at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from photomapd.metadata.values import loads_json, looks_like_json

# A chunk larger than this is skipped with a warning: no real prompt or workflow is this big,
# and reading it would let one hostile file stall the indexer.
MAX_CHUNK_BYTES = 16 * 1024 * 1024


@dataclass
class Source:
    image_format: str | None = None
    pixel_width: int | None = None
    pixel_height: int | None = None
    has_alpha: bool = False
    # PNG text chunks (tEXt/zTXt/iTXt) by keyword, in file order; the first of a duplicate wins.
    text: dict[str, str] = field(default_factory=dict)
    text_kinds: dict[str, str] = field(default_factory=dict)
    # Decoded EXIF strings by tag name ("UserComment", "ImageDescription", "Make", ...).
    exif: dict[str, str] = field(default_factory=dict)
    xmp: str | None = None
    jpeg_comment: str | None = None
    stealth_signature: str | None = None
    has_c2pa: bool = False
    warnings: list[str] = field(default_factory=list)
    # Decoded JSON per text chunk, shared by the parsers and the raw view (parsed once).
    _json: dict[str, Any] = field(default_factory=dict, repr=False)

    def warn(self, message: str) -> None:
        if len(self.warnings) < 50:
            self.warnings.append(message)

    def text_ci(self, key: str) -> str | None:
        """Case-insensitive text chunk lookup (`sd-metadata` vs `Sd-metadata`)."""
        if key in self.text:
            return self.text[key]
        lowered = key.lower()
        for name, value in self.text.items():
            if name.lower() == lowered:
                return value
        return None

    def json_chunk(self, key: str) -> Any:
        value = self.text_ci(key)
        if value is None or not looks_like_json(value):
            return None
        return self._decoded_text(key if key in self.text else key.lower(), value)

    def _decoded_text(self, key: str, value: str) -> Any:
        if key not in self._json:
            self._json[key] = loads_json(value)
        return self._json[key]

    def user_comment_json(self) -> Any:
        comment = self.exif.get("UserComment")
        if comment is None or not looks_like_json(comment):
            return None
        return loads_json(comment)

    def raw(self) -> dict[str, Any]:
        """Every chunk and tag, JSON-decoded where it parses, for the "full metadata" view."""
        raw: dict[str, Any] = {}
        for key, value in self.text.items():
            name = key
            if self.stealth_signature and key == "parameters" and not self.text_kinds.get(key):
                name = f"parameters ({self.stealth_signature})"
            parsed = self._decoded_text(key, value) if looks_like_json(value) else None
            raw[name] = value if parsed is None else parsed
        for tag, value in self.exif.items():
            raw[f"EXIF:{tag}"] = _decoded(value)
        if self.xmp is not None and "XML:com.adobe.xmp" not in self.text:
            raw["XMP"] = self.xmp
        if self.jpeg_comment is not None:
            raw["JPEG:Comment"] = _decoded(self.jpeg_comment)
        if self.has_c2pa:
            raw["C2PA"] = "C2PA manifest present (not decoded)"
        return raw


def _decoded(value: str) -> Any:
    if looks_like_json(value):
        parsed = loads_json(value)
        if parsed is not None:
            return parsed
    return value
