"""The SQLite file: its two connections, migrations on open, and the generic read/write helpers.

One writer connection serialises writes; a second connection serves reads concurrently thanks
to WAL.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

from photomapd.file_paths import PATH_COLUMNS, from_sqlite
from photomapd.store.schema import MIGRATIONS, check_sqlite_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

log = logging.getLogger(__name__)
T = TypeVar("T")


class PathRow(sqlite3.Row):
    """A row whose path columns are always str: a name that is not UTF-8 is stored as its
    bytes (file_paths.py). Only rows holding some bytes value (a vector, such a path) look."""

    def __new__(cls, cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> PathRow:
        if bytes in map(type, values):
            listed = list(values)
            for position, column in enumerate(cursor.description):
                if column[0] in PATH_COLUMNS and isinstance(listed[position], bytes):
                    listed[position] = from_sqlite(listed[position])
            values = tuple(listed)
        return super().__new__(cls, cursor, values)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        check_sqlite_version()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        connection = await aiosqlite.connect(self.path, timeout=30)
        connection.row_factory = PathRow
        await connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only power loss can drop
        # the last transactions, which the next reconcile re-indexes anyway.
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        return connection

    async def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        async with connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("migrating database %s to version %d", self.path, number)
            await connection.executescript(
                f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;"
            )

    @property
    def writer(self) -> aiosqlite.Connection:
        assert self._writer is not None, "Store.open() was not awaited"
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._reader is not None, "Store.open() was not awaited"
        return self._reader

    async def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.reader.execute(sql, parameters) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.reader.execute(sql, parameters) as cursor:
            return await cursor.fetchone()

    async def write(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; returns lastrowid."""
        async with self._write_lock:
            cursor = await self.writer.execute(sql, parameters)
            await self.writer.commit()
            return cursor.lastrowid or 0

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._write_lock:
            await self.writer.executemany(sql, rows)
            await self.writer.commit()

    async def run_in_writer(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run a blocking function on the writer connection's own thread, as one hop.

        A batch of many statements then costs one thread hand-off instead of one per statement:
        with decode threads holding the GIL, each hand-off can wait a whole switch interval
        (5 ms), which capped indexing at ~75 img/s on a 16-core GPU machine.
        aiosqlite offers no public call for this; `_execute` runs `function` in its thread.
        """
        async with self._write_lock:
            return await self.writer._execute(function, self.writer._conn)

    async def integrity_check(self) -> str:
        row = await self.fetch_one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"
