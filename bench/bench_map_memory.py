"""Memory of the map service at 100k images, and the cost of placing one new image.

Builds a throwaway data folder (SQLite with N synthetic 512-d embeddings and prompts, the usearch
index, a saved map so no UMAP fit runs), then measures the process's RSS before and after the
MapService has loaded the album, and the end-to-end latency of one placement (event in ->
map_updated out: vector fetched from SQLite, placed, saved, announced).

Run: /work/main/.venv/bin/python bench/bench_map_memory.py [--points 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_map import clustered_vectors
from photomapd.events import EventBus, EventKind
from photomapd.map import service as map_service_module
from photomapd.map.service import MapService
from photomapd.search.vector_space import VectorSpace
from photomapd.store.store import Store

MODEL = "bench-model"
ALBUM = "album0"
WORDS = [
    "castle",
    "forest",
    "robot",
    "portrait",
    "ocean",
    "neon",
    "city",
    "dragon",
    "flower",
    "mountain",
    "cat",
    "knight",
]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def prompt(rng: np.random.Generator) -> str:
    words = " ".join(rng.choice(WORDS, 12))
    return f'{{"positive_prompt": "masterpiece, best quality, {words}, highly detailed"}}'


async def populate(store: Store, vectors: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    now = time.time()
    count = len(vectors)

    def write(connection) -> None:  # type: ignore[no-untyped-def]
        connection.executemany(
            "INSERT INTO images (id, album, path, size, mtime, status, created_at, "
            "indexed_at, metadata_json) VALUES (?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
            (
                (i + 1, ALBUM, f"/bench/{i}.png", 1000 + i, now, now, now, prompt(rng))
                for i in range(count)
            ),
        )
        connection.executemany(
            "INSERT INTO embeddings (image_id, model_id, vector) VALUES (?, ?, ?)",
            ((i + 1, MODEL, vectors[i].tobytes()) for i in range(count)),
        )
        connection.commit()

    await store.run_in_writer(write)


async def save_map(service: MapService, count: int) -> None:
    """A saved map for every point, so loading restores it instead of starting a 100k fit."""
    from photomapd.map.payload import MapPoints
    from photomapd.map.store import MapState

    rng = np.random.default_rng(2)
    points = MapPoints.build(
        np.arange(1, count + 1), rng.random((count, 2)), rng.integers(-1, 30, count)
    )
    await service.map_store.ensure_schema()
    await service.map_store.replace(ALBUM, points, [], MapState(1, count, 0.5, time.time()))


async def main(count: int) -> None:
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, points: {count:,}")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        vectors = clustered_vectors(count + 50).astype(np.float32)
        store = Store(data / "photomapd.sqlite3")
        await store.open()
        await populate(store, vectors[:count])
        space = VectorSpace(data, MODEL)
        await space.sync(store)
        events = EventBus()
        arguments = {"vector_space": lambda: space}
        accepted = inspect.signature(MapService).parameters
        service = MapService(
            store,
            events,
            model_id=lambda: MODEL,
            album_keys=lambda: [ALBUM],
            min_seconds_between_fits=10**6,
            **{key: value for key, value in arguments.items() if key in accepted},
        )
        await save_map(service, count)
        new_vectors = vectors[count:]
        del vectors
        gc.collect()
        before = rss_mb()
        print(f"RSS before the map service loads: {before:8.1f} MB", flush=True)
        started = time.perf_counter()
        await service.start()
        while not service.has_album(ALBUM) or service.is_loading(ALBUM):
            await asyncio.sleep(0.05)
        loaded = time.perf_counter() - started
        gc.collect()
        after = rss_mb()
        print(f"map of {count:,} points loaded in {loaded:.2f} s", flush=True)
        print(f"RSS after:                        {after:8.1f} MB", flush=True)
        print(f"map service holds:                {after - before:8.1f} MB", flush=True)

        entry = service._albums[ALBUM]
        prompts = entry.semantic.prompts
        prompt_mb = (sys.getsizeof(prompts) + sum(map(sys.getsizeof, prompts.values()))) / 2**20
        print(f"  of which prompts (cluster labels): {prompt_mb:6.1f} MB", flush=True)
        stamps = getattr(entry, "stamps", {})
        stamp_mb = (sys.getsizeof(stamps) + sum(map(sys.getsizeof, stamps.values()))) / 2**20
        print(f"  of which file stamps:              {stamp_mb:6.1f} MB", flush=True)
        if hasattr(service, "_album_rows"):  # positions-only service: what a refit loads
            started = time.perf_counter()
            ids, loaded = await service._album_vectors(ALBUM)
            seconds = time.perf_counter() - started
            print(
                f"refit's vector load from SQLite: {len(ids):,} x {loaded.shape[1]} in "
                f"{seconds:.2f} s, RSS {rss_mb():.1f} MB while held",
                flush=True,
            )
            del ids, loaded
            gc.collect()
            print(f"RSS after dropping them:          {rss_mb():8.1f} MB", flush=True)

        # One placement at a time, end to end (the 0.3 s batching window set to 0).
        map_service_module.FLUSH_SECONDS = 0.0
        updates: asyncio.Queue[dict] = asyncio.Queue()
        events.add_listener(
            lambda event: event.kind == EventKind.MAP_UPDATED and updates.put_nowait(event.data)
        )
        timings = []
        for offset, vector in enumerate(new_vectors):
            image_id = count + 1 + offset
            await store.write(
                "INSERT INTO images (id, album, path, size, mtime, status, created_at) "
                "VALUES (?, ?, ?, 1, 0, 'ok', 0)",
                (image_id, ALBUM, f"/bench/new{offset}.png"),
            )
            await store.write(
                "INSERT INTO embeddings (image_id, model_id, vector) VALUES (?, ?, ?)",
                (image_id, MODEL, vector.tobytes()),
            )
            await asyncio.to_thread(space.add, np.array([image_id]), vector[None, :])
            started = time.perf_counter()
            events.publish(
                EventKind.IMAGE_ADDED,
                {
                    "image": {
                        "id": image_id,
                        "album": ALBUM,
                        "embedded": True,
                        "status": "ok",
                        "size": 1,
                        "mtime": 0,
                    }
                },
            )
            update = await asyncio.wait_for(updates.get(), 30)
            assert update["added"][0]["id"] == image_id, update
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(
            f"place one new image at {count:,}: median {statistics.median(timings) * 1000:.1f} ms, "
            f"p90 {timings[int(len(timings) * 0.9)] * 1000:.1f} ms, "
            f"max {timings[-1] * 1000:.1f} ms (n={len(timings)}, event in -> map_updated out)",
            flush=True,
        )
        gc.collect()
        print(f"RSS after {len(timings)} placements:        {rss_mb():8.1f} MB", flush=True)
        await service.stop()
        await store.close()
        print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().points))
