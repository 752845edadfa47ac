"""The SQL condition for a prompt search over the two FTS5 indexes.

`prompt_fts` (unicode61) finds words, prefixes and phrases, but keeps a run of Chinese,
Japanese, Thai, ... characters as one token, so 城 never matches 古い城の夜. Terms in those
scripts are looked up as substrings in `prompt_trigram` instead (migration 5), which holds only
the rows whose text has such characters. A trigram index cannot look up a term shorter than
three characters; those are checked with instr() over the text of the rows in that index
(the candidate set), never over the whole library.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from photomapd.metadata.search_text import (
    MAX_QUERY_TERMS,
    QueryTerm,
    is_unsegmented,
    parse_query,
)

TRIGRAM = 3

_WORDS = "images.id IN (SELECT rowid FROM prompt_fts WHERE prompt_fts MATCH ?)"
_SUBSTRING = "images.id IN (SELECT rowid FROM prompt_trigram WHERE prompt_trigram MATCH ?)"
# lower() on both sides: SQLite folds ASCII only, so both sides fold alike.
_SHORT = "images.id IN (SELECT rowid FROM prompt_trigram WHERE instr(lower(text), lower(?)) > 0)"


@dataclass(frozen=True)
class PromptCondition:
    """A condition on `images.id`, or an empty one when nothing searchable was typed.

    `ranked` is set when one unicode61 MATCH expression decides the whole search, so results
    can be ordered by its rank; searches that use the trigram index are ordered newest first.
    """

    sql: str = ""
    parameters: list[Any] = field(default_factory=list)
    ranked: str | None = None

    def __bool__(self) -> bool:
        return bool(self.sql)


def prompt_condition(user_text: str) -> PromptCondition:
    groups = parse_query(user_text)
    if not groups:
        return PromptCondition()
    if not any(is_unsegmented(term.text) for group in groups for term in group):
        query = " OR ".join(" ".join(term.fts() for term in group) for group in groups)
        return PromptCondition(_WORDS, [query], ranked=query)
    clauses, parameters = [], []
    for group in _split_groups(groups):
        sql, values = _group(group)
        clauses.append(sql)
        parameters.extend(values)
    return PromptCondition("(" + " OR ".join(clauses) + ")", parameters)


def _split_groups(groups: list[list[QueryTerm]]) -> list[list[QueryTerm]]:
    """Each term split into pieces, at most MAX_QUERY_TERMS in all: every piece can be its own
    condition, and SQLite refuses expressions nested deeper than 1000."""
    split: list[list[QueryTerm]] = []
    count = 0
    for group in groups:
        pieces = [piece for term in group for piece in _pieces(term)][: MAX_QUERY_TERMS - count]
        count += len(pieces)
        if pieces:
            split.append(pieces)
    return split


def _group(pieces: list[QueryTerm]) -> tuple[str, list[Any]]:
    """ANDed pieces: the word pieces in one MATCH, each unsegmented piece on its own."""
    words: list[str] = []
    conditions: list[str] = []
    parameters: list[Any] = []
    for piece in pieces:
        if not is_unsegmented(piece.text):
            words.append(piece.fts())
        elif len(piece.text) >= TRIGRAM:
            conditions.append(_SUBSTRING)
            parameters.append(QueryTerm(piece.text).fts())
        else:
            conditions.append(_SHORT)
            parameters.append(piece.text)
    if words:
        conditions.insert(0, _WORDS)
        parameters.insert(0, " ".join(words))
    return "(" + " AND ".join(conditions) + ")", parameters


def _pieces(term: QueryTerm) -> list[QueryTerm]:
    """A bare word typed as `1girl,古城` is two terms, as unicode61 would split it; a quoted
    phrase with unsegmented text is kept whole and found as exactly that substring."""
    if not is_unsegmented(term.text):
        return [term]
    if term.phrase:
        return [QueryTerm(term.text.strip(), phrase=True)]
    pieces = _split_words(term.text)
    last = len(pieces) - 1
    return [
        QueryTerm(piece, prefix=term.prefix and number == last)
        for number, piece in enumerate(pieces)
    ]


def _split_words(text: str) -> list[str]:
    """Runs of letters, marks and digits (marks kept: Thai vowels and tone marks are marks)."""
    pieces, current = [], []
    for char in text:
        if unicodedata.category(char)[0] in "LMN":
            current.append(char)
        elif current:
            pieces.append("".join(current))
            current = []
    if current:
        pieces.append("".join(current))
    return pieces
