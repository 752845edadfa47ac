"""A1111/NovelAI "stealth PNG info": text hidden in the alpha channel's least significant bits.

This is the one reader that decodes pixels, so it runs only for PNGs with alpha and no text
chunk at all. Bits are read column by column; after a 15-byte signature comes a 32-bit
big-endian bit count, then the payload (gzip for the *comp signatures).
"""

from __future__ import annotations

import gzip
import zlib
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from photomapd.metadata.source import MAX_CHUNK_BYTES

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

SIGNATURES = {"stealth_pnginfo": False, "stealth_pngcomp": True}
SIGNATURE_BITS = 15 * 8
MAX_PIXELS = 40_000_000


def read_stealth(stream: BinaryIO, source: Source) -> str | None:
    """The hidden text, or None. Sets `source.stealth_signature` when one is found."""
    width, height = source.pixel_width or 0, source.pixel_height or 0
    if width * height > MAX_PIXELS or width * height < 48:
        return None
    try:
        stream.seek(0)
        with Image.open(stream) as opened:
            image = opened if "A" in opened.getbands() else opened.convert("RGBA")
            alpha = np.asarray(image.getchannel("A"))
    except Exception as error:
        source.warn(f"could not decode pixels to look for stealth metadata: {error}")
        return None
    bits = (alpha.T & 1).ravel()
    if bits.size < SIGNATURE_BITS + 32:
        return None
    signature = np.packbits(bits[:SIGNATURE_BITS]).tobytes().decode("latin-1")
    if signature not in SIGNATURES:
        return None
    length = int("".join(map(str, bits[SIGNATURE_BITS : SIGNATURE_BITS + 32].tolist())), 2)
    payload_bits = bits[SIGNATURE_BITS + 32 : SIGNATURE_BITS + 32 + length]
    if length % 8 or payload_bits.size < length:
        source.warn(f"{signature} data is truncated or misaligned; ignored")
        return None
    payload = np.packbits(payload_bits).tobytes()
    if SIGNATURES[signature]:
        inflated = _gunzip(payload, source, signature)
        if inflated is None:
            return None
        payload = inflated
    source.stealth_signature = signature
    return payload.decode("utf-8", errors="replace")


def _gunzip(payload: bytes, source: Source, signature: str) -> bytes | None:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(payload, MAX_CHUNK_BYTES)
    except (zlib.error, gzip.BadGzipFile) as error:
        source.warn(f"{signature} payload is not valid gzip ({error}); ignored")
        return None
    return data
