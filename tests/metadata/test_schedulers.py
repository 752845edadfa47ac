"""Other generators' sampler/scheduler names mapped to InvokeAI scheduler names."""

from __future__ import annotations

from pathlib import Path

import pytest

from photomapd.metadata import read_metadata
from photomapd.metadata.recall import recall_payload
from photomapd.metadata.schedulers import INVOKEAI_SCHEDULERS, invokeai_scheduler


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected"),
    [
        # A1111 / Forge, old combined names and 1.9+ sampler + "Schedule type"
        ("DPM++ 2M Karras", None, "dpmpp_2m_k"),
        ("DPM++ 2M", "Karras", "dpmpp_2m_k"),
        ("DPM++ 2M", "Automatic", "dpmpp_2m"),
        ("DPM++ 2M Karras", "Automatic", "dpmpp_2m_k"),
        ("Euler a", None, "euler_a"),
        ("Euler", "Karras", "euler_k"),
        ("DPM++ SDE Karras", None, "dpmpp_sde_k"),
        ("DPM++ 2M SDE Karras", None, "dpmpp_2m_sde_k"),
        ("DPM2 a Karras", None, "kdpm_2_a_k"),
        ("DPM2", None, "kdpm_2"),
        ("LMS Karras", None, "lms_k"),
        ("Heun", None, "heun"),
        ("DDIM", None, "ddim"),
        ("PLMS", None, "pndm"),
        ("UniPC", None, "unipc"),
        ("LCM", None, "lcm"),
        # ComfyUI sampler_name + scheduler (also SwarmUI, Fooocus)
        ("dpmpp_2m", "karras", "dpmpp_2m_k"),
        ("dpmpp_2m", "normal", "dpmpp_2m"),
        ("euler_ancestral", "normal", "euler_a"),
        ("euler", "simple", "euler"),
        ("dpmpp_2m_sde_gpu", "karras", "dpmpp_2m_sde_k"),
        ("dpm_2_ancestral", "karras", "kdpm_2_a_k"),
        ("uni_pc", "sgm_uniform", "unipc"),
        ("ddim", "ddim_uniform", "ddim"),
        ("deis", "karras", "deis_k"),
        ("er_sde", "normal", "er_sde"),
        # InvokeAI 1.x/2.x and NovelAI k-diffusion names
        ("k_lms", None, "lms"),
        ("k_euler_a", None, "euler_a"),
        ("k_dpm_2_a", None, "kdpm_2_a"),
        ("k_dpmpp_2", None, "dpmpp_2m"),
        ("k_euler_ancestral", "native", "euler_a"),
        ("ddim_v3", None, "ddim"),
        # Draw Things
        ("Euler A", None, "euler_a"),
        ("DPM++ SDE Karras", None, "dpmpp_sde_k"),
    ],
)
def test_exact_mappings(sampler: str, schedule: str | None, expected: str) -> None:
    match = invokeai_scheduler(sampler, schedule)
    assert (match.name, match.note) == (expected, None)
    assert expected in INVOKEAI_SCHEDULERS


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected", "said"),
    [
        ("euler_ancestral", "karras", "euler_a", "no Karras variant of euler_a"),
        ("Euler Ancestral Karras", None, "euler_a", "no Karras variant"),
        ("DPM++ 2M SDE Exponential", None, "dpmpp_2m_sde", "'exponential' noise schedule"),
        ("dpmpp_2m", "beta", "dpmpp_2m", "'beta' noise schedule"),
        ("DPM++ 2S a Karras", None, "dpmpp_2s_k", "not ancestral"),
        ("dpmpp_3m_sde_gpu", "exponential", "dpmpp_3m", "not the SDE variant"),
        ("DPM++ 2M AYS", None, "dpmpp_2m", "'ays'"),
    ],
)
def test_nearest_mappings_say_what_differs(
    sampler: str, schedule: str | None, expected: str, said: str
) -> None:
    match = invokeai_scheduler(sampler, schedule)
    assert match.name == expected and match.note and said in match.note


@pytest.mark.parametrize(
    "sampler",
    ["Restart", "DPM fast", "DPM adaptive", "dpmpp_2m_cfg_pp", "res_multistep", "ipndm", "?!"],
)
def test_unknown_samplers_map_to_nothing_and_say_so(sampler: str) -> None:
    match = invokeai_scheduler(sampler, "karras")
    assert match.name is None and match.note and repr(sampler) in match.note


@pytest.mark.parametrize("sampler", [None, "", "   ", 5, ["euler"], {"a": 1}])
def test_missing_or_odd_values_map_to_nothing_quietly(sampler: object) -> None:
    assert invokeai_scheduler(sampler, "karras").name is None
    assert invokeai_scheduler("euler", sampler).name == "euler"


def test_record_keeps_the_stored_names_and_reports_a_nearest_match(corpus: Path) -> None:
    summary = read_metadata(corpus / "comfyui/comfyui.png").summary
    assert (summary["sampler"], summary["stored_scheduler"]) == ("euler_ancestral", "karras")
    assert summary["scheduler"] == "euler_a"
    assert "Karras" in summary["extra"]["scheduler_note"]
    notes: list[str] = []
    payload = recall_payload(summary, notes=notes)
    assert payload["scheduler"] == "euler_a"
    assert notes == ["scheduler sent as euler_a: InvokeAI has no Karras variant of euler_a"]


def test_recall_leaves_out_an_unknown_sampler_and_says_so() -> None:
    summary = {"generator": "a1111", "sampler": "Restart", "stored_scheduler": "Automatic"}
    notes: list[str] = []
    assert "scheduler" not in recall_payload(summary, notes=notes)
    assert notes == ["scheduler left out: InvokeAI has no scheduler like the sampler 'Restart'"]
    notes = []
    assert "scheduler" not in recall_payload({"scheduler": "flow_euler"}, notes=notes)
    assert notes == ["scheduler left out: 'flow_euler' is not a scheduler InvokeAI knows"]


def test_recall_maps_records_stored_by_the_previous_parser() -> None:
    """Parser version 1 kept A1111's Schedule type in `scheduler`; re-parsing is not needed."""
    old = {"generator": "a1111", "sampler": "DPM++ 2M", "scheduler": "Karras"}
    assert recall_payload(old)["scheduler"] == "dpmpp_2m_k"


def test_invokeai_names_stay_as_stored(corpus: Path) -> None:
    summary = read_metadata(corpus / "invokeai-v6-generated/v6142-sdxl-loras-dpmpp2mk.png").summary
    assert summary["scheduler"] == summary["stored_scheduler"] == "dpmpp_2m_k"
    assert "scheduler_note" not in summary["extra"]
