"""Traversal of a ComfyUI API-format graph (see comfyui.py for the strategy)."""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from photomapd.metadata.record import model_ref
from photomapd.metadata.values import as_dict, as_int, as_number, as_str

# Inputs that lead back to an earlier sampler: never searched for this sampler's settings.
_LATENT_INPUTS = {"latent_image", "samples", "latent", "samples_to", "samples_from"}
_TEXT_INPUTS = ("text", "text_g", "t5xxl", "clip_l", "text_l", "prompt", "string", "value")
_MODEL_INPUTS = ("ckpt_name", "unet_name", "model_name", "checkpoint", "base_ckpt_name")
_SEED_INPUTS = ("seed", "noise_seed")
MAX_VISITS = 2000


def _widen(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Keys plus the output names of primitive/string nodes, without duplicates."""
    return tuple(dict.fromkeys((*keys, "value", "string", "text", "int")))


def _natural_key(node_id: str) -> tuple[int, int | str]:
    return (0, int(node_id)) if node_id.isdigit() else (1, node_id)


class Graph:
    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = nodes

    def inputs(self, node_id: str | None) -> dict[str, Any]:
        if node_id is None:
            return {}
        return as_dict(as_dict(self.nodes.get(node_id)).get("inputs"))

    def class_type(self, node_id: str) -> str:
        return as_str(as_dict(self.nodes.get(node_id)).get("class_type")) or ""

    def link(self, value: Any) -> str | None:
        if isinstance(value, list) and len(value) == 2 and str(value[0]) in self.nodes:
            return str(value[0])
        return None

    def samplers(self) -> list[str]:
        found = []
        for node_id in self.nodes:
            inputs = self.inputs(node_id)
            is_sampler = "sampler" in self.class_type(node_id).lower() and (
                "positive" in inputs or "guider" in inputs or "steps" in inputs
            )
            if is_sampler:
                found.append(node_id)
        return sorted(found, key=_natural_key)

    def _upstream_samplers(self, node_id: str, samplers: set[str]) -> bool:
        """Whether any sampler feeds this one's latent input (i.e. it is not a base pass)."""
        seen: set[str] = set()
        queue = deque(self._latent_links(node_id))
        while queue and len(seen) < MAX_VISITS:
            current = queue.popleft()
            if current in seen:
                continue
            seen.add(current)
            if current in samplers:
                return True
            queue.extend(self._all_links(current))
        return False

    def _latent_links(self, node_id: str) -> list[str]:
        inputs = self.inputs(node_id)
        return [link for key in _LATENT_INPUTS if (link := self.link(inputs.get(key)))]

    def _all_links(self, node_id: str) -> list[str]:
        return [link for value in self.inputs(node_id).values() if (link := self.link(value))]

    def main_sampler(self, samplers: list[str]) -> str | None:
        sampler_set = set(samplers)
        base = [s for s in samplers if not self._upstream_samplers(s, sampler_set)]
        ordered = base or samplers
        return ordered[0] if ordered else None

    def find(
        self,
        start: Any,
        keys: tuple[str, ...],
        skip_latent: bool = True,
        visited: set[tuple[str, tuple[str, ...]]] | None = None,
    ) -> Any:
        """Breadth-first search upstream from a link for the first scalar input named in `keys`.

        A key whose value is itself a link (a text input fed by a string primitive) is
        resolved through that node. `visited` is shared by those nested searches so that a
        cyclic or hostile graph costs at most one visit per (node, keys) pair.
        """
        first = self.link(start)
        visited = set() if visited is None else visited
        queue = deque([first] if first is not None else [])
        while queue and len(visited) < MAX_VISITS:
            node_id = queue.popleft()
            if (node_id, keys) in visited:
                continue
            visited.add((node_id, keys))
            inputs = self.inputs(node_id)
            for key in keys:
                value = inputs.get(key)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    return value
                if self.link(value):
                    resolved = self.find(value, _widen(keys), skip_latent, visited)
                    if resolved is not None:
                        return resolved
            for key, value in inputs.items():
                linked = self.link(value)
                if linked and not (skip_latent and key in _LATENT_INPUTS):
                    queue.append(linked)
        return None

    def value(self, node_id: str, keys: tuple[str, ...]) -> Any:
        """An input of this node, or of whatever its link points to (noise, guider, sigmas)."""
        inputs = self.inputs(node_id)
        for key in keys:
            if key in inputs:
                value = inputs[key]
                return self.find(value, keys) if self.link(value) else value
        for key, value in inputs.items():
            if key not in _LATENT_INPUTS and key not in ("model", "positive", "negative"):
                found = self.find(value, keys) if self.link(value) else None
                if found is not None:
                    return found
        return None

    def conditioning(self, node_id: str, which: str) -> Any:
        """The link feeding a sampler's positive/negative input (or its guider's)."""
        start = self.inputs(node_id).get(which)
        if start is None:  # SamplerCustomAdvanced: the guider holds the conditioning
            guider = self.link(self.inputs(node_id).get("guider"))
            start = self.inputs(guider).get(which)
            if start is None and which == "positive":  # BasicGuider: one conditioning
                start = self.inputs(guider).get("conditioning")
        return start

    def prompt(self, node_id: str, which: str) -> str | None:
        return as_str(self.find(self.conditioning(node_id, which), _TEXT_INPUTS))

    def model_and_loras(self, node_id: str) -> tuple[str | None, list[dict[str, Any]] | None]:
        loras: list[dict[str, Any]] = []
        current = self.link(self.inputs(node_id).get("model"))
        guider = self.link(self.inputs(node_id).get("guider"))
        if current is None and guider is not None:
            current = self.link(self.inputs(guider).get("model"))
        seen: set[str] = set()
        while current is not None and current not in seen and len(seen) < MAX_VISITS:
            seen.add(current)
            inputs = self.inputs(current)
            if "lora_name" in inputs:
                weight = inputs.get("strength_model", inputs.get("strength"))
                loras.append({"name": as_str(inputs["lora_name"]), "weight": as_number(weight)})
            for key in _MODEL_INPUTS:
                if isinstance(inputs.get(key), str):
                    return inputs[key], loras or None
            current = self.link(inputs.get("model"))
        return None, loras or None

    def size(self, node_id: str) -> tuple[int | None, int | None]:
        width = self.find(self.inputs(node_id).get("latent_image"), ("width",), skip_latent=False)
        height = self.find(self.inputs(node_id).get("latent_image"), ("height",), skip_latent=False)
        if width is None:  # SamplerCustomAdvanced names it latent_image too; others "latent"
            width = self.find(self.inputs(node_id).get("latent"), ("width",), skip_latent=False)
            height = self.find(self.inputs(node_id).get("latent"), ("height",), skip_latent=False)
        return as_int(width), as_int(height)

    def fill(self, summary: dict[str, Any]) -> None:
        samplers = self.samplers()
        summary["extra"]["sampler_nodes"] = len(samplers)
        sampler = self.main_sampler(samplers)
        if sampler is None:
            return
        summary["extra"]["sampler_node"] = sampler
        summary["positive_prompt"] = self.prompt(sampler, "positive")
        summary["negative_prompt"] = self.prompt(sampler, "negative")
        model, loras = self.model_and_loras(sampler)
        summary["model"] = model_ref(as_str(model))
        summary["loras"] = loras
        summary["seed"] = as_int(self.value(sampler, _SEED_INPUTS))
        summary["steps"] = as_int(self.value(sampler, ("steps",)))
        summary["cfg_scale"] = as_number(self.value(sampler, ("cfg",)))
        summary["sampler"] = as_str(self.value(sampler, ("sampler_name",)))
        summary["scheduler"] = as_str(self.value(sampler, ("scheduler",)))
        summary["guidance"] = as_number(
            self.find(self.conditioning(sampler, "positive"), ("guidance",))
        )
        summary["strength"] = _denoise(self.inputs(sampler).get("denoise"))
        summary["width"], summary["height"] = self.size(sampler)
        summary["generation_mode"] = "img2img" if self._is_img2img(sampler) else "txt2img"

    def _is_img2img(self, sampler: str) -> bool:
        latent = self.link(self.inputs(sampler).get("latent_image"))
        return latent is not None and re.search("encode", self.class_type(latent), re.I) is not None


def _denoise(value: Any) -> float | None:
    number = as_number(value)
    return float(number) if number is not None and number != 1 else None
