"""PNG chunk walker: text chunks (tEXt/zTXt/iTXt), eXIf, size and alpha, without decoding pixels.

Reading stops at the first IDAT when text was already found. Otherwise it skips over the
image data (seeking, not inflating) because some tools (ImageMagick) move text chunks after it.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, BinaryIO

from photomapd.metadata.exif import parse_exif
from photomapd.metadata.source import MAX_CHUNK_BYTES

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
MAX_INFLATED_BYTES = MAX_CHUNK_BYTES
MAX_CHUNKS = 100_000
# Keys that carry generation data. Once one is seen before IDAT, the reader stops there;
# other text (ImageMagick's date:*, filename:*) does not count, since tools that write those
# also move the real chunks after the pixels.
GENERATION_KEYS = {
    "invokeai_metadata",
    "invokeai_graph",
    "invokeai_workflow",
    "dream",
    "sd-metadata",
    "parameters",
    "parameters-json",
    "prompt",
    "workflow",
    "comment",
    "description",
    "xml:com.adobe.xmp",
    "negative_prompt",
}


def read_png(stream: BinaryIO, source: Source) -> None:
    """Fill `source` from a PNG stream positioned just after the 8-byte signature."""
    source.image_format = "PNG"
    for _ in range(MAX_CHUNKS):
        header = stream.read(8)
        if not header:
            source.warn("PNG ends without an IEND chunk (file truncated?)")
            return
        if len(header) < 8:
            source.warn("PNG truncated inside a chunk header")
            return
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return
        if kind == b"IDAT":
            if any(key.lower() in GENERATION_KEYS for key in source.text):
                return  # header-only: everything we need came before the pixels
            stream.seek(length + 4, 1)
            continue
        if kind in TEXT_CHUNKS or kind in (b"IHDR", b"eXIf"):
            if not _read_small_chunk(stream, source, kind, length):
                return
            continue
        if kind == b"tRNS":
            source.has_alpha = True
        elif kind == b"caBX":
            source.has_c2pa = True
        stream.seek(length + 4, 1)
    source.warn("PNG has too many chunks; stopped reading")


def _read_small_chunk(stream: BinaryIO, source: Source, kind: bytes, length: int) -> bool:
    """Read and handle one metadata chunk; False when the file ends inside it."""
    name = kind.decode("ascii")
    if length > MAX_CHUNK_BYTES:
        source.warn(f"{name} chunk of {length} bytes exceeds the 16 MB cap; skipped")
        stream.seek(length + 4, 1)
        return True
    data = stream.read(length)
    crc = stream.read(4)
    if len(data) < length or len(crc) < 4:
        source.warn(f"PNG truncated inside a {name} chunk; its text is incomplete and was ignored")
        return False
    if zlib.crc32(kind + data) != int.from_bytes(crc, "big"):
        source.warn(f"{name} chunk has a bad CRC (file corrupted?); its text was read anyway")
    if kind == b"IHDR":
        _read_ihdr(data, source)
    elif kind == b"eXIf":
        source.exif.update(parse_exif(data, source))
    else:
        _read_text(kind, data, source)
    return True


def _read_ihdr(data: bytes, source: Source) -> None:
    if len(data) < 13:
        source.warn("PNG IHDR chunk is too short")
        return
    width, height, _depth, color_type = struct.unpack(">IIBB", data[:10])
    source.pixel_width, source.pixel_height = width, height
    # 4 = grey + alpha, 6 = RGBA; palette/grey/RGB get alpha only through tRNS.
    source.has_alpha = source.has_alpha or color_type in (4, 6)


def _read_text(kind: bytes, data: bytes, source: Source) -> None:
    keyword_bytes, separator, rest = data.partition(b"\0")
    if not separator or not keyword_bytes:
        source.warn(f"{kind.decode()} chunk without a keyword; ignored")
        return
    keyword = keyword_bytes.decode("latin-1")[:79]
    text: str | None
    if kind == b"tEXt":
        text = _decode_latin_or_utf8(rest)
    elif kind == b"zTXt":
        inflated = _inflate(rest[1:], keyword, source)
        if inflated is None:
            return
        text = _decode_latin_or_utf8(inflated)
    else:
        text = _read_itxt(rest, keyword, source)
        if text is None:
            return
    if keyword in source.text:
        source.warn(f"duplicate text chunk {keyword!r}; the first one was kept")
        return
    source.text[keyword] = text
    source.text_kinds[keyword] = kind.decode()
    if keyword == "XML:com.adobe.xmp" and source.xmp is None:
        source.xmp = text


def _read_itxt(rest: bytes, keyword: str, source: Source) -> str | None:
    if len(rest) < 2:
        source.warn(f"iTXt chunk {keyword!r} is too short; ignored")
        return None
    compressed = rest[0] == 1
    _language, _, rest = rest[2:].partition(b"\0")
    _translated, _, payload = rest.partition(b"\0")
    if compressed:
        inflated = _inflate(payload, keyword, source)
        if inflated is None:
            return None
        payload = inflated
    return payload.decode("utf-8", errors="replace")


def _decode_latin_or_utf8(data: bytes) -> str:
    """tEXt is Latin-1 by spec, but many writers put UTF-8 bytes in it (Stability Matrix).

    Valid UTF-8 with non-ASCII bytes is almost never intended Latin-1 text, so prefer it.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _inflate(data: bytes, keyword: str, source: Source) -> bytes | None:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as error:
        source.warn(f"compressed text chunk {keyword!r} is corrupt ({error}); ignored")
        return None
    if inflater.unconsumed_tail:
        source.warn(f"compressed text chunk {keyword!r} inflates past the 16 MB cap; truncated")
    return inflated
