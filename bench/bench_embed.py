"""Embedding throughput: can one decode thread keep the CLIP model busy?

Measures, in one run:
  1. model only: ViT-B-32 (random weights: same speed as real ones) encode_image, batch 16;
  2. decode + preprocess of InvokeAI-like 1024x1024 PNGs (compress_level=1) on one thread,
     with and without open_image's target_size reduction, and from InvokeAI's 256-px WebP
     thumbnail (imaging.embedding_source);
  3. the pipeline: one decode thread feeding the model thread through a small queue, from the
     PNGs and from the thumbnails;
  4. one text query (1 x 77 tokens).
and prints the ratios. Usage: python bench/bench_embed.py [--device cpu|cuda] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from photomapd.imaging import embedding_source, make_thumbnail, open_image

MODEL = "ViT-B-32"


def make_pngs(folder: Path, count: int) -> list[Path]:
    """Smooth colour fields plus grain: compresses like generated art (~1.5-2 MB at level 1)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
        image = np.asarray(base.resize((1024, 1024), Image.Resampling.BICUBIC), dtype=np.int16)
        grain = rng.integers(-6, 7, image.shape, dtype=np.int16)
        pixels = np.clip(image + grain, 0, 255).astype(np.uint8)
        path = folder / f"{i:03d}.png"
        image = Image.fromarray(pixels)
        image.save(path, compress_level=1)
        # InvokeAI writes <dir>/thumbnails/<stem>.webp next to every output.
        (folder / "thumbnails").mkdir(exist_ok=True)
        (folder / "thumbnails" / f"{path.stem}.webp").write_bytes(make_thumbnail(image))
        paths.append(path)
    return paths


def timed_loop(work, seconds: float, per_call: int) -> float:
    """Items per second of `work()` (each call does `per_call` items), after one warm-up."""
    work()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        work()
        done += per_call
    return done / (time.perf_counter() - started)


def model_rate(model, device: str, dtype: torch.dtype, batch: int, seconds: float) -> float:
    images = torch.randn(batch, 3, 224, 224, device=device, dtype=dtype)

    def work() -> None:
        with torch.inference_mode():
            model.encode_image(images)
        if device == "cuda":
            torch.cuda.synchronize()

    return timed_loop(work, seconds, batch)


def decode_rate(paths: list[Path], transform, target: int | None, seconds: float) -> float:
    position = [0]

    def work() -> None:
        path = paths[position[0] % len(paths)]
        position[0] += 1
        transform(open_image(path, target_size=target))

    return timed_loop(work, seconds, 1)


def pipeline_rate(
    model, device, dtype, paths, transform, batch: int, seconds: float, target: int | None
) -> float:
    """One decode thread -> bounded queue -> model on this thread (the daemon's shape)."""
    ready: queue.Queue[torch.Tensor | None] = queue.Queue(maxsize=batch * 2)
    stop = threading.Event()

    def decoder() -> None:
        i = 0
        while not stop.is_set():
            tensor = transform(open_image(paths[i % len(paths)], target_size=target))
            i += 1
            while not stop.is_set():
                try:
                    ready.put(tensor, timeout=0.1)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=decoder, daemon=True)
    thread.start()

    def work() -> None:
        tensors = [ready.get() for _ in range(batch)]
        stacked = torch.stack([t for t in tensors if t is not None])
        with torch.inference_mode():
            model.encode_image(stacked.to(device, dtype=dtype))
        if device == "cuda":
            torch.cuda.synchronize()

    rate = timed_loop(work, seconds, batch)
    stop.set()
    thread.join(timeout=5)
    return rate


def text_latency_ms(model, tokenizer, device: str, repeats: int = 20) -> float:
    tokens = tokenizer(["a watercolor lighthouse at dusk"]).to(device)
    samples = []
    with torch.inference_mode():
        model.encode_text(tokens)
        for _ in range(repeats):
            started = time.perf_counter()
            model.encode_text(tokens)
            if device == "cuda":
                torch.cuda.synchronize()
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--extra-batches", default="", help="e.g. 64,256 (GPU)")
    args = parser.parse_args()

    device = args.device
    precision = "fp16" if device == "cuda" else "fp32"
    dtype = torch.float16 if precision == "fp16" else torch.float32
    model = open_clip.create_model(MODEL, pretrained=None, precision=precision, device=device)
    model.eval()
    transform = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    tokenizer = open_clip.get_tokenizer(MODEL)
    threads = torch.get_num_threads()
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "none"
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}  {platform.node()}  nproc={os.cpu_count()}")
    print(f"# load average {os.getloadavg()[0]:.2f} (other work on the box skews the numbers)")
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, ")
    print(f"# open_clip {open_clip.__version__}, device={device} ({gpu}), {precision}")
    print(f"# torch threads={threads}, batch={args.batch}, {args.seconds:.0f} s per measurement")

    with tempfile.TemporaryDirectory() as folder:
        paths = make_pngs(Path(folder), args.images)
        size_mb = statistics.mean(p.stat().st_size for p in paths) / 1e6
        print(f"# {len(paths)} PNGs 1024x1024 compress_level=1, mean {size_mb:.2f} MB")

        model_only = model_rate(model, device, dtype, args.batch, args.seconds)
        print(f"model only           {model_only:8.1f} images/s")
        for extra in filter(None, args.extra_batches.split(",")):
            rate = model_rate(model, device, dtype, int(extra), args.seconds)
            print(f"model only batch {int(extra):<4d}{rate:8.1f} images/s")

        thumbs = [embedding_source(path, 224) for path in paths]
        assert all(t.suffix == ".webp" for t in thumbs)
        torch.set_num_threads(1)  # one I/O-pool thread: preprocess's tensor ops included
        full = decode_rate(paths, transform, None, args.seconds)
        reduced = decode_rate(paths, transform, 224, args.seconds)
        from_thumbs = decode_rate(thumbs, transform, 224, args.seconds)
        torch.set_num_threads(threads)
        print(f"decode+preprocess    {full:8.1f} images/s (1 thread, full decode)")
        print(f"decode+preprocess    {reduced:8.1f} images/s (1 thread, target_size=224)")
        print(f"decode+preprocess    {from_thumbs:8.1f} images/s (1 thread, InvokeAI thumbnail)")
        common = (model, device, dtype)
        piped = pipeline_rate(*common, paths, transform, args.batch, args.seconds, 224)
        piped_thumbs = pipeline_rate(*common, thumbs, transform, args.batch, args.seconds, 224)
        print(f"pipeline             {piped:8.1f} images/s (1 decode thread + model, PNG)")
        print(f"pipeline             {piped_thumbs:8.1f} images/s (same, from thumbnails)")
        print(f"text query (1x77)    {text_latency_ms(model, tokenizer, device):8.1f} ms median")
        print(f"ratio decode(1 thread, target_size)/model = {reduced / model_only:.2f}")
        print(f"ratio decode(1 thread, full)/model        = {full / model_only:.2f}")
        print(f"ratio decode(1 thread, thumbnail)/model   = {from_thumbs / model_only:.2f}")
        print(f"ratio pipeline(PNG)/model                 = {piped / model_only:.2f}")
        print(f"ratio pipeline(thumbnail)/model           = {piped_thumbs / model_only:.2f}")


if __name__ == "__main__":
    main()
