"""JPEG segment walker: EXIF (APP1), XMP (APP1), COM and the frame size; stops at the scan."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO

from photomapd.metadata.exif import parse_exif

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"
# Start-of-frame markers (baseline, progressive, lossless, arithmetic) carry the pixel size.
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
STANDALONE = {0x01, *range(0xD0, 0xD9)}
MAX_SEGMENTS = 1000


def read_jpeg(stream: BinaryIO, source: Source) -> None:
    """Fill `source` from a JPEG stream positioned just after the SOI marker."""
    source.image_format = "JPEG"
    for _ in range(MAX_SEGMENTS):
        marker = _next_marker(stream)
        if marker is None:
            source.warn("JPEG ends before the image data (file truncated?)")
            return
        if marker in STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no metadata past here
            return
        length_bytes = stream.read(2)
        if len(length_bytes) < 2:
            source.warn("JPEG truncated inside a segment header")
            return
        length = struct.unpack(">H", length_bytes)[0] - 2
        if length < 0:
            source.warn("JPEG segment with an invalid length")
            return
        if marker in (0xE1, 0xFE) or marker in SOF_MARKERS:
            data = stream.read(length)
            if len(data) < length:
                source.warn("JPEG truncated inside a metadata segment")
                return
            _handle_segment(marker, data, source)
        else:
            stream.seek(length, 1)
    source.warn("JPEG has too many segments; stopped reading")


def _next_marker(stream: BinaryIO) -> int | None:
    byte = stream.read(1)
    while byte and byte != b"\xff":
        byte = stream.read(1)  # tolerate garbage between segments
    while byte == b"\xff":
        byte = stream.read(1)
    return byte[0] if byte else None


def _handle_segment(marker: int, data: bytes, source: Source) -> None:
    if marker in SOF_MARKERS:
        if len(data) >= 5:
            height, width = struct.unpack(">HH", data[1:5])
            source.pixel_width, source.pixel_height = width, height
    elif marker == 0xFE:
        if source.jpeg_comment is None:
            source.jpeg_comment = data.decode("utf-8", errors="replace").rstrip("\0")
    elif data.startswith(b"Exif\0\0"):
        for name, value in parse_exif(data, source).items():
            source.exif.setdefault(name, value)
    elif data.startswith(XMP_HEADER) and source.xmp is None:
        source.xmp = data[len(XMP_HEADER) :].decode("utf-8", errors="replace")
