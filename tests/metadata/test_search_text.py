"""fts_query never produces an expression FTS5 rejects, and finds what users mean."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photomapd.metadata.search_text import FTS_COLUMNS, fts_query, search_fields, search_text

HOSTILE = [
    '"',
    '""',
    '"unterminated phrase',
    "cat AND",
    "AND OR NOT",
    "NEAR(cat dog, 2)",
    "prompt:cat",
    "^cat",
    "-cat",
    "cat -dog",
    "*",
    "**",
    "cat**",
    "(cat",
    "cat)",
    "{col1 col2}: cat",
    "a'b",
    "'; DROP TABLE images; --",
    "\\",
    "\0",
    "OR",
    "cat OR",
    "テスト*",
    "🐉",
    "x" * 5000,
    "   ",
    "",
]


@pytest.fixture
def fts() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    columns = ", ".join(FTS_COLUMNS)
    connection.execute(f"CREATE VIRTUAL TABLE prompts USING fts5({columns})")
    rows = [
        {"positive_prompt": "a black cat on a red sofa", "model": {"name": "Dreamshaper 8"}},
        {"positive_prompt": "a red fox in the snow", "loras": [{"name": "film_grain_v2"}]},
        {"positive_prompt": "1girl, hatsune miku, #テスト", "generator": "comfyui"},
        {"positive_prompt": 'a neon sign that says "OPEN 24/7"', "negative_prompt": "blurry"},
    ]
    for row in rows:
        fields = search_fields(row)
        connection.execute(
            f"INSERT INTO prompts ({columns}) VALUES (?, ?, ?, ?, ?)",
            [fields[column] for column in FTS_COLUMNS],
        )
    yield connection
    connection.close()


def _search(connection: sqlite3.Connection, text: str) -> list[int]:
    query = fts_query(text)
    if not query:
        return []
    cursor = connection.execute(
        "SELECT rowid FROM prompts WHERE prompts MATCH ? ORDER BY rowid", (query,)
    )
    return [row[0] for row in cursor]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_never_errors(fts: sqlite3.Connection, text: str) -> None:
    _search(fts, text)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_text_is_a_valid_fts5_expression(text: str) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    connection.execute("INSERT INTO t VALUES ('a cat and a dog')")
    query = fts_query(text)
    if query:
        connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)).fetchall()
    connection.close()


def test_terms_are_anded(fts: sqlite3.Connection) -> None:
    assert _search(fts, "red cat") == [1]
    assert _search(fts, "red") == [1, 2]


def test_prefix_query(fts: sqlite3.Connection) -> None:
    assert _search(fts, "dream*") == [1]
    assert _search(fts, "sno*") == [2]


def test_phrase_query(fts: sqlite3.Connection) -> None:
    assert _search(fts, '"black cat"') == [1]
    assert _search(fts, '"cat black"') == []


def test_or_between_terms(fts: sqlite3.Connection) -> None:
    assert _search(fts, "cat OR fox") == [1, 2]


def test_operators_typed_by_users_are_plain_words(fts: sqlite3.Connection) -> None:
    assert _search(fts, "NOT cat") == []  # "not" is a word nobody wrote
    assert _search(fts, '"OPEN 24/7"') == [4]


def test_non_latin_and_loras_and_generator_are_searchable(fts: sqlite3.Connection) -> None:
    assert _search(fts, "テスト") == [3]
    assert _search(fts, "film_grain_v2") == [2]
    assert _search(fts, "ComfyUI") == [3]


def test_search_text_joins_all_fields() -> None:
    text = search_text(
        {
            "positive_prompt": "p",
            "negative_prompt": "n",
            "model": {"name": "m"},
            "loras": [{"name": "l1"}, {"name": "l2"}, "junk"],
            "generator": "invokeai",
        }
    )
    assert text.split("\n") == ["p", "n", "m", "l1 l2", "invokeai InvokeAI"]


def test_search_fields_survive_wrong_types() -> None:
    fields = search_fields({"positive_prompt": 3, "model": "x", "loras": {"a": 1}})
    assert set(fields.values()) == {""}
