"""Images for UI tests: distinct colours so the tiny CLIP gives distinct vectors."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, PngImagePlugin


def write_png(
    path: Path, colour: tuple[int, int, int], size: int = 96, text: dict[str, str] | None = None
) -> Path:
    image = Image.new("RGB", (size, size), colour)
    for x in range(0, size, 6):
        image.putpixel((x, (x * 7) % size), (255 - colour[0], 255 - colour[1], 255 - colour[2]))
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(buffer.getvalue())
    os.replace(temp, path)  # appear complete, as InvokeAI's final rename does
    return path


def colours(count: int) -> list[tuple[int, int, int]]:
    return [((37 * i) % 256, (91 * i + 40) % 256, (151 * i + 80) % 256) for i in range(count)]


def colour_folder(folder: Path, count: int, prefix: str = "seed") -> Path:
    """`folder`, made, holding `count` distinctly coloured PNGs named {prefix}_{index}.png."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, colour in enumerate(colours(count)):
        write_png(folder / f"{prefix}_{index}.png", colour)
    return folder
