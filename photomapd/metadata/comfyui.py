"""ComfyUI: walk the API-format `prompt` graph from the sampler to its inputs.

The prompt graph is `{node_id: {"class_type", "inputs"}}`, where an input is either a value
or a link `[source_node_id, output_index]`. Taking "the first text" is wrong for any real
workflow, so: pick the sampler (the first base-pass sampler that feeds an output), then follow
its `positive`/`negative` links to the text encoders, its `model` link through LoRA loaders to
the checkpoint, and its `latent_image` link to the empty latent for the size.
The graph may sit in a PNG `prompt` chunk, an EXIF tag written as "Prompt: {...}", or an EXIF
UserComment JSON `{"prompt": ..., "workflow": ...}`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from photomapd.metadata.comfyui_graph import Graph
from photomapd.metadata.record import Generator, empty_summary
from photomapd.metadata.values import as_dict, loads_json

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

_EXIF_PREFIX = re.compile(r"^\s*(prompt|workflow)\s*:\s*", re.IGNORECASE)


def parse(source: Source) -> dict[str, Any] | None:
    prompt, workflow = _find_graphs(source)
    if prompt is None and workflow is None:
        return None
    summary = empty_summary()
    summary["generator"] = Generator.COMFYUI
    summary["has_workflow"] = workflow is not None
    if prompt is not None:
        Graph(prompt).fill(summary)
    return summary


def _find_graphs(source: Source) -> tuple[dict[str, Any] | None, Any]:
    prompt = _graph(source.json_chunk("prompt"))
    workflow = source.json_chunk("workflow")
    for value in source.exif.values():
        match = _EXIF_PREFIX.match(value)
        if match:
            decoded = loads_json(value[match.end() :])
            if match.group(1).lower() == "prompt":
                prompt = prompt or _graph(decoded)
            elif workflow is None and isinstance(decoded, dict):
                workflow = decoded
    bundle = as_dict(source.user_comment_json())
    if prompt is None and "prompt" in bundle:
        prompt = _graph(bundle.get("prompt"))
        workflow = workflow or bundle.get("workflow")
    if workflow is not None and not isinstance(workflow, dict):
        workflow = None
    return prompt, workflow


def _graph(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):  # some savers double-encode
        value = loads_json(value)
    if not isinstance(value, dict):
        return None
    nodes = {str(key): node for key, node in value.items() if isinstance(node, dict)}
    if not any("class_type" in node for node in nodes.values()):
        return None
    return nodes
