"""Prompt text inside InvokeAI graph/workflow chunks, for images whose core metadata lacks it.

Workflow-built images often carry no `positive_prompt` (or no `invokeai_metadata` at all):
the prompt lives in a `string` node or an encoder's `prompt` field. Which text is positive or
negative cannot be told reliably, so these strings are kept apart (`extra.graph_prompts`)
and only feed search.
"""

from __future__ import annotations

from typing import Any

from photomapd.metadata.values import as_dict, as_list

PROMPT_FIELDS = (
    "prompt",
    "positive_prompt",
    "negative_prompt",
    "positive_style_prompt",
    "negative_style_prompt",
)
MAX_PROMPTS = 20
MAX_TOTAL_CHARS = 20_000  # the summary travels with every image in API lists


def graph_prompts(graph: Any, workflow: Any) -> list[str]:
    found: list[Any] = []
    for node in as_dict(as_dict(graph).get("nodes")).values():
        node = as_dict(node)
        found.extend(node.get(name) for name in PROMPT_FIELDS)
        if node.get("type") == "string":
            found.append(node.get("value"))
    for node in as_list(as_dict(workflow).get("nodes")):
        data = as_dict(as_dict(node).get("data"))
        for name, field in as_dict(data.get("inputs")).items():
            if name in PROMPT_FIELDS or (data.get("type") == "string" and name == "value"):
                found.append(as_dict(field).get("value"))
    texts = [text for text in found if isinstance(text, str) and text.strip()]
    kept: list[str] = []
    budget = MAX_TOTAL_CHARS
    for text in list(dict.fromkeys(texts))[:MAX_PROMPTS]:
        if budget <= 0:
            break
        kept.append(text[:budget])
        budget -= len(kept[-1])
    return kept
