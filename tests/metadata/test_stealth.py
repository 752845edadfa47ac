"""Stealth alpha-LSB metadata: the opt-in second pass for PNGs with alpha and no text."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
from PIL import Image

from photomapd.metadata import parse_bytes

INFOTEXT = "a circle\nNegative prompt: a square\nSteps: 20, Sampler: Euler, Seed: 5, Size: 64x64"


def stealth_png(text: str, signature: str, width: int = 64, height: int = 64) -> bytes:
    payload = text.encode()
    if signature.endswith("comp"):
        payload = gzip.compress(payload)
    bits = "".join(f"{byte:08b}" for byte in signature.encode())
    bits += f"{len(payload) * 8:032b}" + "".join(f"{byte:08b}" for byte in payload)
    alpha = np.full(width * height, 254, dtype=np.uint8)
    alpha[: len(bits)] |= np.array([int(bit) for bit in bits], dtype=np.uint8)
    # Bits run down each column first, so fill (x, y) in column-major order.
    alpha_image = alpha.reshape(width, height).T
    rgba = np.dstack([np.zeros((height, width, 3), np.uint8), alpha_image])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_uncompressed_and_gzip_signatures() -> None:
    for signature in ("stealth_pnginfo", "stealth_pngcomp"):
        metadata = parse_bytes(stealth_png(INFOTEXT, signature))
        assert metadata.summary["positive_prompt"] == "a circle"
        assert metadata.summary["negative_prompt"] == "a square"
        assert f"parameters ({signature})" in metadata.raw
        assert parse_bytes(stealth_png(INFOTEXT, signature), stealth=False).raw == {}


def test_novelai_stealth_json_becomes_text_chunks() -> None:
    comment = json.dumps({"uc": "bad", "scale": 5, "prompt": "cat"})
    document = json.dumps({"Software": "NovelAI", "Comment": comment})
    summary = parse_bytes(stealth_png(document, "stealth_pngcomp")).summary
    assert (summary["generator"], summary["positive_prompt"]) == ("novelai", "cat")


def test_alpha_without_signature_and_rgb_are_left_alone() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (32, 32), (1, 2, 3, 255)).save(buffer, format="PNG")
    metadata = parse_bytes(buffer.getvalue())
    assert metadata.summary["generator"] is None and metadata.warnings == []
