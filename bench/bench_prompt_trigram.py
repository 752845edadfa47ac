"""Cost of the trigram index for CJK/Thai prompt search (schema 5) at 100k rows.

Builds the same synthetic library twice in temp SQLite files: at schema 4 (unicode61 index
only) and at schema 5 (plus `prompt_trigram` for rows with unsegmented-script text). Reports
insert throughput, the back-fill time of migration 5 on the schema-4 copy, the size of each
index (dbstat), and query times for 1-, 2- and 3+-character CJK terms, a mixed query and a
Latin word (the unchanged ranked path).

Usage: PYTHONPATH=. python bench/bench_prompt_trigram.py [--rows 100000] [--cjk-share 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.bench_metadata_index import WORDS
from photomapd.store.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store.schema import MIGRATIONS
from photomapd.store.store import Store

# Japanese and Chinese prompt fragments, written as such prompts are: no spaces inside a run.
CJK_WORDS = [
    "古い城",
    "の夜",
    "月明かり",
    "桜の木",
    "少女",
    "油絵",
    "山上的城堡",
    "夕焼け",
    "雪景色",
    "猫",
    "竜",
    "森の中",
    "城下町",
    "星空",
    "和服",
    "水彩画",
    "街並み",
    "海辺",
    "花火",
    "侍",
]


def _prompt(rng: random.Random, cjk: bool) -> str:
    if not cjk:
        return ", ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
    runs = ["".join(rng.choice(CJK_WORDS) for _ in range(rng.randint(1, 4))) for _ in range(4)]
    latin = [rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
    return ", ".join(runs + latin)


def _rows(count: int, cjk_share: float) -> list[tuple[object, ...]]:
    rng = random.Random(5)
    rows = []
    for n in range(count):
        summary = {
            "generator": "invokeai",
            "positive_prompt": _prompt(rng, rng.random() < cjk_share),
            "negative_prompt": "blurry, lowres",
            "model": {"name": f"model-{rng.randint(0, 30)}"},
            "seed": n,
        }
        rows.append(
            ("album0", f"/images/{n}.png", 1, 1.0, 1_700_000_000 + n, "ok",
             json.dumps(summary, ensure_ascii=False))
        )  # fmt: skip
    return rows


INSERT = (
    "INSERT INTO images (album, path, size, mtime, created_at, status, metadata_json) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _build(path: Path, version: int, rows: list[tuple[object, ...]]) -> float:
    connection = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    start = time.perf_counter()
    connection.executemany(INSERT, rows)
    connection.commit()
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def _sizes(path: Path) -> dict[str, float]:
    connection = sqlite3.connect(path)
    sizes = {}
    for prefix in ("prompt_fts", "prompt_trigram"):
        row = connection.execute(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE ?", (prefix + "%",)
        ).fetchone()
        sizes[prefix] = row[0] / 2**20
    sizes["file"] = path.stat().st_size / 2**20
    connection.close()
    return sizes


async def _time_queries(path: Path, label: str) -> None:
    store = Store(path)
    await store.open()  # migrates a schema-4 file to 5 first
    index = MetadataIndex(store)
    queries = ["城", "古い", "城の夜", "月明かり", "girl 城", "dragon", "drag*"]
    for query in queries:
        repeat = 5
        start = time.perf_counter()
        for _ in range(repeat):
            _, total = await index.search(MetadataFilter(prompt=query), "album0", 50, 0)
        elapsed = (time.perf_counter() - start) / repeat * 1000
        print(f"  {label} prompt={query!r:<14} {elapsed:8.1f} ms  ({total} matches)")
    await store.close()


async def main(count: int, cjk_share: float) -> None:
    rows = _rows(count, cjk_share)
    with tempfile.TemporaryDirectory() as tmp:
        old, new = Path(tmp) / "schema4.sqlite3", Path(tmp) / "schema5.sqlite3"
        old_seconds = _build(old, 4, rows)
        new_seconds = _build(new, len(MIGRATIONS), rows)
        print(f"{count} rows, {cjk_share:.0%} with CJK text")
        print(f"insert at schema 4: {old_seconds:.1f} s ({count / old_seconds:.0f} rows/s)")
        print(f"insert at schema 5: {new_seconds:.1f} s ({count / new_seconds:.0f} rows/s)")
        before = _sizes(old)
        start = time.perf_counter()
        store = Store(old)
        await store.open()
        await store.close()
        print(f"migration 5 back-fill of the schema-4 file: {time.perf_counter() - start:.2f} s")
        after = _sizes(new)
        print(
            f"sizes (MiB): unicode61 index {after['prompt_fts']:.1f}, trigram index "
            f"{after['prompt_trigram']:.1f}; file {before['file']:.1f} at schema 4, "
            f"{after['file']:.1f} at schema 5"
        )
        await _time_queries(new, "schema 5")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cjk-share", type=float, default=0.1)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.cjk_share))
