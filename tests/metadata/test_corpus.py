"""Every real file in ../shared/corpus parses to the values in its *.expected.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from photomapd.metadata import read_metadata
from photomapd.metadata.schedulers import INVOKEAI_SCHEDULERS
from tests.metadata.conftest import find_corpus

GENERATORS = {
    "AUTOMATIC1111": "a1111",
    "Forge": "forge",
    "ComfyUI": "comfyui",
    "ComfyUI (A1111-style infotext)": "comfyui",
    "Draw Things": "drawthings",
    "Fooocus": "fooocus",
    "RuinedFooocus": "ruined_fooocus",
    "InvokeAI": "invokeai",
    "Midjourney": "midjourney",
    "NovelAI": "novelai",
    "Civitai": "civitai",
    "Stability Matrix": "stability_matrix",
    "SwarmUI": "swarmui",
}
# The expected files' `scheduler` is the value as stored in the file. Since parser version 2
# the record keeps that in the new field `stored_scheduler` and puts InvokeAI's scheduler name
# in `scheduler` (schedulers.py), so the comparison goes to the new field.
SCALAR_FIELDS = {
    "positive_prompt": "positive_prompt",
    "negative_prompt": "negative_prompt",
    "steps": "steps",
    "cfg_scale": "cfg_scale",
    "sampler": "sampler",
    "scheduler": "stored_scheduler",
    "width": "width",
    "height": "height",
    "generation_mode": "generation_mode",
}
# InvokeAI's scheduler name for the files whose stored value is not already one (InvokeAI 3+
# files store InvokeAI names, which stay as they are). Checked by hand against each sampler.
INVOKEAI_SCHEDULER = {
    "a1111/comfy-infotext-png-named.jpeg": "euler",  # Euler
    "a1111/d3x-cropped.jpg": "unipc",  # UniPC
    "a1111/d3x-cropped.png": "unipc",
    "a1111/d3x-stealth-alpha.png": "euler",  # Euler + Automatic
    "a1111/d3x-ztxt-after-idat.png": "unipc",
    "a1111/dtk-2022-thumb.png": "euler_a",  # Euler a
    "a1111/forge-neo.png": "euler_a",  # Euler a + Automatic
    "a1111/webui-itxt.png": "dpmpp_2m_k",  # DPM++ 2M + Karras
    "a1111/webui.jpg": "dpmpp_2m_k",
    "a1111/webui.webp": "dpmpp_2m_k",
    "comfyui/comfyui.png": "euler_a",  # euler_ancestral + karras: no euler_a_k, noted
    "comfyui/d3x-img2img.png": "dpmpp_2m",  # sample_dpmpp_2m + normal
    "comfyui/d3x-noisy-latents.png": "dpmpp_sde",  # sample_dpmpp_sde + normal
    "comfyui/save-image-extended.jpeg": "euler_a",
    "comfyui/saveimage-plus.webp": "euler_a",
    "drawthings/elsku-controls.jpg": "dpmpp_2m_k",  # DPM++ 2M Karras
    "fooocus/d3x-fooocus1.png": "dpmpp_2m_sde_k",  # dpmpp_2m_sde_gpu + karras
    "fooocus/ruined-fooocus.png": "dpmpp_2m_sde_k",
    "invokeai-v2/d3x-dream-only.png": "lms",  # k_lms
    "invokeai-v2/d3x-v230-sdmeta.png": "lms",
    "invokeai-v2/lstein-v115-txt2img.png": "euler",  # k_euler
    "invokeai-v2/v202-banana-sushi.png": "lms",
    "invokeai-v2/variation-dream-only.png": "lms",
    "novelai/d3x-novelai1.png": "euler_a",  # k_euler_ancestral
    "novelai/v45-curated.webp": "euler_a",  # + karras, noted
    "novelai/v45-full.png": "euler_a",
    "other/civitai.jpeg": "euler_a",  # Euler a
    "other/stability-matrix.png": "euler_a",  # Euler Ancestral Karras, noted
    "swarmui/swarmui.jpg": "euler_a",  # euler_ancestral + karras, noted
    "swarmui/swarmui.png": "euler_a",
}
EXTRA_FIELDS = (
    "midjourney_params",
    "job_id",
    "author",
    "creation_time",
    "sampler_nodes",
    "metadata_scheme",
    "app_id",
    "civitai_resources",
)


def _expected_files() -> list[Path]:
    corpus = find_corpus()
    if corpus is None:
        return []
    return sorted(path for path in corpus.glob("*/*.expected.json") if path.parent.name != "broken")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name.removesuffix('.expected.json')}"


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return actual is not None and math.isclose(actual, expected, rel_tol=1e-9)
    return actual == expected


@pytest.mark.parametrize("expected_path", _expected_files(), ids=_id)
def test_corpus_file_matches_expected(expected_path: Path) -> None:
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    metadata = read_metadata(expected_path.with_name(expected_path.name[: -len(".expected.json")]))
    summary = metadata.summary

    generator = expected["generator"]
    assert summary["generator"] == GENERATORS.get(generator), generator
    for field, record_field in SCALAR_FIELDS.items():
        if field in expected:
            actual = summary[record_field]
            assert _same(actual, expected[field]), (field, actual, expected[field])
    scheduler = INVOKEAI_SCHEDULER.get(_id(expected_path), expected.get("scheduler"))
    assert summary["scheduler"] == scheduler
    assert scheduler is None or scheduler in INVOKEAI_SCHEDULERS
    # Fooocus stores the seed as a string; the record normalises it to an int.
    seed = expected["seed"]
    assert summary["seed"] == (int(seed) if isinstance(seed, str) else seed)
    model = summary["model"] or {}
    assert model.get("name") == expected["model"]
    if "model_hash" in expected:
        assert model.get("hash") == expected["model_hash"]
    version = expected.get("app_version", expected.get("version"))
    if "app_version" in expected or "version" in expected:
        assert summary["generator_version"] == version
    if "generation_type" in expected:
        assert summary["generation_mode"] == expected["generation_type"]
    _check_loras(summary["loras"], expected["loras"])
    for field in EXTRA_FIELDS:
        if field in expected:
            assert summary["extra"].get(field) == expected[field], field
    _check_container(metadata, expected)


def _check_loras(actual: list[dict[str, Any]] | None, expected: list[dict] | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    assert [lora["name"] for lora in actual] == [lora["name"] for lora in expected]
    for got, want in zip(actual, expected, strict=True):
        assert math.isclose(got["weight"], want["weight"])


def _check_container(metadata: Any, expected: dict[str, Any]) -> None:
    assert metadata.image_format == expected["image_format"]
    assert [metadata.pixel_width, metadata.pixel_height] == expected["image_pixel_size"]
    for key in expected["metadata_keys"]:
        if key.startswith("IPTC"):
            continue  # Draw Things' IPTC caption duplicates the EXIF text; not read
        if key.startswith("stealth"):
            assert f"parameters ({expected['stealth_signature']})" in metadata.raw
            continue
        assert key.split(" (")[0] in metadata.raw, key
    if expected["metadata_keys"] == []:
        assert metadata.summary["generator"] is None
    assert metadata.warnings == []
    json.loads(metadata.to_json())
