"""WebP (RIFF) chunk walker: EXIF and XMP chunks plus the canvas size, skipping image data."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO

from photomapd.metadata.exif import parse_exif
from photomapd.metadata.source import MAX_CHUNK_BYTES

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

MAX_CHUNKS = 10_000


def read_webp(stream: BinaryIO, source: Source) -> None:
    """Fill `source` from a WebP stream positioned just after the 12-byte RIFF/WEBP header."""
    source.image_format = "WEBP"
    for _ in range(MAX_CHUNKS):
        header = stream.read(8)
        if len(header) < 8:
            if header:
                source.warn("WebP truncated inside a chunk header")
            return
        kind, length = struct.unpack("<4sI", header)
        padded = length + (length & 1)
        if kind in (b"EXIF", b"XMP ", b"VP8X", b"VP8 ", b"VP8L"):
            if length > MAX_CHUNK_BYTES:
                source.warn(f"WebP {kind.decode().strip()} chunk exceeds the 16 MB cap; skipped")
                stream.seek(padded, 1)
                continue
            read_length = length if kind in (b"EXIF", b"XMP ", b"VP8X") else min(length, 30)
            data = stream.read(read_length)
            if len(data) < read_length:
                source.warn("WebP truncated inside a chunk")
                return
            _handle_chunk(kind, data, source)
            stream.seek(padded - read_length, 1)
        else:
            stream.seek(padded, 1)
    source.warn("WebP has too many chunks; stopped reading")


def _handle_chunk(kind: bytes, data: bytes, source: Source) -> None:
    if kind == b"EXIF":
        for name, value in parse_exif(data, source).items():
            source.exif.setdefault(name, value)
    elif kind == b"XMP ":
        source.xmp = source.xmp or data.decode("utf-8", errors="replace")
    elif kind == b"VP8X" and len(data) >= 10:
        source.has_alpha = bool(data[0] & 0x10)
        source.pixel_width = 1 + int.from_bytes(data[4:7], "little")
        source.pixel_height = 1 + int.from_bytes(data[7:10], "little")
    elif kind == b"VP8L" and len(data) >= 5 and source.pixel_width is None:
        bits = int.from_bytes(data[1:5], "little")
        source.pixel_width = 1 + (bits & 0x3FFF)
        source.pixel_height = 1 + ((bits >> 14) & 0x3FFF)
        source.has_alpha = bool((bits >> 28) & 1)
    elif kind == b"VP8 " and len(data) >= 10 and source.pixel_width is None:
        width, height = struct.unpack("<HH", data[6:10])
        source.pixel_width, source.pixel_height = width & 0x3FFF, height & 0x3FFF
