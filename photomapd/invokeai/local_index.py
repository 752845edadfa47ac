"""A cached view of InvokeAI's own database: intermediates, each image's board, board albums.

One query reads the whole `images` table (with boards) into a snapshot; it is read again only when
the database file or its WAL changed, and at most every `min_interval` seconds, so the watcher
thread can ask "is this file intermediate?" per event for free. Blocking (sqlite3): async callers
use a thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photomapd.invokeai.local_db import (
    BoardNotFoundError,
    InvokeAIDatabase,
    LocalDatabaseError,
    safe_relpath,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from photomapd.invokeai.local_db import (
        LocalBoard,
    )

log = logging.getLogger(__name__)

UNCATEGORIZED = "Uncategorized"
# Names a user may give for "the images on no board".
UNCATEGORIZED_NAMES = {"uncategorized", "none"}


@dataclass(frozen=True)
class Snapshot:
    signature: tuple[tuple[int, int], ...] = ()
    boards: dict[str, str] = field(default_factory=dict)  # image name -> board name
    intermediates: frozenset[str] = frozenset()
    subfolders: dict[str, str] = field(default_factory=dict)  # name -> subfolder, when not flat
    error: str | None = None

    def relpath(self, name: str) -> str:
        subfolder = self.subfolders.get(name)
        return f"{subfolder}/{name}" if subfolder else name

    def changed_since(self, old: Snapshot) -> set[str]:
        """Names whose board or intermediate flag differ from `old` (new names included)."""
        names = {name for name, board in self.boards.items() if old.boards.get(name) != board}
        return names | (self.intermediates - old.intermediates)


@dataclass(frozen=True)
class BoardFiles:
    files: dict[str, tuple[int, float]]  # path -> (size, mtime)
    warnings: list[str]


class LocalIndex:
    def __init__(self, root: Path, min_interval: float = 3.0) -> None:
        self.database = InvokeAIDatabase(root)
        self.min_interval = min_interval
        self._snapshot = Snapshot()
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._images_dir_resolved: Path | None = None

    @property
    def images_dir(self) -> Path:
        return self.database.images_dir

    def covers(self, folder: Path) -> bool:
        """True when `folder` is InvokeAI's images folder (where intermediates land too)."""
        if self._images_dir_resolved is None:
            self._images_dir_resolved = self.images_dir.resolve()
        return Path(folder).resolve() == self._images_dir_resolved

    def signature(self) -> tuple[tuple[int, int], ...]:
        """(mtime_ns, size) of the database and its WAL: changes whenever InvokeAI commits."""
        parts = []
        for suffix in ("", "-wal"):
            try:
                stat = Path(f"{self.database.db_path}{suffix}").stat()
                parts.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                parts.append((0, 0))
        return tuple(parts)

    def snapshot(self, *, fresh: bool = False) -> Snapshot:
        """The cached snapshot, re-read when the database changed (`fresh`: don't wait)."""
        if not fresh and time.monotonic() - self._checked_at < self.min_interval:
            return self._snapshot  # the hot path for watcher events: no lock, no stat
        with self._lock:
            now = time.monotonic()
            if not fresh and now - self._checked_at < self.min_interval:
                return self._snapshot
            self._checked_at = now
            signature = self.signature()
            if signature == self._snapshot.signature and self._snapshot.error is None:
                return self._snapshot
            self._snapshot = self._read(signature)
            return self._snapshot

    def _read(self, signature: tuple[tuple[int, int], ...]) -> Snapshot:
        try:
            rows = self.database.flags()
        except (LocalDatabaseError, sqlite3.Error, OSError) as error:
            # A missing or locked database must not stop indexing: nothing is skipped then.
            if self._snapshot.error != str(error):
                log.warning("cannot read InvokeAI's database: %s", error)
            return Snapshot(signature, error=str(error))
        boards: dict[str, str] = {}
        intermediates = set()
        subfolders = {}
        for name, intermediate, board_name, subfolder in rows:
            if intermediate:
                intermediates.add(name)
            else:
                boards[name] = board_name or UNCATEGORIZED
            if subfolder and safe_relpath(subfolder, name) is not None:
                subfolders[name] = subfolder
        return Snapshot(signature, boards, frozenset(intermediates), subfolders)

    def is_intermediate(self, path: Path) -> bool:
        return path.name in self.snapshot().intermediates

    def board_of(self, path: Path | str) -> str | None:
        """Board name ("Uncategorized" for none); None when InvokeAI does not know the file."""
        return self.snapshot().boards.get(Path(path).name)

    # --- board albums ------------------------------------------------------------------

    def resolve_boards(self, wanted: Iterable[str]) -> list[str]:
        """Board ids for ids or names (case-insensitive); "Uncategorized" becomes "none".

        Raises BoardNotFoundError naming the boards that do not exist.
        """
        boards = self.database.boards(include_archived=True)
        by_id = {board.board_id: board for board in boards}
        by_name: dict[str, LocalBoard] = {}
        for board in boards:
            by_name.setdefault(board.board_name.casefold(), board)
        resolved, unknown = [], []
        for item in wanted:
            text = item.strip()
            if text.casefold() in UNCATEGORIZED_NAMES:
                resolved.append("none")
            elif text in by_id:
                resolved.append(text)
            elif text.casefold() in by_name:
                resolved.append(by_name[text.casefold()].board_id)
            else:
                unknown.append(item)
        if unknown:
            names = ", ".join(repr(b.board_name) for b in boards if not b.archived) or "none"
            raise BoardNotFoundError(
                f"InvokeAI has no board {', '.join(map(repr, unknown))}. Its boards: {names} "
                "(or 'Uncategorized'); GET /api/invokeai/local/boards lists them."
            )
        return list(dict.fromkeys(resolved))

    def board_names(self, board_ids: Iterable[str]) -> dict[str, str | None]:
        """id -> name (None for a board that no longer exists)."""
        names = {b.board_id: b.board_name for b in self.database.boards(include_archived=True)}
        return {
            board_id: UNCATEGORIZED if board_id == "none" else names.get(board_id)
            for board_id in board_ids
        }

    def board_files(self, board_ids: Iterable[str]) -> BoardFiles:
        """path -> (size, mtime) of the boards' files; escaping names are refused, not read."""
        ids = [None if board_id == "none" else board_id for board_id in board_ids]
        paths, warnings = self.database.board_files(ids)
        files: dict[str, tuple[int, float]] = {}
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue  # deleted since: the next reconcile drops it
            files[str(path)] = (stat.st_size, stat.st_mtime)
        return BoardFiles(files, warnings)
