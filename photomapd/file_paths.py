"""File paths as SQLite stores them and as people see them.

Any byte string but `/` and NUL is a legal file name on Linux. Python spells the bytes that are
not UTF-8 as lone surrogates (os.fsdecode's surrogateescape), which SQLite text cannot hold, so
such a path is stored as a BLOB of its exact bytes (os.fsencode) in the same column; every other
path stays the text it always was (no migration). The store's rows give every path back as the
same str, so the file can be opened, renamed, deleted and served. What the API and the logs show
is valid UTF-8: U+FFFD where a byte was not.
"""

from __future__ import annotations

import os

# The columns of `images` that hold a file path (the image, and its thumbnail beside it).
PATH_COLUMNS = frozenset({"path", "thumbnail"})


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_sqlite(path: str) -> str | bytes:
    """The value a path is stored (and looked up) as: its text, or its exact bytes."""
    return path if _is_text(path) else os.fsencode(path)


def from_sqlite(value: str | bytes) -> str:
    """The path a stored value stands for, as os.fsdecode spells it."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def shown(path: str) -> str:
    """The path as valid UTF-8 text for people: U+FFFD for each byte that is not UTF-8."""
    return path if _is_text(path) else os.fsencode(path).decode("utf-8", "replace")
