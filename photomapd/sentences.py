"""Joining message parts into readable text. Reasons travel as clauses (no final full stop) so
they fit inside other messages ("model unavailable: <reason>; ..."); where a clause is followed
by another sentence it must end with exactly one full stop, never none ("...to download The
gallery...") and never two (a library error that ends in "." plus our own ". ")."""

from __future__ import annotations

_TERMINAL = (".", "!", "?", "…")


def clause(text: object) -> str:
    """`text` without trailing whitespace or full stops, ready to be embedded or followed."""
    return str(text).strip().rstrip(".").rstrip()


def sentence(text: object) -> str:
    """`text` ending in exactly one terminal punctuation mark ("" stays "")."""
    stripped = str(text).strip()
    if not stripped or stripped.endswith(_TERMINAL[1:]):
        return stripped
    return clause(stripped) + "." if clause(stripped) else ""


def join_sentences(*parts: object) -> str:
    """Non-empty parts as sentences separated by one space."""
    return " ".join(filter(None, (sentence(part) for part in parts)))
