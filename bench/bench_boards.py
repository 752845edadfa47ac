"""InvokeAI database wiring at scale (not timed tests): reading InvokeAI's `images` table into the
cached snapshot, the per-file intermediate check (cached set vs one query per file), board
album membership, and the board sync against photomapd's own 100,000-row database (full pass,
new-rows-only pass, and the gallery page with the `board` column). Prints ratios from one run.

    PYTHONPATH=. .venv/bin/python bench/bench_boards.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from photomapd.albums.board_sync import BoardSync  # noqa: E402
from photomapd.invokeai.local_index import LocalIndex  # noqa: E402
from photomapd.store.store import Store  # noqa: E402
from tests.invokeai.test_local_db import SCHEMA_614  # noqa: E402


def build_invokeai(root: Path, rows: int) -> list[str]:
    (root / "databases").mkdir(parents=True)
    (root / "outputs" / "images").mkdir(parents=True)
    db = sqlite3.connect(root / "databases" / "invokeai.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_614)
    boards = [(f"board-{n}", f"Board {n}") for n in range(20)]
    db.executemany("INSERT INTO boards (board_id, board_name) VALUES (?, ?)", boards)
    names = [f"{uuid.UUID(int=n + 1, version=4)}.png" for n in range(rows)]
    db.executemany(
        "INSERT INTO images (image_name, image_origin, image_category, width, height,"
        " is_intermediate, image_subfolder) VALUES (?, 'internal', 'general', 1024, 1024, ?, ?)",
        ((name, int(n % 10 == 0), f"2026/11/{n % 28 + 1:02d}") for n, name in enumerate(names)),
    )
    db.executemany(
        "INSERT INTO board_images (board_id, image_name) VALUES (?, ?)",
        ((f"board-{n % 20}", name) for n, name in enumerate(names) if n % 3),
    )
    db.commit()
    db.close()
    return names


def timed(function, *args, repeat: int = 3):
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = function(*args)
        best = min(best, time.perf_counter() - started)
    return best, value


class FakeAlbums:
    """Just what BoardSync.sync_album touches."""

    def __init__(self, store: Store, local: LocalIndex) -> None:
        from photomapd.events import EventBus

        self.local = local
        self.store = store
        self.events = EventBus()
        self.pipeline = type("P", (), {"vectors": type("V", (), {"remove": lambda s, ids: 0})()})()

    def local_index(self) -> LocalIndex:
        return self.local


async def bench_store(folder: Path, images: Path, names: list[str], local: LocalIndex) -> None:
    from photomapd.config import AlbumConfig

    store = Store(folder / "photomapd.sqlite3")
    await store.open()
    now = time.time()
    await store.write_many(
        "INSERT INTO images (album, path, size, mtime, created_at, status) "
        "VALUES ('invokeai', ?, 1, ?, ?, 'ok')",
        ((str(images / name), now, now + n) for n, name in enumerate(names) if n % 10),
    )
    sync = BoardSync(FakeAlbums(store, local))  # type: ignore[arg-type]
    album = AlbumConfig("invokeai", "InvokeAI", [images])
    snapshot = local.snapshot(fresh=True)
    started = time.perf_counter()
    await sync.sync_album(album, snapshot)
    full = time.perf_counter() - started
    started = time.perf_counter()
    await sync.sync_album(album, snapshot)
    unchanged = time.perf_counter() - started
    started = time.perf_counter()
    moved = set(names[1:60:3])  # InvokeAI moved 20 images to another board
    await sync.sync_album(album, snapshot, moved)
    new_only = time.perf_counter() - started
    rows = len(await store.boards_of("invokeai"))
    print(f"board sync, first pass (writes {rows:,} boards):  {full * 1000:8.1f} ms")
    print(f"board sync, full pass, nothing changed:         {unchanged * 1000:8.1f} ms")
    print(
        f"board sync, new rows + 20 changed names:        {new_only * 1000:8.1f} ms  "
        f"({unchanged / max(new_only, 1e-9):.0f}x cheaper than a full pass)"
    )
    page_times = []
    for _ in range(5):
        started = time.perf_counter()
        page, _ = await store.list_images("invokeai", 50_000, 100)
        page_times.append(time.perf_counter() - started)
    assert page[0]["board"] is not None
    print(f"gallery page (100 rows at offset 50,000, with board): {min(page_times) * 1000:.1f} ms")
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "invokeai"
        names = build_invokeai(root, args.rows)
        local = LocalIndex(root, min_interval=0.0)
        images = local.images_dir
        read, snapshot = timed(
            lambda: local.snapshot(fresh=True) and local._read(local.signature())
        )
        print(f"InvokeAI rows: {args.rows:,} ({len(snapshot.intermediates):,} intermediate)")
        print(f"snapshot read (one query, whole table):         {read * 1000:8.1f} ms")
        sample = [images / name for name in names[:5000]]
        local.snapshot()
        cached, _ = timed(lambda: sum(local.is_intermediate(p) for p in sample))
        database = local.database
        opened, _ = timed(
            lambda: sum(
                database._connect()
                .execute("SELECT is_intermediate FROM images WHERE image_name = ?", (p.name,))
                .fetchone()[0]
                for p in sample[:300]
            )
        )
        per_cached, per_opened = cached / len(sample), opened / 300
        print(
            f"intermediate check per watcher event: cached set {per_cached * 1e6:.2f} us, "
            f"read-only connection + query each {per_opened * 1e6:.0f} us "
            f"({per_opened / max(per_cached, 1e-12):.0f}x)"
        )
        membership, chosen = timed(lambda: local.database.images(["board-3"]))
        print(
            f"board album membership (1 board, {len(chosen):,} images): {membership * 1000:.1f} ms"
        )
        asyncio.run(bench_store(Path(temp), images, names, local))


if __name__ == "__main__":
    main()
