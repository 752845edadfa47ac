"""What an image contributes to the SQLite FTS5 prompt index, and safe FTS5 queries.

`fts_query` turns whatever a user typed into an FTS5 MATCH expression that cannot be a
syntax error: every term is emitted as a double-quoted string (quotes doubled), so `AND`,
`NEAR(`, `:`, `^`, `-` or a stray `"` are just text. Supported on purpose: "exact phrases",
`prefix*` terms and `OR` between terms; everything else is an implicit AND. `parse_query`
gives the same terms as data (OR-separated groups of ANDed terms, FTS5's precedence) for
callers that route some terms to another index (see `is_unsegmented`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from photomapd.metadata.record import GENERATOR_NAMES

# Column order of the FTS table built by the store.
FTS_COLUMNS = ("prompt", "negative_prompt", "model", "loras", "generator")
MAX_QUERY_TERMS = 32
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')

# Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar)
# or with particles glued to words (Korean). FTS5's unicode61 tokenizer keeps a whole run of
# them as one token, so a word inside the run is not findable there. Migration 5 copies the
# text of rows containing any of these into the trigram index with a GLOB built from this
# table; changing it needs a migration that re-creates the triggers and re-fills that index.
UNSEGMENTED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-H
)
UNSEGMENTED_GLOB = "*[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in UNSEGMENTED_RANGES) + "]*"


@dataclass(frozen=True)
class QueryTerm:
    """One searchable term: a bare word (maybe `prefix*`) or a "quoted phrase"."""

    text: str
    prefix: bool = False
    phrase: bool = False

    def fts(self) -> str:
        """The term as an FTS5 string (quoted, so operators inside are plain text)."""
        return _quoted(self.text) + ("*" if self.prefix else "")


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


def is_unsegmented(text: str) -> bool:
    """Whether text has a character of a script unicode61 cannot split into words."""
    return any(lo <= ord(char) <= hi for char in text for lo, hi in UNSEGMENTED_RANGES)


def parse_query(user_text: str) -> list[list[QueryTerm]]:
    """OR-separated groups of ANDed terms; [] when nothing searchable was typed.

    FTS5 binds AND tighter than OR (`a b OR c` is `(a b) OR c`); the groups follow that.
    """
    groups: list[list[QueryTerm]] = [[]]
    count = 0
    # NUL ends a C string inside SQLite's parser, and lone surrogates cannot be encoded.
    cleaned = (user_text or "").replace("\0", " ").encode("utf-8", "replace").decode("utf-8")
    for match in _TOKEN.finditer(cleaned):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            term = QueryTerm(phrase, phrase=True) if _searchable(phrase) else None
        elif word == "OR":
            if groups[-1]:
                groups.append([])
            continue
        else:
            core = word.rstrip("*")
            term = QueryTerm(core, prefix=word.endswith("*")) if _searchable(core) else None
        if term:
            groups[-1].append(term)
            count += 1
        if count >= MAX_QUERY_TERMS:
            break
    return [group for group in groups if group]


def fts_query(user_text: str) -> str:
    """An FTS5 MATCH expression for free text; "" when nothing searchable was typed.

    Callers must skip the MATCH clause for "" (FTS5 rejects an empty expression).
    """
    groups = parse_query(user_text)
    return " OR ".join(" ".join(term.fts() for term in group) for group in groups)


def _searchable(text: str) -> bool:
    # A term without letters or digits tokenizes to nothing; FTS5 would match nothing or fail.
    return any(char.isalnum() for char in text)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
