"""Every real file in ../shared/corpus parses to the values in its *.expected.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from photomapd.metadata import read_metadata
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
SCALAR_FIELDS = (
    "positive_prompt",
    "negative_prompt",
    "steps",
    "cfg_scale",
    "sampler",
    "scheduler",
    "width",
    "height",
    "generation_mode",
)
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
    for field in SCALAR_FIELDS:
        if field in expected:
            assert _same(summary[field], expected[field]), (field, summary[field], expected[field])
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
