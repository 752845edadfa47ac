"""recall_payload: InvokeAI recall bodies for each metadata version, valid per RecallParameter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from photomapd.metadata import parse_bytes, read_metadata
from photomapd.metadata.invokeai import summary_from_core_metadata
from photomapd.metadata.recall import recall_payload
from tests.metadata.test_roundtrip import png_with_text

# Allowed keys of RecallParameter in invokeai-openapi-6.14.2.json (extra="forbid").
RECALL_KEYS = {
    "positive_prompt", "negative_prompt", "model", "refiner_model", "vae_model", "scheduler",
    "steps", "refiner_steps", "cfg_scale", "cfg_rescale_multiplier", "refiner_cfg_scale",
    "guidance", "width", "height", "seed", "denoise_strength", "refiner_denoise_start",
    "clip_skip", "seamless_x", "seamless_y", "refiner_positive_aesthetic_score",
    "refiner_negative_aesthetic_score", "loras", "control_layers", "ip_adapters",
    "reference_images",
}  # fmt: skip

V5_CANVAS = {
    "generation_mode": "flux_txt2img",
    "guidance": 3.5,
    "width": 1024,
    "height": 1024,
    "positive_prompt": "a cozy cabin in snowy woods",
    "model": {"key": "b1c2", "hash": "blake3:1e2f", "name": "FLUX Dev (Quantized)", "base": "flux"},
    "seed": 88123,
    "steps": 28,
    "loras": [],
    "canvas_v2_metadata": {
        "referenceImages": [
            {
                "id": "reference_image:Xy12",
                "isEnabled": True,
                "ipAdapter": {
                    "type": "ip_adapter",
                    "image": {"image_name": "2f1e.png", "width": 768, "height": 768},
                    "model": {"key": "k", "name": "XLabs FLUX IP-Adapter", "base": "flux"},
                    "weight": 1,
                    "beginEndStepPct": [0, 1],
                    "method": "full",
                },
            },
            {"id": "off", "isEnabled": False, "ipAdapter": {"image": {"image_name": "x.png"}}},
        ],
        "controlLayers": [
            {
                "id": "control_layer:1",
                "isEnabled": True,
                "objects": [{"id": "o", "type": "image", "image": {"image_name": "depth.png"}}],
                "controlAdapter": {
                    "type": "controlnet",
                    "model": {"key": "c", "name": "depth-flux", "base": "flux"},
                    "weight": 0.75,
                    "beginEndStepPct": [0, 0.8],
                    "controlMode": "balanced",
                },
            }
        ],
        "regionalGuidance": [{"id": "r"}],
    },
    "app_version": "5.6.0",
}
V6_REFS = {
    "cfg_scale": 7.0,
    "model": {"key": "4e5d", "hash": "blake3:c0ff", "name": "Juggernaut XL v9", "base": "sdxl"},
    "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "seed": 99887766,
    "positive_prompt": "astronaut riding a horse on mars",
    "negative_prompt": "",
    "width": 1024,
    "height": 1024,
    "loras": [{"model": {"name": "detail-tweaker-xl", "base": "sdxl"}, "weight": 0.6}],
    "ref_images": [
        {
            "id": "reference_image:k9Zq",
            "isEnabled": True,
            "config": {
                "type": "ip_adapter",
                "image": {"original": {"image": {"image_name": "c3d4.png", "width": 1024}}},
                "model": {"name": "Standard Reference (IP Adapter ViT-H)", "base": "sdxl"},
                "weight": 0.5,
                "beginEndStepPct": [0, 1],
                "method": "style",
            },
        },
        {
            "id": "reference_image:kontext",
            "isEnabled": True,
            "config": {"type": "flux2_reference_image", "image": {"image_name": "plain.png"}},
        },
    ],
    "app_version": "6.13.8",
}


def _valid(payload: dict[str, Any]) -> None:
    assert set(payload) <= RECALL_KEYS
    json.dumps(payload)


def test_v6_reference_images_split_into_ip_adapters_and_model_free() -> None:
    payload = recall_payload(summary_from_core_metadata(V6_REFS))
    _valid(payload)
    assert payload["model"] == "Juggernaut XL v9"
    assert payload["scheduler"] == "dpmpp_2m_k"
    assert payload["loras"] == [{"model_name": "detail-tweaker-xl", "weight": 0.6}]
    assert payload["ip_adapters"] == [
        {
            "model_name": "Standard Reference (IP Adapter ViT-H)",
            "image_name": "c3d4.png",
            "weight": 0.5,
            "begin_step_percent": 0,
            "end_step_percent": 1,
            "method": "style",
        }
    ]
    assert payload["reference_images"] == [{"image_name": "plain.png"}]
    assert payload["negative_prompt"] == ""


def test_v5_canvas_control_layers_and_enabled_references_only() -> None:
    summary = summary_from_core_metadata(V5_CANVAS)
    assert summary["extra"]["invokeai_format"] == "v5"
    assert summary["extra"]["regional_guidance"] == 1
    payload = recall_payload(summary)
    _valid(payload)
    assert payload["guidance"] == 3.5
    assert payload["control_layers"] == [
        {
            "model_name": "depth-flux",
            "image_name": "depth.png",
            "weight": 0.75,
            "begin_step_percent": 0,
            "end_step_percent": 0.8,
            "control_mode": "balanced",
        }
    ]
    assert [ip["image_name"] for ip in payload["ip_adapters"]] == ["2f1e.png"]
    assert "loras" not in payload  # an empty list is left out, not sent as "clear"


def test_v3_ip_adapter_and_seamless(corpus: Path) -> None:
    payload = recall_payload(read_metadata(corpus / "invokeai-v3/d3x-imeta-ipadapter.png").summary)
    _valid(payload)
    assert payload["model"] == "juggernautXL"
    assert payload["vae_model"] == "VAEFix"
    assert payload["ip_adapters"] == [
        {
            "model_name": "ip-adapter-plus_sdxl_vit-h",
            "image_name": "21b3ddb9-089b-49fd-b074-0b9fdac3ab3e.png",
            "weight": 0.45,
            "begin_step_percent": 0.0,
            "end_step_percent": 1.0,
        }
    ]
    spider = recall_payload(read_metadata(corpus / "invokeai-v3/stereo-spiderweb-lora.png").summary)
    assert spider["seamless_x"] is True and spider["seamless_y"] is True
    assert spider["loras"] == [{"model_name": "badwax", "weight": 1.2}]


def test_v4_img2img_maps_strength_to_denoise_strength(corpus: Path) -> None:
    path = corpus / "invokeai-v4/v429-img2img-resize.png"
    payload = recall_payload(read_metadata(path).summary)
    _valid(payload)
    assert payload["denoise_strength"] == 0.7
    assert payload["width"] == 160 and payload["seed"] == 987654321


def test_remix_leaves_out_the_seed(corpus: Path) -> None:
    summary = read_metadata(corpus / "invokeai-v6/v630-sdxl.png").summary
    assert recall_payload(summary)["seed"] == 4134217657
    remix = recall_payload(summary, with_seed=False)
    assert "seed" not in remix and remix["positive_prompt"] == "school girl"


def test_v2_and_flux_and_other_generators(corpus: Path) -> None:
    legacy = recall_payload(read_metadata(corpus / "invokeai-v2/lstein-v115-txt2img.png").summary)
    assert legacy == {
        "positive_prompt": "fire",
        "model": "stable-diffusion-1.4",
        "seed": 1592514025,
        "steps": 10,
        "cfg_scale": 7.5,
        "width": 384,
        "height": 384,
        "scheduler": "euler",  # v1's k_euler
    }
    flux = recall_payload(
        read_metadata(corpus / "invokeai-v6-generated/v6142-flux-txt2img-guidance.png").summary
    )
    assert flux["guidance"] == 3.5 and "cfg_scale" not in flux and "negative_prompt" not in flux
    a1111 = recall_payload(read_metadata(corpus / "a1111/webui-itxt.png").summary)
    _valid(a1111)
    assert a1111["scheduler"] == "dpmpp_2m_k"  # DPM++ 2M + Schedule type Karras


@pytest.mark.parametrize(
    ("field", "value"),
    [("steps", 0), ("width", 1), ("seed", -5), ("strength", 3.0), ("scheduler", "bogus")],
)
def test_values_the_server_would_reject_are_left_out(field: str, value: Any) -> None:
    summary = summary_from_core_metadata({field: value, "positive_prompt": "p"})
    payload = recall_payload(summary)
    assert payload == {"positive_prompt": "p"}


def test_out_of_range_weights_are_dropped_not_clamped() -> None:
    summary = summary_from_core_metadata(
        {"loras": [{"model": {"name": "big"}, "weight": 50}, {"weight": 1}], "ipAdapters": []}
    )
    assert recall_payload(summary)["loras"] == [{"model_name": "big"}]


def test_garbage_summary_gives_an_empty_payload() -> None:
    assert recall_payload({"model": "x", "loras": "y", "reference_images": [1, None]}) == {}
    assert recall_payload(parse_bytes(png_with_text({})).summary) == {}
