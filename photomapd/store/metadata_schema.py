"""Schema migrations for generation metadata: filter columns, LoRA table, prompt FTS5 index.

Kept apart from metadata_index.py so schema.py can list them without an import cycle. All of it
derives from `images.metadata_json` inside SQLite (triggers), so the index follows every
write, rename and delete with no extra calls from the indexing code.

Version 2 (as first shipped) used virtual generated columns; version 3 replaces them with
plain columns filled by the triggers plus covering indexes, so facet counts read an index
instead of parsing JSON on every row (5x faster at 100k rows), and indexes the prompts of
workflow-built images (`extra.graph_prompts`). Version 5 adds the trigram index for
substring search in unsegmented scripts (its triggers reuse version 3's row indexing as is).
A shipped migration is never edited.
"""

from __future__ import annotations

from photomapd.metadata.search_text import UNSEGMENTED_GLOB

# --- version 2, unchanged since it was merged ------------------------------------------------


def _safe_v2(row: str) -> str:
    # json_each/json_extract raise on malformed JSON; an odd row must not break its insert.
    return f"(CASE WHEN json_valid({row}.metadata_json) THEN {row}.metadata_json ELSE '{{}}' END)"


def _index_rows_v2(row: str) -> str:
    safe = _safe_v2(row)
    return f"""
    INSERT OR IGNORE INTO image_loras (image_id, name, weight)
        SELECT {row}.id, json_extract(value, '$.name'), json_extract(value, '$.weight')
        FROM json_each({safe}, '$.loras') WHERE json_type(value, '$.name') = 'text';
    INSERT INTO prompt_fts (rowid, prompt, negative_prompt, model, loras, generator)
        SELECT {row}.id,
            json_extract({safe}, '$.positive_prompt'),
            json_extract({safe}, '$.negative_prompt'),
            json_extract({safe}, '$.model.name'),
            (SELECT group_concat(json_extract(value, '$.name'), ' ')
                FROM json_each({safe}, '$.loras') WHERE json_type(value, '$.name') = 'text'),
            json_extract({safe}, '$.generator')
        WHERE {row}.metadata_json IS NOT NULL;
    """


def _generated(name: str, expression: str, kind: str) -> str:
    return (
        f"ALTER TABLE images ADD COLUMN {name} {kind} GENERATED ALWAYS AS "
        f"(CASE WHEN json_valid(metadata_json) THEN {expression} END) VIRTUAL;"
    )


# Appended to store.MIGRATIONS: schema version 2.
METADATA_MIGRATION = f"""
    {_generated("meta_generator", "json_extract(metadata_json, '$.generator')", "TEXT")}
    {_generated("meta_model", "json_extract(metadata_json, '$.model.name')", "TEXT")}
    {_generated("meta_seed", "json_extract(metadata_json, '$.seed')", "INTEGER")}
    {
    _generated(
        "meta_has_reference",
        "json_array_length(metadata_json, '$.reference_images') > 0",
        "INTEGER",
    )
}
    CREATE INDEX images_meta_generator ON images (album, meta_generator);
    CREATE INDEX images_meta_model ON images (album, meta_model COLLATE NOCASE);
    CREATE INDEX images_meta_seed ON images (meta_seed);
    CREATE TABLE image_loras (
        image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        weight REAL,
        PRIMARY KEY (image_id, name)
    );
    CREATE INDEX image_loras_name ON image_loras (name COLLATE NOCASE);
    CREATE VIRTUAL TABLE prompt_fts USING fts5(
        prompt, negative_prompt, model, loras, generator,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER images_metadata_insert AFTER INSERT ON images BEGIN
        {_index_rows_v2("NEW")}
    END;
    CREATE TRIGGER images_metadata_update AFTER UPDATE OF metadata_json ON images BEGIN
        DELETE FROM image_loras WHERE image_id = OLD.id;
        DELETE FROM prompt_fts WHERE rowid = OLD.id;
        {_index_rows_v2("NEW")}
    END;
    CREATE TRIGGER images_metadata_delete AFTER DELETE ON images BEGIN
        DELETE FROM prompt_fts WHERE rowid = OLD.id;
    END;
    -- Index the rows that already exist: touching the column fires the update trigger.
    UPDATE images SET metadata_json = metadata_json WHERE metadata_json IS NOT NULL;
"""


# --- version 3 --------------------------------------------------------------------------------


def _safe(row: str) -> str:
    # json_each/json_extract raise on malformed JSON; an odd row must not break its insert.
    return f"(CASE WHEN json_valid({row}.metadata_json) THEN {row}.metadata_json ELSE '{{}}' END)"


def _index_rows(row: str) -> str:
    safe = _safe(row)
    return f"""
    UPDATE images SET
        meta_generator = json_extract({safe}, '$.generator'),
        meta_model = json_extract({safe}, '$.model.name'),
        meta_seed = json_extract({safe}, '$.seed'),
        meta_has_reference = COALESCE(json_array_length({safe}, '$.reference_images') > 0, 0)
        WHERE id = {row}.id;
    INSERT OR IGNORE INTO image_loras (image_id, name, weight)
        SELECT {row}.id, json_extract(value, '$.name'), json_extract(value, '$.weight')
        FROM json_each({safe}, '$.loras') WHERE json_type(value, '$.name') = 'text';
    INSERT INTO prompt_fts (rowid, prompt, negative_prompt, model, loras, generator)
        SELECT {row}.id,
            COALESCE(
                json_extract({safe}, '$.positive_prompt'),
                (SELECT group_concat(value, ' ')
                    FROM json_each({safe}, '$.extra.graph_prompts') WHERE type = 'text')
            ),
            json_extract({safe}, '$.negative_prompt'),
            json_extract({safe}, '$.model.name'),
            (SELECT group_concat(json_extract(value, '$.name'), ' ')
                FROM json_each({safe}, '$.loras') WHERE json_type(value, '$.name') = 'text'),
            json_extract({safe}, '$.generator')
        WHERE {row}.metadata_json IS NOT NULL;
    """


METADATA_MIGRATION_3 = f"""
    DROP TRIGGER images_metadata_insert;
    DROP TRIGGER images_metadata_update;
    DROP INDEX images_meta_generator;
    DROP INDEX images_meta_model;
    DROP INDEX images_meta_seed;
    ALTER TABLE images DROP COLUMN meta_generator;
    ALTER TABLE images DROP COLUMN meta_model;
    ALTER TABLE images DROP COLUMN meta_seed;
    ALTER TABLE images DROP COLUMN meta_has_reference;
    ALTER TABLE images ADD COLUMN meta_generator TEXT;
    ALTER TABLE images ADD COLUMN meta_model TEXT;
    ALTER TABLE images ADD COLUMN meta_seed INTEGER;
    ALTER TABLE images ADD COLUMN meta_has_reference INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX images_meta_generator ON images (
        album, status, meta_generator, meta_has_reference, created_at
    );
    CREATE INDEX images_meta_model ON images (album, status, meta_model);
    CREATE INDEX images_meta_model_nocase ON images (meta_model COLLATE NOCASE);
    CREATE INDEX images_meta_seed ON images (meta_seed);
    CREATE TRIGGER images_metadata_insert AFTER INSERT ON images BEGIN
        {_index_rows("NEW")}
    END;
    CREATE TRIGGER images_metadata_update AFTER UPDATE OF metadata_json ON images BEGIN
        DELETE FROM image_loras WHERE image_id = OLD.id;
        DELETE FROM prompt_fts WHERE rowid = OLD.id;
        {_index_rows("NEW")}
    END;
    -- Refill everything for existing rows: touching the column fires the update trigger.
    UPDATE images SET metadata_json = metadata_json WHERE metadata_json IS NOT NULL;
"""


# --- version 5 --------------------------------------------------------------------------------

# Everything the unicode61 index holds for a row, as one text (the trigram index's only column).
_JOINED = (
    "COALESCE(prompt, '') || char(10) || COALESCE(negative_prompt, '') || char(10) || "
    "COALESCE(model, '') || char(10) || COALESCE(loras, '') || char(10) || "
    "COALESCE(generator, '')"
)


def _index_trigram(row: str) -> str:
    # Reads the unicode61 row just written by the same trigger body, so both agree.
    return f"""
    INSERT INTO prompt_trigram (rowid, text)
        SELECT rowid, {_JOINED} FROM prompt_fts
        WHERE rowid = {row}.id AND {_JOINED} GLOB '{UNSEGMENTED_GLOB}';
    """


# A second FTS5 index with the trigram tokenizer (SQLite >= 3.34) over the rows whose text has
# Chinese, Japanese, Korean, Thai, ... characters, for substring search inside a run of them.
# Only those rows: a Latin-only library pays nothing. Back-filled from prompt_fts directly
# (no re-parse, no touching metadata_json).
METADATA_MIGRATION_5 = f"""
    CREATE VIRTUAL TABLE prompt_trigram USING fts5(text, tokenize = 'trigram');
    DROP TRIGGER images_metadata_insert;
    DROP TRIGGER images_metadata_update;
    DROP TRIGGER images_metadata_delete;
    CREATE TRIGGER images_metadata_insert AFTER INSERT ON images BEGIN
        {_index_rows("NEW")}
        {_index_trigram("NEW")}
    END;
    CREATE TRIGGER images_metadata_update AFTER UPDATE OF metadata_json ON images BEGIN
        DELETE FROM image_loras WHERE image_id = OLD.id;
        DELETE FROM prompt_fts WHERE rowid = OLD.id;
        DELETE FROM prompt_trigram WHERE rowid = OLD.id;
        {_index_rows("NEW")}
        {_index_trigram("NEW")}
    END;
    CREATE TRIGGER images_metadata_delete AFTER DELETE ON images BEGIN
        DELETE FROM prompt_fts WHERE rowid = OLD.id;
        DELETE FROM prompt_trigram WHERE rowid = OLD.id;
    END;
    INSERT INTO prompt_trigram (rowid, text)
        SELECT rowid, {_JOINED} FROM prompt_fts WHERE {_JOINED} GLOB '{UNSEGMENTED_GLOB}';
"""
