"""Header-only metadata throughput on typical InvokeAI PNGs vs. a full Pillow decode.

Writes N 1024x1024 PNGs with real-shaped InvokeAI 6.x chunks (invokeai_metadata ~1 KB,
invokeai_graph ~6 KB, every 10th file also a ~50 KB invokeai_workflow) into a temp dir, then
times, in one process on one core:
  1. photomapd.metadata.read_metadata over every file (the indexer's first pass),
  2. Pillow Image.open + .info (Pillow's own header read, for reference),
  3. Pillow Image.open + load() (full decode) on a sample, the baseline the issue names.

Usage: python bench/bench_metadata.py [--count 2000] [--decode-sample 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import struct
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from photomapd.metadata import read_metadata

SIZE = 1024


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _idat(seed: int) -> bytes:
    """A noisy gradient compressed at level 1 (InvokeAI's pil_compress_level): ~1.5 MB."""
    rng = np.random.default_rng(seed)
    gradient = np.linspace(0, 255, SIZE, dtype=np.float32)
    base = (gradient[None, :, None] + gradient[:, None, None]) / 2
    noise = rng.integers(0, 24, size=(SIZE, SIZE, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    rows = np.concatenate([np.zeros((SIZE, 1), np.uint8), pixels.reshape(SIZE, -1)], axis=1)
    compressed = zlib.compress(rows.tobytes(), 1)
    step = 65536  # Pillow writes IDAT in 64 KB chunks
    return b"".join(
        _chunk(b"IDAT", compressed[i : i + step]) for i in range(0, len(compressed), step)
    )


def _metadata(index: int, rng: random.Random) -> dict:
    words = [
        "cat",
        "fox",
        "castle",
        "neon",
        "forest",
        "portrait",
        "oil",
        "painting",
        "cinematic",
        "dusk",
        "snow",
    ]
    prompt = ", ".join(rng.choice(words) for _ in range(rng.randint(8, 60)))
    model = {"key": f"k-{index % 7}", "hash": "blake3:" + "ab" * 32, "name": f"Model {index % 7}",
             "base": "sdxl", "type": "main"}  # fmt: skip
    return {
        "generation_mode": "sdxl_txt2img", "positive_prompt": prompt, "negative_prompt": "blurry",
        "width": SIZE, "height": SIZE, "seed": rng.randint(0, 2**32 - 1), "rand_device": "cpu",
        "cfg_scale": 7.0, "cfg_rescale_multiplier": 0.0, "steps": 30, "scheduler": "dpmpp_2m_k",
        "model": model, "loras": [{"model": {**model, "name": "detail", "type": "lora"},
        "weight": 0.6}], "ref_images": [], "app_version": "6.14.2",
    }  # fmt: skip


def write_corpus(folder: Path, count: int) -> int:
    idat = _idat(0)
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
    rng = random.Random(1)
    workflow = json.dumps({"nodes": [{"id": f"n{i}", "data": {"x": "y" * 40}} for i in range(800)]})
    total = 0
    for index in range(count):
        metadata = json.dumps(_metadata(index, rng), separators=(",", ":"))
        graph = json.dumps(
            {"id": "graph", "nodes": {f"node{i}": {"v": "z" * 50} for i in range(90)}}
        )
        text = _chunk(b"tEXt", b"invokeai_metadata\0" + metadata.encode())
        if index % 10 == 0:
            text += _chunk(b"tEXt", b"invokeai_workflow\0" + workflow.encode())
        text += _chunk(b"tEXt", b"invokeai_graph\0" + graph.encode())
        data = b"\x89PNG\r\n\x1a\n" + ihdr + text + idat + _chunk(b"IEND", b"")
        (folder / f"{index:05d}.png").write_bytes(data)
        total += len(data)
    return total


def _rate(label: str, paths: list[Path], action) -> float:
    start = time.perf_counter()
    for path in paths:
        action(path)
    elapsed = time.perf_counter() - start
    per_file_ms = elapsed / len(paths) * 1000
    print(
        f"{label:<46} {len(paths):>5} files  {len(paths) / elapsed:>9.0f} files/s  {per_file_ms:7.3f} ms/file"
    )
    return len(paths) / elapsed


def _pillow_info(path: Path) -> None:
    with Image.open(path) as image:
        image.info.get("invokeai_metadata")


def _pillow_decode(path: Path) -> None:
    with Image.open(path) as image:
        image.load()


def _check(path: Path) -> None:
    summary = read_metadata(path).summary
    assert summary["generator"] == "invokeai" and summary["seed"] is not None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--decode-sample", type=int, default=100)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {platform.processor() or platform.machine()}"
          f"  nproc={os.cpu_count()}  python {platform.python_version()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        total = write_corpus(folder, args.count)
        paths = sorted(folder.glob("*.png"))
        print(f"wrote {len(paths)} PNGs {SIZE}x{SIZE}, {total / len(paths) / 1e6:.2f} MB each")
        _check(paths[0])
        for path in paths:  # warm the page cache so every variant reads from memory
            path.read_bytes()
        header = _rate("photomapd read_metadata (header-only)", paths, read_metadata)
        info = _rate("Pillow open + info (header)", paths, _pillow_info)
        decode = _rate(
            "Pillow open + load (full decode)", paths[: args.decode_sample], _pillow_decode
        )
        print(f"read_metadata vs full decode: {header / decode:.0f}x faster; "
              f"vs Pillow header read: {header / info:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
