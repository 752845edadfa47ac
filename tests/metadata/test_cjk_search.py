"""Prompt search inside runs of Chinese, Japanese, Korean and Thai text (trigram index)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photomapd.store.metadata_index import MetadataFilter, MetadataIndex
from photomapd.store.schema import MIGRATIONS
from photomapd.store.store import Store
from tests.metadata.test_search_text import HOSTILE

PROMPTS = {
    "ja": "古い城の夜, 月明かり",
    "zh": "山上的城堡",
    "th": "ปราสาทบนภูเขา ตอนกลางคืน",
    "ko": "성에서 본 야경",
    "mixed": "masterpiece, 1girl, 古城",
    "latin": "a castle at night, oil painting",
    "category": "category study",
}


def _insert(connection: sqlite3.Connection, name: str, prompt: str | None) -> None:
    summary = {"generator": "invokeai", "positive_prompt": prompt} if prompt else None
    connection.execute(
        "INSERT INTO images (album, path, size, mtime, created_at, status, metadata_json) "
        "VALUES ('a', ?, 1, 1, ?, 'ok', ?)",
        (f"/{name}.png", len(name), json.dumps(summary, ensure_ascii=False) if summary else None),
    )


def _database(path: Path | str, version: int = len(MIGRATIONS)) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    for name, prompt in PROMPTS.items():
        _insert(connection, name, prompt)
    connection.commit()
    return connection


@pytest.fixture(scope="module")
def database() -> Iterator[sqlite3.Connection]:
    connection = _database(":memory:")
    yield connection
    connection.close()


def _names(connection: sqlite3.Connection, text: str) -> set[str]:
    where, parameters = MetadataIndex.where(MetadataFilter(prompt=text), None)
    rows = connection.execute(f"SELECT path FROM images WHERE {where}", parameters)
    return {Path(row[0]).stem for row in rows}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("城", {"ja", "zh", "mixed"}),  # one character: instr() over the trigram rows
        ("古城", {"mixed"}),  # two characters
        ("城の夜", {"ja"}),  # three or more: the trigram index
        ("月明かり", {"ja"}),
        ("城堡", {"zh"}),
        ("ภูเขา", {"th"}),
        ("กลางคืน", {"th"}),
        ("성", {"ko"}),
        ("야경", {"ko"}),
        ("城 OR castle", {"ja", "zh", "mixed", "latin"}),
        ("1girl 城", {"mixed"}),
        ("1girl,古城", {"mixed"}),  # split like unicode61 splits words
        ("painting 城", set()),
        ('"の夜, 月"', {"ja"}),  # a quoted phrase is that exact text
        ("城*", {"ja", "zh", "mixed"}),
        ("夜 月", {"ja"}),
        ("犬", set()),
    ],
)
def test_substring_inside_unsegmented_text(
    database: sqlite3.Connection, query: str, expected: set[str]
) -> None:
    assert _names(database, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("castle", {"latin"}),
        ("cast*", {"latin"}),
        ('"oil painting"', {"latin"}),
        ('"painting oil"', set()),
        ("castle OR study", {"latin", "category"}),
        ("cat", set()),  # words, not substrings, outside unsegmented scripts
    ],
)
def test_latin_queries_keep_word_semantics(
    database: sqlite3.Connection, query: str, expected: set[str]
) -> None:
    assert _names(database, query) == expected


def test_only_rows_with_unsegmented_text_enter_the_trigram_index(
    database: sqlite3.Connection,
) -> None:
    rows = database.execute("SELECT rowid FROM prompt_trigram").fetchall()
    assert len(rows) == 5  # ja, zh, th, ko, mixed


LONG = ["城," * 3000, ("城,夜 " * 40 + "OR ") * 40, "1girl," * 2000 + "城"]


@pytest.mark.parametrize(
    "text", [*HOSTILE, *LONG, "城 OR", "OR 城", '"城', "城 NEAR(", "城'; --", "ก"]
)
def test_hostile_input_never_errors(database: sqlite3.Connection, text: str) -> None:
    _names(database, text)


@given(st.text(alphabet=st.sampled_from('城の夜古 a"*OR()-:^ก성\0'), max_size=40) | st.text())
@settings(max_examples=300, deadline=None)
def test_any_text_is_a_valid_query(text: str) -> None:
    connection = _database(":memory:")
    try:
        _names(connection, text)
    finally:
        connection.close()


async def test_ranked_search_and_trigram_search_through_the_store(tmp_path: Path) -> None:
    _database(tmp_path / "db.sqlite3").close()
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    try:
        index = MetadataIndex(store)
        ids, total = await index.search(MetadataFilter(prompt="城"), "a", 2, 0)
        assert total == 3 and len(ids) == 2
        rows = await store.get_images(ids)
        # Newest first (created_at is the name's length here; ties: the later row first).
        assert [Path(rows[i]["path"]).stem for i in ids] == ["mixed", "zh"]
        (found,) = await index.matching_ids(MetadataFilter(prompt="城の夜"), None)
        assert (await store.get_image(found))["path"] == "/ja.png"
        facets = await index.facets("a", MetadataFilter(prompt="城"))
        assert facets["total"] == 3
    finally:
        await store.close()


async def test_upgrade_backfills_and_triggers_follow_changes(tmp_path: Path) -> None:
    """From schema 4 (before the trigram index): existing rows become findable."""
    _database(tmp_path / "db.sqlite3", version=4).close()
    store = Store(tmp_path / "db.sqlite3")
    await store.open()
    try:
        assert (await store.fetch_one("PRAGMA user_version"))[0] == len(MIGRATIONS)
        index = MetadataIndex(store)

        async def names(text: str) -> set[str]:
            ids, _ = await index.search(MetadataFilter(prompt=text), None, 50, 0)
            return {Path(row["path"]).stem for row in (await store.get_images(ids)).values()}

        assert await names("城") == {"ja", "zh", "mixed"}
        assert await names("城の夜") == {"ja"}
        # A re-parse that changes the prompt moves the row in both indexes.
        await store.write(
            "UPDATE images SET metadata_json = ? WHERE path = '/ja.png'",
            (json.dumps({"positive_prompt": "a night castle"}),),
        )
        assert await names("城の夜") == set()
        assert await names("castle") == {"ja", "latin"}
        await store.write(
            "UPDATE images SET metadata_json = ? WHERE path = '/latin.png'",
            (json.dumps({"positive_prompt": "夜の城"}, ensure_ascii=False),),
        )
        assert await names("夜の城") == {"latin"}
        await store.write("DELETE FROM images WHERE path IN ('/zh.png', '/latin.png')")
        assert await names("城") == {"mixed"}
        count = await store.fetch_one("SELECT COUNT(*) FROM prompt_trigram")
        assert count[0] == 3  # th, ko, mixed
    finally:
        await store.close()
