"""Property-based fuzzing: mutated real chunks and files never make the reader raise.

Seeds are the corpus' own chunks (InvokeAI v2-v6, A1111, ComfyUI, NovelAI, Fooocus, SwarmUI,
...); hypothesis truncates them, swaps value types, nests lists, inflates strings, breaks UTF-8
and invents versions. Every result must also serialise to JSON and feed recall/search.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photomapd.metadata import ImageMetadata, empty_summary, parse_bytes
from photomapd.metadata.png import PNG_SIGNATURE
from photomapd.metadata.reader import read_stream
from photomapd.metadata.recall import recall_payload
from photomapd.metadata.search_text import search_fields
from tests.metadata.conftest import find_corpus

CORPUS = find_corpus()
SEED_FILES = [
    "invokeai-v2/d3x-v230-sdmeta.png",
    "invokeai-v3/d3x-imeta-ipadapter.png",
    "invokeai-v3/stereo-spiderweb-lora.png",
    "invokeai-v4/v429-img2img-resize.png",
    "invokeai-v5/v5150-sd15-loras-euler.png",
    "invokeai-v6-generated/v6142-flux-txt2img-guidance.png",
    "invokeai-v6/v630-sdxl.png",
    "a1111/forge-neo.png",
    "comfyui/comfyui.png",
    "comfyui/d3x-noisy-latents.png",
    "novelai/v45-full.png",
    "fooocus/d3x-fooocus1.png",
    "fooocus/ruined-fooocus.png",
    "swarmui/swarmui.png",
    "other/stability-matrix.png",
    "midjourney/mj-v4-description.png",
]
SMALL_FILES = [
    "invokeai-v3/d3x-imeta-ipadapter.png",
    "a1111/d3x-cropped.jpg",
    "a1111/d3x-stealth-alpha.png",
    "comfyui/d3x-img2img.png",
    "novelai/d3x-novelai1.png",
    "invokeai-v6-generated/v6142-workflow-quotes-lcm.png",
]


def _seed_chunks() -> list[dict[str, str]]:
    if CORPUS is None:
        return [{"invokeai_metadata": '{"positive_prompt": "p"}'}]
    seeds = []
    for name in SEED_FILES:
        raw = parse_bytes((CORPUS / name).read_bytes()).raw
        seeds.append(
            {
                key: value if isinstance(value, str) else json.dumps(value)
                for key, value in raw.items()
            }
        )
    return seeds


SEEDS = _seed_chunks()
SMALL = [(CORPUS / name).read_bytes() for name in SMALL_FILES] if CORPUS else [b""]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return struct.pack(">I", len(body)) + kind + body + crc


def build_png(chunks: dict[str, bytes], itxt: bool = False) -> bytes:
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0))
    body = b"".join(
        _chunk(b"iTXt", key.encode("latin-1", "replace") + b"\0\0\0\0\0" + value)
        if itxt
        else _chunk(b"tEXt", key.encode("latin-1", "replace") + b"\0" + value)
        for key, value in chunks.items()
    )
    idat = _chunk(b"IDAT", zlib.compress(b"\0" + b"\0" * 16 * 4))
    return PNG_SIGNATURE + ihdr + body + idat + _chunk(b"IEND", b"")


def _check(metadata: ImageMetadata) -> None:
    assert set(metadata.summary) == set(empty_summary())
    document = json.loads(metadata.to_json())
    assert isinstance(document["summary"], dict)
    recall_payload(metadata.summary)
    recall_payload(metadata.summary, with_seed=False)
    search_fields(metadata.summary)


def _mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """Replace, nest or drop parts of a decoded JSON document."""
    if isinstance(value, dict) and value and depth < 4:
        key = data.draw(st.sampled_from(sorted(value, key=str)))
        action = data.draw(st.sampled_from(["replace", "nest", "drop", "recurse"]))
        mutated = dict(value)
        if action == "replace":
            mutated[key] = data.draw(json_values)
        elif action == "nest":
            mutated[key] = [[mutated[key]], {"x": mutated[key]}]
        elif action == "drop":
            del mutated[key]
        else:
            mutated[key] = _mutate(mutated[key], data, depth + 1)
        return mutated
    if isinstance(value, list) and value and depth < 4:
        index = data.draw(st.integers(0, len(value) - 1))
        mutated_list = list(value)
        mutated_list[index] = _mutate(value[index], data, depth + 1)
        return mutated_list
    return data.draw(json_values)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(st.sampled_from(SEEDS), st.data())
@FUZZ
def test_truncated_chunks(seed: dict[str, str], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(seed)))
    cut = data.draw(st.integers(0, len(seed[key])))
    chunks = {name: value.encode() for name, value in seed.items()}
    chunks[key] = seed[key][:cut].encode()
    _check(parse_bytes(build_png(chunks, itxt=True)))


@given(st.sampled_from(SEEDS), st.data())
@FUZZ
def test_wrong_types_and_nested_lists(seed: dict[str, str], data: st.DataObject) -> None:
    chunks: dict[str, bytes] = {}
    for key, value in seed.items():
        try:
            document = json.loads(value)
        except ValueError:
            chunks[key] = value.encode()
            continue
        for _ in range(data.draw(st.integers(1, 4))):
            document = _mutate(document, data)
        chunks[key] = json.dumps(document, allow_nan=True).encode()
    _check(parse_bytes(build_png(chunks, itxt=True)))


@given(st.sampled_from(SEEDS), st.data())
@FUZZ
def test_unknown_versions(seed: dict[str, str], data: st.DataObject) -> None:
    chunks = {key: value.encode() for key, value in seed.items()}
    version = data.draw(json_values | st.text(max_size=12))
    for key in ("invokeai_metadata", "sd-metadata"):
        if key in seed:
            try:
                document = json.loads(seed[key])
            except ValueError:
                continue
            if isinstance(document, dict):
                document["app_version"] = version
                document["ref_images"] = data.draw(json_values)
                document["canvas_v2_metadata"] = data.draw(json_values)
                chunks[key] = json.dumps(document, allow_nan=True).encode()
    _check(parse_bytes(build_png(chunks, itxt=True)))


@given(st.sampled_from(SEEDS), st.binary(max_size=64), st.data())
@FUZZ
def test_invalid_utf8(seed: dict[str, str], garbage: bytes, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(seed)))
    chunks = {name: value.encode() for name, value in seed.items()}
    position = data.draw(st.integers(0, len(chunks[key])))
    chunks[key] = chunks[key][:position] + b"\xff\xfe\xc3" + garbage + chunks[key][position:]
    itxt = data.draw(st.booleans())
    _check(parse_bytes(build_png(chunks, itxt=itxt)))


@given(st.sampled_from(SEEDS), st.sampled_from([10_000, 300_000, 2_000_000]))
@settings(max_examples=20, deadline=None)
def test_huge_strings(seed: dict[str, str], size: int) -> None:
    chunks = {name: value.encode() for name, value in seed.items()}
    chunks["parameters"] = ("x, " * (size // 3)).encode() + b"\nSteps: 1, Seed: 2"
    metadata = parse_bytes(build_png(chunks))
    _check(metadata)


@given(st.sampled_from(SMALL), st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_whole_files(original: bytes, data: st.DataObject) -> None:
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        if not mutated:
            break
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    metadata = read_stream(io.BytesIO(bytes(mutated[:cut])))
    _check(metadata)


@given(st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_behind_each_signature(body: bytes) -> None:
    for header in (PNG_SIGNATURE, b"\xff\xd8", b"RIFF\0\0\0\0WEBP", b""):
        _check(parse_bytes(header + body))


def test_corpus_seeds_loaded() -> None:
    assert CORPUS is not None and len(SEEDS) == len(SEED_FILES)
    assert all(isinstance(Path(CORPUS), Path) for _ in SEEDS)


def test_absurdly_nested_json_is_kept_raw_without_recursion_errors() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    metadata = parse_bytes(build_png({"invokeai_metadata": deep, "prompt": deep}))
    assert metadata.summary["generator"] == "invokeai"
    assert "invokeai_metadata is not a JSON object" in metadata.warnings[0]
    _check(metadata)


NODE_IDS = [str(number) for number in range(8)]
INPUT_NAMES = ["positive", "negative", "model", "latent_image", "text", "value", "seed",
               "noise_seed", "steps", "cfg", "guider", "conditioning", "samples", "lora_name",
               "ckpt_name", "width", "height", "guidance"]  # fmt: skip
comfy_inputs = st.dictionaries(
    st.sampled_from(INPUT_NAMES),
    st.tuples(st.sampled_from(NODE_IDS), st.just(0)).map(list) | json_scalars,
    max_size=8,
)
comfy_graphs = st.dictionaries(
    st.sampled_from(NODE_IDS),
    st.fixed_dictionaries(
        {
            "class_type": st.sampled_from(
                ["KSampler", "SamplerCustomAdvanced", "CLIPTextEncode", "LoraLoader", "Any"]
            ),
            "inputs": comfy_inputs,
        }
    ),
    min_size=1,
)


@given(comfy_graphs)
@settings(max_examples=300, deadline=2000)
def test_random_comfyui_graphs_terminate_quickly(graph: dict[str, Any]) -> None:
    """Cycles, self-links and links to missing nodes: bounded work, no exception."""
    metadata = parse_bytes(build_png({"prompt": json.dumps(graph).encode()}))
    assert metadata.summary["generator"] == "comfyui"
    _check(metadata)
