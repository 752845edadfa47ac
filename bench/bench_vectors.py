"""VectorIndex (usearch f16, cos) at gallery scale: add rate, query latency, recall vs exact.

Default: 100,000 x 512 clustered unit vectors (CLIP-like: many near-duplicates), 1,000
held-out queries. Measures bulk rebuild and live (batch 32) add rates, single-query p50/p95
through VectorIndex.search (lock + normalise included) unfiltered and with album-style
filters, recall@10 against NumPy exact search, and save/load time.
Usage: python bench/bench_vectors.py [--n 100000] [--dim 512] [--queries 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import usearch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from photomapd.search.vectors import VectorIndex


def unit_rows(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    rows = rng.standard_normal((count, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class ClipLike:
    """Unit vectors shaped like CLIP image embeddings: a shared direction (unrelated images
    still score ~0.45), topics (~0.7) and tight groups of variants (~0.9)."""

    def __init__(self, dim: int, topics: int, groups: int, rng: np.random.Generator) -> None:
        self.rng = rng
        self.shared = unit_rows(rng, 1, dim)[0]
        self.topics = unit_rows(rng, topics, dim)
        self.groups = unit_rows(rng, topics * groups, dim)
        self.groups_per_topic = groups

    def sample(self, count: int) -> np.ndarray:
        group = self.rng.integers(0, len(self.groups), count)
        topic = group // self.groups_per_topic
        noise = unit_rows(self.rng, count, self.shared.shape[0])
        points = 0.8 * self.shared + 0.6 * self.topics[topic] + 0.5 * self.groups[group]
        points = points + 0.35 * noise
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def percentiles(samples_ms: list[float]) -> str:
    p50, p95 = np.percentile(samples_ms, [50, 95])
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, mask=None) -> np.ndarray:
    scores = queries @ vectors.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return top


def recall(results: list[list[int]], truth: np.ndarray, ids: np.ndarray) -> float:
    hits = sum(len(set(r) & set(ids[t].tolist())) for r, t in zip(results, truth, strict=True))
    return hits / (len(results) * truth.shape[1])


def timed_searches(index: VectorIndex, queries: np.ndarray, k: int, allowed=None):
    results, samples = [], []
    for query in queries:
        started = time.perf_counter()
        found = index.search(query, k, allowed=allowed)
        samples.append((time.perf_counter() - started) * 1000)
        results.append([key for key, _ in found])
    return results, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--groups", type=int, default=20, help="variant groups per topic")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data = ClipLike(args.dim, args.topics, args.groups, rng)
    vectors = data.sample(args.n)
    queries = data.sample(args.queries)  # held out
    ids = np.arange(1, args.n + 1, dtype=np.int64)
    k = 10
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  nproc={os.cpu_count()}")
    print(f"# load average {os.getloadavg()[0]:.2f}, usearch {usearch.__version__}")
    print(
        f"# {args.n} x {args.dim} CLIP-like unit vectors ({args.topics} topics x {args.groups} "
        f"groups), {args.queries} held-out queries, k={k}"
    )

    with tempfile.TemporaryDirectory() as folder:
        index = VectorIndex(Path(folder) / "vectors.usearch", args.dim)
        live = min(2000, args.n // 10)
        started = time.perf_counter()
        index.rebuild(ids[:-live], vectors[:-live])
        bulk = (args.n - live) / (time.perf_counter() - started)
        started = time.perf_counter()
        for start in range(args.n - live, args.n, 32):
            index.add(ids[start : start + 32], vectors[start : start + 32])
        incremental = live / (time.perf_counter() - started)
        print(f"add, bulk rebuild        {bulk:9.0f} vectors/s")
        print(f"add, live batches of 32  {incremental:9.0f} vectors/s")

        truth = exact_top(vectors, queries, k)
        results, samples = timed_searches(index, queries, k)
        print(
            f"search unfiltered        {percentiles(samples)}  recall@10 "
            f"{recall(results, truth, ids):.4f}"
        )
        exact_samples = []
        for query in queries[:100]:
            started = time.perf_counter()
            exact_top(vectors, query[None, :], k)
            exact_samples.append((time.perf_counter() - started) * 1000)
        print(f"numpy exact (f32)        {percentiles(exact_samples)}")

        for share in (0.5, 0.1, 0.02):
            mask = rng.random(args.n) < share
            allowed = set(ids[mask].tolist())
            truth = exact_top(vectors, queries[:200], k, mask)
            results, samples = timed_searches(index, queries[:200], k, allowed)
            print(
                f"search, {share:4.0%} allowed (set) {percentiles(samples)}  recall@10 "
                f"{recall(results, truth, ids):.4f}"
            )

        started = time.perf_counter()
        index.save()
        saved = time.perf_counter() - started
        size_mb = index.path.stat().st_size / 1e6
        started = time.perf_counter()
        assert VectorIndex(index.path, args.dim).load()
        loaded = time.perf_counter() - started
        print(f"save {saved:.2f} s, load (with checksum) {loaded:.2f} s, file {size_mb:.0f} MB")
        print(
            f"ratio numpy-exact p50 / hnsw p50 = "
            f"{np.median(exact_samples) / np.median(timed_searches(index, queries, k)[1]):.1f}"
        )


if __name__ == "__main__":
    main()
