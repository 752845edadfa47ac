"""Semantic map benchmarks: 50k-point layout, placing one new image, 100k-point map payload.

Run: /work/main/.venv/bin/python bench/bench_map.py [--layout-points 50000] [--refit]
Prints each measurement with its ratio to the target (ratio <= 1.0 meets it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from photomapd.map.clusters import cluster_points, describe_clusters
from photomapd.map.layout import fit_layout
from photomapd.map.payload import MapPoints, encode_payload


def clustered_vectors(n: int, k: int = 40, dim: int = 512, seed: int = 0) -> np.ndarray:
    """Unit vectors around k random centres (CLIP-like: noise norm ~1 per point)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vectors = centres[rng.integers(0, k, n)] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def report(name: str, seconds: float, target: float | None) -> None:
    ratio = f"  ratio {seconds / target:.3f} (target {target * 1000:.0f} ms)" if target else ""
    print(f"{name:<48} {seconds * 1000:>10.1f} ms{ratio}", flush=True)


def compare_transform(vectors: np.ndarray, new_vectors: np.ndarray) -> None:
    import warnings

    import umap

    reducer = umap.UMAP(
        n_neighbors=15, min_dist=0.05, metric="cosine", random_state=42, n_jobs=1, low_memory=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer.fit(vectors)
        start = time.perf_counter()
        reducer.transform(new_vectors[:1])
        report("umap transform(), first call", time.perf_counter() - start, 0.1)
        timings = []
        for offset in range(1, 21):
            start = time.perf_counter()
            reducer.transform(new_vectors[offset : offset + 1])
            timings.append(time.perf_counter() - start)
    report("umap transform(), later calls (median of 20)", statistics.median(timings), 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout-points", type=int, default=50_000)
    parser.add_argument("--payload-points", type=int, default=100_000)
    parser.add_argument("--refit", action="store_true", help="also time a +25 %% refit")
    parser.add_argument(
        "--compare-transform",
        action="store_true",
        help="also time umap's own transform() for one new image (the alternative to k-NN)",
    )
    args = parser.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()} nproc={os.cpu_count()}")
    # The box may be shared: the load average says how much of the 2 cores we really had.
    print(f"load average at start: {os.getloadavg()}")

    start = time.perf_counter()
    fit_layout(np.arange(2000), clustered_vectors(2000, seed=9))
    report("UMAP JIT warm-up (first fit, 2k points)", time.perf_counter() - start, None)

    n = args.layout_points
    vectors = clustered_vectors(n + 200)
    start = time.perf_counter()
    layout = fit_layout(np.arange(n), vectors[:n])
    report(f"layout {n:,} points (UMAP fit)", time.perf_counter() - start, 90.0)

    timings = []
    for offset in range(100):
        start = time.perf_counter()
        layout.add(np.array([n + offset]), vectors[n + offset : n + offset + 1])
        timings.append(time.perf_counter() - start)
    report(f"place one new image at {n:,} (median of 100)", statistics.median(timings), 0.1)
    report(f"place one new image at {n:,} (max of 100)", max(timings), 0.1)

    start = time.perf_counter()
    labels = cluster_points(layout.xy)
    report(f"cluster {len(layout):,} points", time.perf_counter() - start, None)
    start = time.perf_counter()
    describe_clusters(
        layout.ids, layout.xy, labels, [f"a photo of thing {i % 97}" for i in range(len(layout))]
    )
    report(f"describe clusters with prompts ({len(layout):,})", time.perf_counter() - start, None)

    if args.refit:
        grown = int(n * 0.25)
        more = clustered_vectors(grown, seed=5)
        ids = np.arange(len(layout) + grown) + 10**6
        ids[: len(layout)] = layout.ids
        start = time.perf_counter()
        refitted = fit_layout(ids, np.concatenate([layout.vectors, more]), previous=layout)
        report(f"refit {len(ids):,} points from previous layout", time.perf_counter() - start, None)
        moved = np.linalg.norm(refitted.xy[: len(layout)] - layout.xy, axis=1).mean()
        print(f"{'  mean move of known points (extent 1.0)':<48} {moved:>10.4f}")

    if args.compare_transform:
        compare_transform(vectors[:n], vectors[n:])

    m = args.payload_points
    rng = np.random.default_rng(1)
    ids = np.cumsum(rng.integers(1, 3, m))
    points = MapPoints.build(ids, rng.random((m, 2)), rng.integers(-1, 60, m))
    encode_payload(points, "bench", 1)
    timings = []
    for _ in range(10):
        start = time.perf_counter()
        body = json.dumps(encode_payload(points, "bench", 1)).encode()
        timings.append(time.perf_counter() - start)
    report(f"map payload build + JSON, {m:,} points", statistics.median(timings), 0.2)
    start = time.perf_counter()
    compressed = gzip.compress(body, compresslevel=6)
    report("  + gzip level 6", time.perf_counter() - start, None)
    print(
        f"{'  payload size JSON / gzip (MB)':<48} {len(body) / 1e6:>6.2f} / {len(compressed) / 1e6:.2f}"
        f"  ratio {len(compressed) / 2e6:.3f} (target 2 MB)"
    )
    plain = json.dumps(
        {
            "ids": ids.tolist(),
            "x": np.round(points.xy[:, 0] * 65535).astype(int).tolist(),
            "y": np.round(points.xy[:, 1] * 65535).astype(int).tolist(),
            "cluster": points.clusters.tolist(),
        }
    ).encode()
    print(
        f"{'  (plain JSON int arrays, for comparison, MB)':<48} {len(plain) / 1e6:>6.2f} / "
        f"{len(gzip.compress(plain, 6)) / 1e6:.2f}"
    )


def _main_with_load() -> None:
    main()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    _main_with_load()
