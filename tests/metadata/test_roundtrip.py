"""Prompts written by Pillow (tEXt, zTXt, iTXt) come back exactly, non-Latin text included."""

from __future__ import annotations

import io
import json
import zlib

import pytest
from PIL import Image, PngImagePlugin

from photomapd.metadata import parse_bytes

CJK_PROMPT = "夕暮れの京都の路地、提灯の灯り 🏮✨, 고요한 밤 🌙, Ελληνικά, русский\n"


def png_with_text(chunks: dict[str, str], zip_: bool = False, mode: str = "RGB") -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value, zip=zip_)
    buffer = io.BytesIO()
    Image.new(mode, (8, 8), "red").save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _invoke_chunk(prompt: str) -> str:
    metadata = {
        "positive_prompt": prompt,
        "negative_prompt": "低画質",
        "model": {"key": "k", "hash": "blake3:h", "name": "モデル", "base": "sdxl", "type": "main"},
        "loras": [{"model": {"name": "水彩スタイル_v2"}, "weight": 0.6}],
        "seed": 1,
        "app_version": "6.14.2",
    }
    return json.dumps(metadata, ensure_ascii=False)


@pytest.mark.parametrize("zip_", [False, True])
def test_non_latin_itxt_prompt_round_trip(zip_: bool) -> None:
    data = png_with_text({"invokeai_metadata": _invoke_chunk(CJK_PROMPT)}, zip_=zip_)
    assert b"iTXt" in data  # Pillow switches to iTXt for non-Latin-1 text
    metadata = parse_bytes(data)
    assert metadata.summary["positive_prompt"] == CJK_PROMPT
    assert metadata.summary["negative_prompt"] == "低画質"
    assert metadata.summary["model"]["name"] == "モデル"
    assert metadata.summary["loras"] == [{"name": "水彩スタイル_v2", "weight": 0.6}]
    assert metadata.warnings == []
    assert json.loads(metadata.to_json())["summary"]["positive_prompt"] == CJK_PROMPT


def test_latin1_text_and_ztxt_round_trip() -> None:
    prompt = "café crème, naïve façade\nNegative prompt: blür\nSteps: 5, Seed: 7, Size: 64x64"
    data = png_with_text({"parameters": prompt}, zip_=True)
    assert b"zTXt" in data
    summary = parse_bytes(data).summary
    assert summary["positive_prompt"] == "café crème, naïve façade"
    assert summary["negative_prompt"] == "blür"
    assert (summary["seed"], summary["width"]) == (7, 64)


def test_oversized_chunk_is_skipped_with_a_warning() -> None:
    data = png_with_text({"invokeai_metadata": _invoke_chunk("p")})
    huge = 17 * 1024 * 1024
    header = huge.to_bytes(4, "big") + b"tEXt"
    # A chunk that claims 17 MB, placed before IEND; its bytes need not exist (no read).
    iend = data.rindex(b"IEND") - 4
    tampered = data[:iend] + header + b"x" * 16 + data[iend:]
    metadata = parse_bytes(tampered)
    assert metadata.summary["positive_prompt"] == "p"  # read before IDAT; never reached
    body = b"parameters\0" + b"a" * 100
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body
    chunk += zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    bare = png_with_text({})
    ihdr_end = 8 + 25
    capped = bare[:ihdr_end] + header + bare[ihdr_end:]
    warnings = parse_bytes(capped).warnings
    assert any("exceeds the 16 MB cap" in warning for warning in warnings)
