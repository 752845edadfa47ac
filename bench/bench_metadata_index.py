"""Prompt search, filters and facets over 100k rows of synthetic InvokeAI-style records.

Measures, in one run on a temp SQLite file: insert cost with the metadata triggers, FTS search
for a common word (ranked), a prefix and a phrase, LoRA/model/seed filters, and album facets.

Usage: PYTHONPATH=. python bench/bench_metadata_index.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from photomapd.store.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store.store import Store

WORDS = [
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
    "girl",
    "city",
    "night",
    "river",
    "mountain",
    "dragon",
    "robot",
    "flower",
    "ocean",
]


def _summary(rng: random.Random) -> str:
    prompt = ", ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
    return json.dumps(
        {
            "generator": rng.choice(["invokeai", "invokeai", "a1111", "comfyui"]),
            "positive_prompt": prompt,
            "negative_prompt": "blurry, lowres",
            "model": {"name": f"model-{rng.randint(0, 30)}"},
            "seed": rng.randint(0, 2**32),
            "loras": [{"name": f"lora-{rng.randint(0, 200)}", "weight": 0.5}
                      for _ in range(rng.randint(0, 3))],
            "reference_images": [{"image_name": "r.png"}] if rng.random() < 0.05 else [],
        }
    )  # fmt: skip


async def _timed(label: str, coroutine_factory, repeat: int = 5) -> object:
    start = time.perf_counter()
    for _ in range(repeat):
        result = await coroutine_factory()
    elapsed = (time.perf_counter() - start) / repeat * 1000
    print(f"{label:<52} {elapsed:8.1f} ms")
    return result


async def main(rows: int) -> None:
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        await store.open()
        records = [
            ("album0", f"/images/{n}.png", 1, 1.0, 1_700_000_000 + n, "ok", _summary(rng), 1)
            for n in range(rows)
        ]
        start = time.perf_counter()
        await store.write_many(
            "INSERT INTO images (album, path, size, mtime, created_at, status, metadata_json, "
            "parser_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            records,
        )
        elapsed = time.perf_counter() - start
        print(f"insert {rows} rows with triggers: {elapsed:.1f} s ({rows / elapsed:.0f} rows/s)")
        index = MetadataIndex(store)
        search = index.search
        _, total = await _timed(
            "prompt=dragon (ranked, first 50)",
            lambda: search(MetadataFilter(prompt="dragon"), "album0", 50, 0),
        )
        print(f"  ({total} matches)")
        await _timed(
            "prompt=drag* (prefix)", lambda: search(MetadataFilter(prompt="drag*"), None, 50, 0)
        )
        await _timed(
            'prompt="neon city"', lambda: search(MetadataFilter(prompt='"neon city"'), None, 50, 0)
        )
        await _timed("lora=lora-7", lambda: search(MetadataFilter(lora="lora-7"), "album0", 50, 0))
        await _timed(
            "model=model-3 + has_reference",
            lambda: search(MetadataFilter(model="model-3", has_reference=True), "album0", 50, 0),
        )
        await _timed("seed=<exact>", lambda: search(MetadataFilter(seed=12345), None, 50, 0))
        await _timed(
            "matching_ids(prompt=cat) for semantic",
            lambda: index.matching_ids(MetadataFilter(prompt="cat"), "album0"),
        )
        await _timed("facets(album0)", lambda: index.facets("album0", MetadataFilter()), repeat=3)
        await _timed(
            "facets(album0, prompt=dragon)",
            lambda: index.facets("album0", MetadataFilter(prompt="dragon")),
            repeat=3,
        )
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().rows))
