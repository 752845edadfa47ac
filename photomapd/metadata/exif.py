"""A minimal TIFF/EXIF reader for the few string tags generators write prompts into.

Pillow's EXIF support needs an opened image; this reads the raw APP1/eXIf/WebP EXIF bytes
directly, tolerates broken offsets, and decodes UserComment's charset prefix.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

TAG_NAMES = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x8298: "Copyright",
    0x9286: "UserComment",
    0x9C9C: "XPComment",
}
EXIF_IFD_POINTER = 0x8769
BYTE_TYPES = {1: 1, 2: 1, 7: 1}  # BYTE, ASCII, UNDEFINED: one byte per count
MAX_ENTRIES = 512


def parse_exif(data: bytes, source: Source) -> dict[str, str]:
    if data.startswith(b"Exif\0\0"):
        data = data[6:]
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        source.warn("EXIF block has no TIFF header; ignored")
        return {}
    order = "<" if data[:2] == b"II" else ">"
    (ifd0,) = struct.unpack(order + "I", data[4:8])
    found: dict[str, str] = {}
    exif_ifd = _read_ifd(data, order, ifd0, found, source)
    if exif_ifd is not None:
        _read_ifd(data, order, exif_ifd, found, source)
    return found


def _read_ifd(
    data: bytes, order: str, offset: int, found: dict[str, str], source: Source
) -> int | None:
    """Collect known string tags of one IFD; returns the Exif sub-IFD offset if there is one."""
    if offset + 2 > len(data):
        source.warn("EXIF IFD offset points outside the block")
        return None
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    sub_ifd = None
    for index in range(min(count, MAX_ENTRIES)):
        entry = offset + 2 + index * 12
        if entry + 12 > len(data):
            source.warn("EXIF IFD is truncated")
            break
        tag, kind, length = struct.unpack(order + "HHI", data[entry : entry + 8])
        if tag == EXIF_IFD_POINTER and kind in (4, 13):
            (sub_ifd,) = struct.unpack(order + "I", data[entry + 8 : entry + 12])
            continue
        name = TAG_NAMES.get(tag)
        if name is None or kind not in BYTE_TYPES or name in found:
            continue
        if length <= 4:
            value = data[entry + 8 : entry + 8 + length]
        else:
            (start,) = struct.unpack(order + "I", data[entry + 8 : entry + 12])
            value = data[start : start + length]
            if len(value) < length:
                source.warn(f"EXIF {name} runs past the end of the block; truncated")
        found[name] = _decode_tag(name, value)
    return sub_ifd if sub_ifd != offset else None


def _decode_tag(name: str, value: bytes) -> str:
    if name == "UserComment":
        return decode_user_comment(value)
    if name == "XPComment":
        return value.decode("utf-16-le", errors="replace").strip("\0")
    return _decode_text(value.strip(b"\0"))


def decode_user_comment(value: bytes) -> str:
    """EXIF UserComment: an 8-byte charset prefix, then the text.

    "UNICODE" text is UTF-16 in either byte order whatever the TIFF byte order says (A1111
    writes big-endian, SwarmUI little-endian), so the order is guessed from where the zero bytes
    fall. Writers that skip the prefix (ComfyUI SaveImagePlus) get a plain UTF-8 decode.
    """
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\0":
        return _decode_utf16(body).rstrip("\0")
    if prefix in (b"ASCII\0\0\0", b"\0" * 8):
        return _decode_text(body).rstrip("\0")
    if prefix.startswith(b"JIS"):
        return body.decode("shift_jis", errors="replace").rstrip("\0")
    return _decode_text(value).rstrip("\0")


def _decode_utf16(body: bytes) -> str:
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", errors="replace")
    sample = body[:400]
    zeros_even = sum(1 for byte in sample[0::2] if byte == 0)
    zeros_odd = sum(1 for byte in sample[1::2] if byte == 0)
    encoding = "utf-16-be" if zeros_even > zeros_odd else "utf-16-le"
    return body[: len(body) - len(body) % 2].decode(encoding, errors="replace")


def _decode_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")
