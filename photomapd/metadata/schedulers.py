"""Sampler and scheduler names of other generators mapped to InvokeAI's scheduler names.

A1111/Forge write one sampler name that may carry the noise schedule ("DPM++ 2M Karras"), or
since 1.9 a sampler plus a "Schedule type"; ComfyUI (and SwarmUI, Fooocus) a `sampler_name`
plus a `scheduler`; NovelAI k-diffusion names plus `noise_schedule`; InvokeAI 1.x/2.x k-diffusion
names. InvokeAI 3+ has one scheduler name per (sampler, Karras or not) pair. A name with no
InvokeAI counterpart maps to None, and the reason is given, so a recall leaves it out and
says why rather than sending something InvokeAI rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# DenoiseLatentsInvocation.scheduler in the 6.14.2 OpenAPI schema.
INVOKEAI_SCHEDULERS = frozenset(
    {
        "ddim", "ddpm", "deis", "deis_k", "lms", "lms_k", "pndm", "heun", "heun_k", "euler",
        "euler_k", "euler_a", "kdpm_2", "kdpm_2_k", "kdpm_2_a", "kdpm_2_a_k", "dpmpp_2s",
        "dpmpp_2s_k", "dpmpp_2m", "dpmpp_2m_k", "dpmpp_2m_sde", "dpmpp_2m_sde_k", "dpmpp_3m",
        "dpmpp_3m_k", "dpmpp_sde", "dpmpp_sde_k", "er_sde", "unipc", "unipc_k", "lcm", "tcd",
    }
)  # fmt: skip

# Canonical sampler key (see _key) -> InvokeAI base name.
_SAMPLERS = {
    "euler": "euler",
    "euler_a": "euler_a",
    "euler_ancestral": "euler_a",
    "heun": "heun",
    "lms": "lms",
    "dpm2": "kdpm_2",
    "dpm_2": "kdpm_2",
    "dpm2_a": "kdpm_2_a",
    "dpm_2_a": "kdpm_2_a",
    "dpm2_ancestral": "kdpm_2_a",
    "dpm_2_ancestral": "kdpm_2_a",
    "dpmpp_2": "dpmpp_2m",  # InvokeAI 2.3's k_dpmpp_2 was DPM-Solver++ multistep
    "dpmpp_2m": "dpmpp_2m",
    "dpmpp_2m_sde": "dpmpp_2m_sde",
    "dpmpp_sde": "dpmpp_sde",
    "dpmpp_2s": "dpmpp_2s",
    "dpmpp_3m": "dpmpp_3m",
    "ddim": "ddim",
    "ddim_v3": "ddim",  # NovelAI
    "ddpm": "ddpm",
    "plms": "pndm",  # InvokeAI 3 renamed PLMS to pndm (same diffusers scheduler)
    "pndm": "pndm",
    "unipc": "unipc",
    "uni_pc": "unipc",
    "deis": "deis",
    "lcm": "lcm",
    "tcd": "tcd",
    "er_sde": "er_sde",
}
# Close relatives InvokeAI lacks: mapped, with the difference said.
_NEAREST = {
    "dpmpp_2s_a": ("dpmpp_2s", "InvokeAI's dpmpp_2s is not ancestral"),
    "dpmpp_2s_ancestral": ("dpmpp_2s", "InvokeAI's dpmpp_2s is not ancestral"),
    "dpmpp_3m_sde": ("dpmpp_3m", "InvokeAI's dpmpp_3m is not the SDE variant"),
    "uni_pc_bh2": ("unipc", "InvokeAI's unipc uses the bh1 variant"),
}
# Noise schedules that are each sampler's usual one: InvokeAI's plain (non-_k) name.
_DEFAULT_SCHEDULES = {
    "", "automatic", "normal", "simple", "native", "default", "uniform", "ddim_uniform",
    "sgm_uniform",
}  # fmt: skip
# Schedules written into A1111/Draw Things/Stability Matrix sampler names, longest first.
_SUFFIXES = ("polyexponential", "exponential", "karras", "trailing", "substep", "ays")


@dataclass(frozen=True)
class SchedulerMatch:
    """InvokeAI's scheduler name (None: no counterpart) and, unless exact, why."""

    name: str | None
    note: str | None = None


def _key(text: str) -> str:
    key = text.strip().lower().replace("++", "pp").replace("+", "p")
    key = re.sub(r"[^a-z0-9]+", "_", key).strip("_")
    key = key.removeprefix("sample_").removeprefix("k_")  # k-diffusion, d3x's custom nodes
    return key.removesuffix("_gpu")  # ComfyUI's GPU noise variant: same sampler


def invokeai_scheduler(sampler: Any, schedule: Any = None) -> SchedulerMatch:
    """Map a sampler name (and a separate noise schedule, if the format has one)."""
    if not isinstance(sampler, str) or not sampler.strip():
        return SchedulerMatch(None)
    key = _key(sampler)
    suffix = next((s for s in _SUFFIXES if key.endswith("_" + s)), "")
    if suffix:
        key = key.removesuffix("_" + suffix)
    explicit = _key(schedule) if isinstance(schedule, str) else ""
    schedule_key = suffix if explicit in ("", "automatic") and suffix else explicit
    notes = []
    if key in _SAMPLERS:
        base = _SAMPLERS[key]
    elif key in _NEAREST:
        base, difference = _NEAREST[key]
        notes.append(difference)
    else:
        return SchedulerMatch(None, f"InvokeAI has no scheduler like the sampler {sampler!r}")
    if schedule_key == "karras":
        if base + "_k" in INVOKEAI_SCHEDULERS:
            return SchedulerMatch(base + "_k", _join(notes))
        notes.append(f"InvokeAI has no Karras variant of {base}")
    elif schedule_key not in _DEFAULT_SCHEDULES:
        notes.append(f"InvokeAI has no {schedule_key!r} noise schedule; {base} uses its own")
    return SchedulerMatch(base, _join(notes))


def _join(notes: list[str]) -> str | None:
    return "; ".join(notes) if notes else None


def normalize(summary: dict[str, Any]) -> None:
    """Set `scheduler` to InvokeAI's name, keeping what the file says in `stored_scheduler`
    (and `sampler`); a mapping that is not exact says why in `extra.scheduler_note`."""
    stored = summary.get("scheduler")
    summary["stored_scheduler"] = stored
    if summary.get("generator") == "invokeai" and isinstance(stored, str) and stored:
        return  # InvokeAI's own name, possibly newer than our list: kept as it is
    match = invokeai_scheduler(summary.get("sampler"), stored)
    summary["scheduler"] = match.name
    if match.note and isinstance(summary.get("extra"), dict):
        summary["extra"]["scheduler_note"] = match.note


def recall_scheduler(summary: dict[str, Any]) -> SchedulerMatch:
    """The scheduler a recall may send, also for records stored before `normalize` existed."""
    scheduler = summary.get("scheduler")
    extra = summary.get("extra")
    note = extra.get("scheduler_note") if isinstance(extra, dict) else None
    if isinstance(scheduler, str) and scheduler in INVOKEAI_SCHEDULERS:
        return SchedulerMatch(scheduler, note if isinstance(note, str) else None)
    stored = summary.get("stored_scheduler", scheduler)
    match = invokeai_scheduler(summary.get("sampler"), stored)
    if match.name is None and isinstance(scheduler, str) and scheduler:
        return SchedulerMatch(None, f"{scheduler!r} is not a scheduler InvokeAI knows")
    return match
