"""Parser behaviour for shapes the corpus has no sample of (or only one)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from photomapd.metadata import parse_bytes
from photomapd.metadata.invokeai import format_version, summary_from_core_metadata
from photomapd.metadata.invokeai_legacy import parse_dream
from tests.metadata.test_roundtrip import png_with_text


def jpeg_with_exif(tags: dict[int, Any], sub_tags: dict[int, Any], comment: bytes = b"") -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    for tag, value in sub_tags.items():
        exif.get_ifd(0x8769)[tag] = value
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buffer, format="JPEG", exif=exif, comment=comment)
    return buffer.getvalue()


def summary_of(data: bytes) -> dict[str, Any]:
    metadata = parse_bytes(data)
    assert metadata.warnings == []
    return metadata.summary


def test_easy_diffusion_text_chunks() -> None:
    summary = summary_of(
        png_with_text(
            {
                "prompt": "a lighthouse",
                "negative_prompt": "fog",
                "seed": "42",
                "num_inference_steps": "25",
                "guidance_scale": "7.5",
                "sampler_name": "euler_a",
                "use_stable_diffusion_model": "sd-v1-5",
                "width": "512",
                "height": "768",
                "use_lora_model": "detail",
                "lora_alpha": "0.4",
            }
        )
    )
    assert summary["generator"] == "easydiffusion"
    assert (summary["positive_prompt"], summary["negative_prompt"]) == ("a lighthouse", "fog")
    assert (summary["seed"], summary["steps"], summary["cfg_scale"]) == (42, 25, 7.5)
    assert summary["model"]["name"] == "sd-v1-5"
    assert (summary["width"], summary["height"]) == (512, 768)
    assert summary["loras"] == [{"name": "detail", "weight": 0.4}]


def test_easy_diffusion_json_in_jpeg_user_comment_with_capitalised_keys() -> None:
    document = {"Prompt": "a bridge", "Seed": 3, "Stable Diffusion model": "sd2", "Steps": 9}
    data = jpeg_with_exif({}, {0x9286: b"ASCII\0\0\0" + json.dumps(document).encode()})
    summary = summary_of(data)
    assert summary["generator"] == "easydiffusion"
    assert (summary["positive_prompt"], summary["seed"], summary["steps"]) == ("a bridge", 3, 9)
    assert summary["model"]["name"] == "sd2"


def test_draw_things_png_xmp() -> None:
    document = {"c": "a <red> & \"blue\" kite", "uc": "", "model": "sdxl_f16.ckpt", "seed": 5,
                "steps": 8, "scale": 4.5, "sampler": "Euler A", "size": "640x512",
                "lora": [{"file": "style.ckpt", "weight": 0.7}]}  # fmt: skip
    escaped = json.dumps(document).replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description rdf:about="">'
        f'<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">{escaped}</rdf:li></rdf:Alt>'
        "</exif:UserComment></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    summary = summary_of(png_with_text({"XML:com.adobe.xmp": xmp}))
    assert summary["generator"] == "drawthings"
    assert summary["positive_prompt"] == 'a <red> & "blue" kite'
    assert (summary["width"], summary["height"], summary["cfg_scale"]) == (640, 512, 4.5)
    assert summary["loras"] == [{"name": "style.ckpt", "weight": 0.7}]


def test_midjourney_niji_flags() -> None:
    description = "a koi pond --niji 6 --ar 3:2 --seed 1234 --no people Job ID: 0b1c2d3e-aaaa"
    summary = summary_of(png_with_text({"Description": description, "Author": "me"}))
    assert summary["generator"] == "midjourney"
    assert summary["positive_prompt"] == "a koi pond"
    assert summary["negative_prompt"] == "people"
    assert (summary["seed"], summary["generator_version"]) == (1234, "niji 6")
    assert summary["extra"]["job_id"] == "0b1c2d3e-aaaa"
    assert summary["extra"]["midjourney_params"] == "--niji 6 --ar 3:2 --seed 1234 --no people"


@pytest.mark.parametrize(
    ("tail", "generator", "version"),
    [
        ("Version: f2.0.1v1.10.1-previous-519-g44eb4ea8", "forge", "f2.0.1v1.10.1-previous-519-g44eb4ea8"),
        ("App: SD.Next, Version: 2f4a3d1", "sdnext", "2f4a3d1"),
        ("Version: Fooocus v2.5.0", "fooocus", "Fooocus v2.5.0"),
        ("Version: v1.10.1", "a1111", "v1.10.1"),
    ],
)  # fmt: skip
def test_a1111_family_detection(tail: str, generator: str, version: str) -> None:
    text = f"castle <lora:ink:0.6> <lora:mist:1.1>\nSteps: 4, Seed: 1, Size: 64x64, {tail}"
    summary = summary_of(png_with_text({"parameters": text}))
    assert (summary["generator"], summary["generator_version"]) == (generator, version)
    assert summary["loras"] == [{"name": "ink", "weight": 0.6}, {"name": "mist", "weight": 1.1}]
    assert summary["negative_prompt"] is None


def test_a1111_quoted_values_lora_hashes_and_img2img() -> None:
    text = (
        "portrait\nNegative prompt: ugly\nSteps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 5, "
        'Size: 512x768, Denoising strength: 0.45, Lora hashes: "ink: 1234abcd, mist: 5678", '
        'ADetailer prompt: "face, smile", Clip skip: 2'
    )
    summary = summary_of(png_with_text({"parameters": text}))
    assert summary["loras"] == [{"name": "ink", "weight": None}, {"name": "mist", "weight": None}]
    assert (summary["strength"], summary["generation_mode"], summary["clip_skip"]) == (
        0.45,
        "img2img",
        2,
    )
    assert summary["extra"]["parameters"]["ADetailer prompt"] == "face, smile"


def test_a1111_hires_fix_is_not_img2img() -> None:
    text = "castle\nSteps: 20, Seed: 1, Size: 512x512, Denoising strength: 0.4, Hires upscale: 2"
    summary = summary_of(png_with_text({"parameters": text}))
    assert (summary["generation_mode"], summary["strength"]) == (None, None)
    assert summary["extra"]["parameters"]["Hires upscale"] == "2"


def test_a1111_in_jpeg_comment_and_unicode_user_comment_little_endian() -> None:
    text = "a rose\nSteps: 3, Seed: 8, Size: 64x64, Model: m"
    from_comment = summary_of(jpeg_with_exif({}, {}, comment=text.encode()))
    assert (from_comment["positive_prompt"], from_comment["seed"]) == ("a rose", 8)
    little = jpeg_with_exif(
        {}, {0x9286: b"UNICODE\0" + "薔薇\nSteps: 3, Seed: 9".encode("utf-16-le")}
    )
    assert summary_of(little)["positive_prompt"] == "薔薇"


def _comfy_custom_graph() -> dict[str, Any]:
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
        "2": {"class_type": "LoraLoaderModelOnly",
              "inputs": {"model": ["1", 0], "lora_name": "realism.safetensors", "strength_model": 0.8}},
        "3": {"class_type": "PrimitiveString", "inputs": {"value": "a foggy harbour at dawn"}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": ["3", 0], "clip": ["9", 0]}},
        "5": {"class_type": "FluxGuidance", "inputs": {"conditioning": ["4", 0], "guidance": 3.5}},
        "6": {"class_type": "BasicGuider", "inputs": {"model": ["2", 0], "conditioning": ["5", 0]}},
        "7": {"class_type": "RandomNoise", "inputs": {"noise_seed": 77}},
        "8": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "9": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5", "clip_name2": "l"}},
        "10": {"class_type": "BasicScheduler",
               "inputs": {"model": ["2", 0], "scheduler": "simple", "steps": 24, "denoise": 1}},
        "11": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 832, "height": 1216}},
        "12": {"class_type": "SamplerCustomAdvanced",
               "inputs": {"noise": ["7", 0], "guider": ["6", 0], "sampler": ["8", 0],
                          "sigmas": ["10", 0], "latent_image": ["11", 0]}},
        "13": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": ["14", 0]}},
        "14": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "15": {"class_type": "SaveImage", "inputs": {"images": ["13", 0]}},
    }  # fmt: skip


def test_comfyui_sampler_custom_advanced_flux_graph() -> None:
    summary = summary_of(png_with_text({"prompt": json.dumps(_comfy_custom_graph())}))
    assert summary["generator"] == "comfyui"
    assert summary["positive_prompt"] == "a foggy harbour at dawn"
    assert summary["negative_prompt"] is None
    assert summary["model"]["name"] == "flux1-dev.safetensors"
    assert summary["loras"] == [{"name": "realism.safetensors", "weight": 0.8}]
    assert (summary["seed"], summary["steps"], summary["sampler"]) == (77, 24, "euler")
    assert (summary["stored_scheduler"], summary["guidance"]) == ("simple", 3.5)
    assert summary["scheduler"] == "euler"  # InvokeAI's name for euler + simple
    assert (summary["width"], summary["height"]) == (832, 1216)
    assert summary["has_workflow"] is False


def test_comfyui_hires_fix_reports_the_base_pass() -> None:
    graph = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.ckpt"}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": "hills", "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "text", "clip": ["ckpt", 1]}},
        "empty": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512}},
        "2": {"class_type": "KSampler", "inputs": {"seed": 2, "steps": 12, "cfg": 5,
              "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0],
              "latent_image": ["up", 0], "sampler_name": "dpmpp_2m", "scheduler": "karras",
              "denoise": 0.5}},
        "up": {"class_type": "LatentUpscale", "inputs": {"samples": ["10", 0], "width": 1024}},
        "10": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 30, "cfg": 7,
               "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0],
               "latent_image": ["empty", 0], "sampler_name": "euler", "scheduler": "normal",
               "denoise": 1.0}},
    }  # fmt: skip
    summary = summary_of(png_with_text({"prompt": json.dumps(graph)}))
    assert (summary["seed"], summary["steps"], summary["sampler"]) == (1, 30, "euler")
    assert (summary["width"], summary["negative_prompt"]) == (512, "text")
    assert summary["extra"]["sampler_nodes"] == 2
    assert summary["strength"] is None


def test_comfyui_cyclic_graph_terminates() -> None:
    graph = {
        "a": {"class_type": "KSampler", "inputs": {"positive": ["b", 0], "model": ["b", 0],
              "latent_image": ["a", 0], "seed": ["b", 0]}},
        "b": {"class_type": "Loop", "inputs": {"text": ["b", 0], "model": ["a", 0],
              "value": ["a", 0]}},
    }  # fmt: skip
    summary = summary_of(png_with_text({"prompt": json.dumps(graph)}))
    assert summary["generator"] == "comfyui" and summary["positive_prompt"] is None


def test_comfyui_graph_in_webp_exif_model_tag() -> None:
    """Diffusion Toolkit's layout: EXIF Make = "workflow:{...}", Model = "prompt:{...}"."""
    exif = Image.Exif()
    exif[0x010F] = "workflow:" + json.dumps({"nodes": []})
    exif[0x0110] = "prompt:" + json.dumps(_comfy_custom_graph())
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10)).save(buffer, format="WEBP", exif=exif, lossless=True)
    metadata = parse_bytes(buffer.getvalue())
    assert metadata.summary["positive_prompt"] == "a foggy harbour at dawn"
    assert metadata.summary["has_workflow"] is True
    assert (metadata.image_format, metadata.pixel_width, metadata.pixel_height) == ("WEBP", 20, 10)


def test_webp_lossy_size() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (33, 17)).save(buffer, format="WEBP", quality=50)
    metadata = parse_bytes(buffer.getvalue())
    assert (metadata.pixel_width, metadata.pixel_height, metadata.summary["generator"]) == (
        33,
        17,
        None,
    )


def test_dream_strings() -> None:
    assert parse_dream("it's a cat -s 20 -S 7 -W 640 -H 448 -C 7 -A k_euler_a -I init.png -f 0.6") == {
        "positive_prompt": "it's a cat",
        "steps": 20,
        "seed": 7,
        "width": 640,
        "height": 448,
        "cfg_scale": 7,
        "sampler": "k_euler_a",
        "init_image": "init.png",
        "strength": 0.6,
    }  # fmt: skip
    assert parse_dream('"say \\"hi\\" -s 5" -s10')["positive_prompt"] == 'say "hi" -s 5'
    assert parse_dream("no flags at all") == {"positive_prompt": "no flags at all"}
    assert parse_dream("-s -S")["positive_prompt"] == ""


def test_sd_metadata_grid_with_weighted_prompts() -> None:
    sd_metadata = {
        "model": "stable diffusion",
        "model_id": "sd-1.5",
        "app_version": "2.2.4",
        "images": [
            {"prompt": [{"prompt": "cat", "weight": 0.7}, {"prompt": "dog", "weight": 0.3}],
             "seed": 11, "type": "img2img", "init_img": "x.png", "strength": 0.75},
        ],
    }  # fmt: skip
    summary = summary_of(png_with_text({"sd-metadata": json.dumps(sd_metadata)}))
    assert summary["positive_prompt"] == "cat:0.7 dog:0.3"
    assert (summary["generation_mode"], summary["init_image"], summary["strength"]) == (
        "img2img",
        "x.png",
        0.75,
    )
    assert summary["extra"]["invokeai_format"] == "v2"


def test_invokeai_v3_controlnets_disabled_loras_and_nested_ref_images() -> None:
    summary = summary_from_core_metadata(
        {
            "model": {"model_name": "m", "base_model": "sd-1"},
            "loras": [
                {"lora": {"model_name": "on"}, "weight": 0.5},
                {"model": {"name": "off"}, "weight": 1, "is_enabled": False},
                "junk",
            ],
            "controlnets": [
                {"image": {"image_name": "c.png"}, "control_model": {"model_name": "canny"},
                 "control_weight": 0.9, "control_mode": "more_control"}
            ],
            "ref_images": [[{"isEnabled": True, "config": {"type": "flux_redux",
                            "image": {"image_name": "r.png"}, "model": {"name": "redux"},
                            "imageInfluence": "high"}}]],
            "refiner_model": {"model_name": "refiner"},
            "refiner_steps": 10,
            "refiner_positive_aesthetic_store": 6,
        }
    )  # fmt: skip
    assert summary["loras"] == [{"name": "on", "weight": 0.5}]
    assert summary["control_layers"][0]["model"] == "canny"
    assert summary["control_layers"][0]["control_mode"] == "more_control"
    assert summary["reference_images"][0]["image_influence"] == "high"
    assert summary["refiner"]["positive_aesthetic_score"] == 6
    assert summary["extra"]["invokeai_format"] == "v6"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"model": {"model_name": "m"}}, "v3"),
        ({"model": {"key": "k", "name": "m"}}, "v4"),
        ({"app_version": "4.2.9"}, "v4"),
        ({"canvas_v2_metadata": {}}, "v5"),
        ({"app_version": "5.15.0"}, "v5"),
        ({"app_version": "6.0.0"}, "v6"),
        ({"ref_images": []}, "v6"),
        ({"app_version": "v99.0"}, "v6"),
        ({"app_version": 7}, "v6"),  # a number is read as its text
    ],
)
def test_invokeai_format_version(metadata: dict[str, Any], expected: str) -> None:
    assert format_version(metadata) == expected


def test_fooocus_and_swarmui_lora_shapes() -> None:
    fooocus = {"prompt": "p", "version": "Fooocus v2.5.5", "seed": "12",
               "loras": [["sd_xl_offset.safetensors", 0.1, "hash"], ["None", 1.0], {"name": "x"}]}  # fmt: skip
    summary = summary_of(png_with_text({"parameters": json.dumps(fooocus)}))
    assert summary["generator"] == "fooocus" and summary["seed"] == 12
    assert summary["loras"] == [
        {"name": "sd_xl_offset.safetensors", "weight": 0.1},
        {"name": "x", "weight": None},
    ]
    swarm = {"sui_image_params": {"prompt": "q", "loras": ["a", "b"], "loraweights": ["0.5"]}}
    summary = summary_of(png_with_text({"parameters": json.dumps(swarm)}))
    assert summary["loras"] == [{"name": "a", "weight": 0.5}, {"name": "b", "weight": None}]


def test_json_parameters_of_unknown_shape_are_not_infotext() -> None:
    metadata = parse_bytes(png_with_text({"parameters": json.dumps({"hello": "world"})}))
    assert metadata.summary["generator"] is None
    assert metadata.raw["parameters"] == {"hello": "world"}


def test_invokeai_workflow_image_prompts_come_from_the_graph(corpus: Any) -> None:
    from photomapd.metadata import read_metadata
    from photomapd.metadata.search_text import search_fields

    summary = read_metadata(corpus / "invokeai-v6/flux-workflow-partial.png").summary
    assert summary["positive_prompt"] is None  # as stored: core metadata has no prompt
    prompts = summary["extra"]["graph_prompts"]
    assert prompts[0].startswith("a young sexy vampire maiden") and "naked, wrong hand" in prompts
    assert "moonlit cemetery" in search_fields(summary)["prompt"]


def test_graph_prompts_are_bounded() -> None:
    from photomapd.metadata.invokeai_graph import MAX_TOTAL_CHARS, graph_prompts

    graph = {
        "nodes": {str(n): {"type": "string", "value": f"{n} " + "x" * 5000} for n in range(40)}
    }
    prompts = graph_prompts(graph, {"nodes": "junk"})
    assert sum(map(len, prompts)) == MAX_TOTAL_CHARS and len(prompts) == 4
