"""Images for UI tests: distinct colours so the tiny CLIP gives distinct vectors, and copies of
real InvokeAI files from the shared corpus (read at run time, never committed)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from PIL import Image, PngImagePlugin

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


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


def copy_corpus(
    target: Path, folders: tuple[str, ...] = ("invokeai-v6", "invokeai-v3", "a1111", "none")
) -> list[Path]:
    copied = []
    for name in folders:
        source = CORPUS / name
        if not source.is_dir():
            continue
        for file in sorted(source.iterdir()):
            if (
                file.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp")
                and file.stat().st_size > 0
            ):
                destination = target / f"{name}-{file.name}"
                shutil.copyfile(file, destination)
                copied.append(destination)
    return copied
