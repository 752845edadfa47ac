"""Entry points: read a file (or bytes) into an ImageMetadata, never raising."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, BinaryIO

from photomapd.metadata.jpeg import read_jpeg
from photomapd.metadata.png import PNG_SIGNATURE, read_png
from photomapd.metadata.record import ImageMetadata
from photomapd.metadata.registry import parse_source
from photomapd.metadata.source import Source
from photomapd.metadata.stealth import read_stealth
from photomapd.metadata.values import loads_json, looks_like_json
from photomapd.metadata.webp import read_webp

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)


def read_metadata(path: Path | str, stealth: bool = True) -> ImageMetadata:
    """Generation metadata of one image file, read from its header only (PNG, JPEG, WebP).

    `stealth=False` skips the pixel-decoding pass for alpha-channel (stealth) metadata, which
    otherwise runs for PNGs that have alpha and no text chunk at all.
    """
    try:
        with open(path, "rb") as stream:
            return read_stream(stream, stealth)
    except OSError as error:
        reason = error.strerror or str(error)
        return ImageMetadata(
            warnings=[f"cannot read {path}: {reason}; check it exists and is readable"]
        )


def parse_bytes(data: bytes, stealth: bool = True) -> ImageMetadata:
    """Same as read_metadata for an in-memory file (tests, uploads)."""
    return read_stream(io.BytesIO(data), stealth)


def read_stream(stream: BinaryIO, stealth: bool = True) -> ImageMetadata:
    source = Source()
    try:
        _read_container(stream, source, stealth)
    except Exception as error:
        logger.debug("container read failed", exc_info=True)
        source.warn(f"file could not be read completely ({type(error).__name__}: {error})")
    summary = parse_source(source)
    return ImageMetadata(
        summary=summary,
        raw=source.raw(),
        warnings=source.warnings,
        image_format=source.image_format,
        pixel_width=source.pixel_width,
        pixel_height=source.pixel_height,
    )


def _read_container(stream: BinaryIO, source: Source, stealth: bool) -> None:
    head = stream.read(12)
    if not head:
        source.warn("empty file (0 bytes)")
        return
    if head.startswith(PNG_SIGNATURE):
        stream.seek(8)
        read_png(stream, source)
        if stealth and not source.text and source.has_alpha:
            _read_stealth(stream, source)
    elif head.startswith(b"\xff\xd8"):
        stream.seek(2)
        read_jpeg(stream, source)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        read_webp(stream, source)
    else:
        source.warn("not a PNG, JPEG or WebP file; no metadata read")


def _read_stealth(stream: BinaryIO, source: Source) -> None:
    """Second, pixel-decoding pass for A1111/NovelAI alpha-channel metadata."""
    hidden = read_stealth(stream, source)
    if hidden is None:
        return
    document = loads_json(hidden) if looks_like_json(hidden) else None
    if isinstance(document, dict) and all(isinstance(v, str) for v in document.values()):
        source.text.update(document)  # NovelAI stealth: the PNG text chunks as one JSON object
    else:
        source.text["parameters"] = hidden
