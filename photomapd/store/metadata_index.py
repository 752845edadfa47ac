"""SQL over generation metadata: the prompt FTS index, filter columns, facets, re-parsing.

Everything derives from `images.metadata_json` inside SQLite: generated columns for the
scalar filters and triggers for the FTS5 table and the LoRA table. Whatever code path writes
or moves a row (indexing, renames, deletes), the index follows without extra calls.
A parser upgrade (`PARSER_VERSION`) re-reads only the file headers of outdated rows; the
embeddings stay.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photomapd.file_paths import to_sqlite
from photomapd.metadata import GENERATOR_NAMES, PARSER_VERSION
from photomapd.metadata.json_reader import default_metadata_reader
from photomapd.store.metadata_prompt import prompt_condition
from photomapd.store.schema import VISIBLE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from photomapd.metadata.json_reader import MetadataReader
    from photomapd.store.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetadataFilter:
    """Metadata conditions for search; every field is optional and they combine with AND."""

    prompt: str = ""
    model: str | None = None
    lora: str | None = None
    generator: str | None = None
    seed: int | float | None = None  # float: seeds beyond SQLite INTEGER, stored as REAL
    since: float | None = None
    until: float | None = None
    has_reference: bool | None = None
    favourite: bool = False  # starred images only

    def active(self) -> bool:
        return (
            self.favourite
            or bool(prompt_condition(self.prompt))
            or any(
                value is not None
                for value in (
                    self.model,
                    self.lora,
                    self.generator,
                    self.seed,
                    self.since,
                    self.until,
                    self.has_reference,
                )
            )
        )


class MetadataIndex:
    def __init__(self, store: Store, read_metadata: MetadataReader | None = None) -> None:
        self.store = store
        self.read_metadata = read_metadata or default_metadata_reader()

    @staticmethod
    def where(filters: MetadataFilter, album: str | None) -> tuple[str, list[Any]]:
        conditions = [VISIBLE]
        parameters: list[Any] = []
        if album:
            conditions.append("album = ?")
            parameters.append(album)
        prompt = prompt_condition(filters.prompt)
        if prompt:
            conditions.append(prompt.sql)
            parameters.extend(prompt.parameters)
        simple = (
            ("meta_model = ? COLLATE NOCASE", filters.model),
            ("meta_generator = ?", filters.generator),
            ("meta_seed = ?", filters.seed),
            ("created_at >= ?", filters.since),
            ("created_at < ?", filters.until),
        )
        for condition, value in simple:
            if value is not None:
                conditions.append(condition)
                parameters.append(value)
        if filters.lora is not None:
            conditions.append(
                "images.id IN (SELECT image_id FROM image_loras WHERE name = ? COLLATE NOCASE)"
            )
            parameters.append(filters.lora)
        if filters.has_reference is not None:
            conditions.append("meta_has_reference = ?")
            parameters.append(int(filters.has_reference))
        if filters.favourite:
            conditions.append("favourite = 1")
        return " AND ".join(conditions), parameters

    async def search(
        self, filters: MetadataFilter, album: str | None, limit: int, offset: int
    ) -> tuple[list[int], int]:
        """Matching image ids, best prompt match first (else newest first), and the total.

        Searches that use the trigram index (CJK, Thai, ... terms) are ordered newest first.
        """
        where, parameters = self.where(filters, album)
        query = prompt_condition(filters.prompt).ranked
        if query:
            # Join the FTS result once (rank included) instead of ranking row by row.
            sql = (
                "SELECT images.id FROM images JOIN (SELECT rowid, rank FROM prompt_fts "
                "WHERE prompt_fts MATCH ?) AS found ON found.rowid = images.id "
                f"WHERE {where} ORDER BY found.rank, created_at DESC, images.id DESC "
                "LIMIT ? OFFSET ?"
            )
            rows = await self.store.fetch_all(sql, [query, *parameters, limit, offset])
        else:
            rows = await self.store.fetch_all(
                f"SELECT id FROM images WHERE {where} ORDER BY created_at DESC, id DESC "
                "LIMIT ? OFFSET ?",
                [*parameters, limit, offset],
            )
        total = await self.store.fetch_one(f"SELECT COUNT(*) FROM images WHERE {where}", parameters)
        return [int(row[0]) for row in rows], int(total[0]) if total else 0

    async def matching_ids(self, filters: MetadataFilter, album: str | None) -> set[int]:
        """The candidate set when metadata filters restrict a semantic search."""
        where, parameters = self.where(filters, album)
        rows = await self.store.fetch_all(f"SELECT id FROM images WHERE {where}", parameters)
        return {int(row[0]) for row in rows}

    async def matching_among(
        self, filters: MetadataFilter, album: str | None, ids: Sequence[int]
    ) -> list[int]:
        """Which of these ids pass the filters (a live search counting its new images)."""
        if not ids:
            return []
        where, parameters = self.where(filters, album)
        marks = ",".join("?" * len(ids))
        rows = await self.store.fetch_all(
            f"SELECT id FROM images WHERE id IN ({marks}) AND {where} ORDER BY id",
            [*ids, *parameters],
        )
        return [int(row[0]) for row in rows]

    async def facets(self, album: str, filters: MetadataFilter, top: int = 100) -> dict[str, Any]:
        where, parameters = self.where(filters, album)
        generators = await self._counts("meta_generator", where, parameters, top)
        for entry in generators:
            entry["label"] = GENERATOR_NAMES.get(entry["value"], entry["value"])
        loras = await self.store.fetch_all(
            # CROSS JOIN: scanning the small LoRA table first is 2x faster than per-image lookups.
            f"SELECT l.name AS value, COUNT(*) AS count FROM image_loras l "
            f"CROSS JOIN images ON images.id = l.image_id WHERE {where} "
            "GROUP BY l.name ORDER BY count DESC, value LIMIT ?",
            [*parameters, top],
        )
        totals = await self.store.fetch_one(
            "SELECT COUNT(*) AS total, COALESCE(SUM(meta_has_reference), 0) AS refs, "
            "COALESCE(SUM(meta_generator IS NULL), 0) AS bare, MIN(created_at) AS first, "
            f"MAX(created_at) AS last FROM images WHERE {where}",
            parameters,
        )
        assert totals is not None
        return {
            "album": album,
            "total": int(totals["total"]),
            "generators": generators,
            "models": await self._counts("meta_model", where, parameters, top),
            "loras": [{"value": row["value"], "count": int(row["count"])} for row in loras],
            "has_reference": int(totals["refs"]),
            "without_metadata": int(totals["bare"]),
            "created": {"first": totals["first"], "last": totals["last"]},
        }

    async def _counts(
        self, column: str, where: str, parameters: list[Any], top: int
    ) -> list[dict[str, Any]]:
        rows = await self.store.fetch_all(
            f"SELECT {column} AS value, COUNT(*) AS count FROM images "
            f"WHERE {where} AND {column} IS NOT NULL "
            "GROUP BY value ORDER BY count DESC, value LIMIT ?",
            [*parameters, top],
        )
        return [{"value": row["value"], "count": int(row["count"])} for row in rows]

    async def image_metadata(self, image_id: int) -> dict[str, Any] | None:
        row = await self.store.fetch_one(
            "SELECT metadata_json, raw_metadata_json, parser_version FROM images WHERE id = ?",
            (image_id,),
        )
        return dict(row) if row else None

    async def prefill(self, album: str, paths: Sequence[Path], batch: int = 500) -> int:
        """Insert 'pending' rows, with their metadata, for files the database does not have.

        Header-only reading runs at thousands of files per second, decoding and embedding at
        tens, so calling this from a reconcile makes a new library browsable and
        prompt-searchable long before the pipeline reaches each file; the pipeline later
        fills in the same row (same album and path). Existing rows are left alone.
        """
        known = await self.store.known_files(album)
        unknown = [path for path in paths if str(path) not in known]
        inserted = 0
        for start in range(0, len(unknown), batch):
            chunk = unknown[start : start + batch]
            rows = await asyncio.to_thread(self._prefill_rows, album, chunk)
            # OR IGNORE: the pipeline may have saved one of them meanwhile; its row wins.
            await self.store.write_many(
                "INSERT OR IGNORE INTO images (album, path, size, mtime, created_at, status, "
                "metadata_json, raw_metadata_json, parser_version) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                rows,
            )
            inserted += len(rows)
        return inserted

    def _prefill_rows(self, album: str, paths: Sequence[Path]) -> list[tuple[Any, ...]]:
        rows = []
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished since the scan; the watcher reports it
            summary, raw, version = self.read_metadata(path)
            rows.append((album, to_sqlite(str(path)), stat.st_size, stat.st_mtime, stat.st_mtime,
                         summary, raw, version))  # fmt: skip
        return rows

    async def reparse_outdated(self, batch: int = 200) -> int:
        """Re-read the metadata of rows written by an older parser; returns how many changed."""
        updated, last_id = 0, 0
        while True:
            rows = await self.store.fetch_all(
                "SELECT id, path FROM images WHERE status = 'ok' AND id > ? "
                "AND (parser_version IS NULL OR parser_version < ?) ORDER BY id LIMIT ?",
                (last_id, PARSER_VERSION, batch),
            )
            if not rows:
                return updated
            last_id = int(rows[-1]["id"])
            results = await asyncio.to_thread(self._read_all, [(r["id"], r["path"]) for r in rows])
            await self.store.write_many(
                "UPDATE images SET metadata_json = ?, raw_metadata_json = ?, parser_version = ? "
                "WHERE id = ?",
                results,
            )
            updated += len(results)

    def _read_all(self, rows: list[tuple[int, str]]) -> list[tuple[Any, ...]]:
        results = []
        for image_id, path in rows:
            if not Path(path).is_file():
                continue  # gone or unmounted: keep what we had; the watcher handles removals
            summary, raw, version = self.read_metadata(Path(path))
            if version is not None:
                results.append((summary, raw, version, image_id))
        return results


# After a parser upgrade, stored records are re-parsed in the background once startup is done.
REPARSE_DELAY_SECONDS = 2.0


async def reparse_after_upgrade(store: Store, delay: float = REPARSE_DELAY_SECONDS) -> None:
    """Re-parse rows read by an older metadata parser; a failure keeps the old records and never
    takes the daemon down."""
    await asyncio.sleep(delay)  # let startup finish first
    try:
        count = await MetadataIndex(store).reparse_outdated()
    except Exception:
        log.exception("re-parsing outdated image metadata failed")
        return
    if count:
        log.info("re-parsed the metadata of %d images after a parser upgrade", count)
