"""The database schema: stepwise migrations (PRAGMA user_version counts those applied) and the
SQLite version they need."""

from __future__ import annotations

import sqlite3

from photomapd.store.metadata_schema import (
    METADATA_MIGRATION,
    METADATA_MIGRATION_3,
    METADATA_MIGRATION_5,
)

MIGRATIONS: list[str] = [
    # 1: images + embeddings
    """
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        album TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        content_hash TEXT,
        width INTEGER,
        height INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        error TEXT,
        created_at REAL NOT NULL,
        indexed_at REAL,
        missing_since REAL,
        metadata_json TEXT,
        raw_metadata_json TEXT,
        parser_version INTEGER,
        favourite INTEGER NOT NULL DEFAULT 0,
        thumbnail TEXT,
        UNIQUE (album, path)
    );
    CREATE INDEX images_album_created ON images (album, status, created_at);
    CREATE INDEX images_hash ON images (content_hash);
    CREATE TABLE embeddings (
        image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX embeddings_model ON embeddings (model_id);
    """,
    # 2: generation metadata filter columns, LoRA table, prompt FTS5 (metadata_schema.py)
    METADATA_MIGRATION,
    # 3: metadata filter columns as plain trigger-filled columns with covering indexes
    METADATA_MIGRATION_3,
    # 4: InvokeAI board of each image in InvokeAI's images folder (NULL elsewhere)
    "ALTER TABLE images ADD COLUMN board TEXT",
    # 5: trigram FTS5 index for substring search in CJK/Thai prompts (metadata_schema.py)
    METADATA_MIGRATION_5,
]

# The rows the gallery shows: 'missing' rows are kept a while only so a moved file keeps its id.
VISIBLE = "status IN ('ok', 'pending', 'error')"

# FTS5's trigram tokenizer (migration 5) needs SQLite 3.34. Some Linux Pythons use the system's
# library; an older one would stop the migration with a bare "no such tokenizer: trigram".
MINIMUM_SQLITE = (3, 34, 0)


class SQLiteTooOld(RuntimeError):
    """This Python's SQLite cannot hold photomapd's database."""


def check_sqlite_version(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> None:
    if tuple(version) < MINIMUM_SQLITE:
        have = ".".join(map(str, version))
        raise SQLiteTooOld(
            f"this Python uses SQLite {have}, but photomapd needs SQLite 3.34 or newer (for "
            "substring search in Chinese, Japanese and Thai prompts). Install photomapd with a "
            "newer Python: installer/install.sh uses uv's Python builds when uv is present, or "
            "use python.org's installer"
        )
