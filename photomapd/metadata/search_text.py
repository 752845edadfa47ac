"""What an image contributes to the SQLite FTS5 prompt index, and safe FTS5 queries.

`fts_query` turns whatever a user typed into an FTS5 MATCH expression that cannot be a
syntax error: every term is emitted as a double-quoted string (quotes doubled), so `AND`,
`NEAR(`, `:`, `^`, `-` or a stray `"` are just text. Supported on purpose: "exact phrases",
`prefix*` terms and `OR` between terms; everything else is an implicit AND.
"""

from __future__ import annotations

import re
from typing import Any

from photomapd.metadata.record import GENERATOR_NAMES

# Column order of the FTS table built by the store.
FTS_COLUMNS = ("prompt", "negative_prompt", "model", "loras", "generator")
MAX_QUERY_TERMS = 32
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')


def search_fields(summary: dict[str, Any]) -> dict[str, str]:
    """One string per FTS column; empty strings for what the image does not have."""
    model = summary.get("model")
    model = model if isinstance(model, dict) else {}
    loras = summary.get("loras")
    loras = loras if isinstance(loras, list) else []
    generator = summary.get("generator") or ""
    extra = summary.get("extra")
    graph_prompts = extra.get("graph_prompts") if isinstance(extra, dict) else None
    prompt = summary.get("positive_prompt")
    if prompt is None and isinstance(graph_prompts, list):
        prompt = " ".join(text for text in graph_prompts if isinstance(text, str))
    return {
        "prompt": _text(prompt),
        "negative_prompt": _text(summary.get("negative_prompt")),
        "model": _text(model.get("name")),
        "loras": " ".join(_text(lora.get("name")) for lora in loras if isinstance(lora, dict)),
        "generator": f"{generator} {GENERATOR_NAMES.get(generator, '')}".strip(),
    }


def search_text(summary: dict[str, Any]) -> str:
    """All searchable text of an image as one string (for a single-column index)."""
    return "\n".join(value for value in search_fields(summary).values() if value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def fts_query(user_text: str) -> str:
    """An FTS5 MATCH expression for free text; "" when nothing searchable was typed.

    Callers must skip the MATCH clause for "" (FTS5 rejects an empty expression).
    """
    parts: list[str] = []
    # NUL ends a C string inside SQLite's parser, and lone surrogates cannot be encoded.
    cleaned = (user_text or "").replace("\0", " ").encode("utf-8", "replace").decode("utf-8")
    for match in _TOKEN.finditer(cleaned):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            term = _quoted(phrase) if _searchable(phrase) else None
        elif word == "OR":
            if parts and parts[-1] != "OR":
                parts.append("OR")
            continue
        else:
            term = _word(word)
        if term:
            parts.append(term)
        if len(parts) >= MAX_QUERY_TERMS:
            break
    while parts and parts[-1] == "OR":
        parts.pop()
    return " ".join(parts)


def _word(word: str) -> str | None:
    prefix = word.endswith("*")
    core = word.rstrip("*")
    if not _searchable(core):
        return None
    return _quoted(core) + ("*" if prefix else "")


def _searchable(text: str) -> bool:
    # A term without letters or digits tokenizes to nothing; FTS5 would match nothing or fail.
    return any(char.isalnum() for char in text)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
