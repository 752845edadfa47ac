"""Read InvokeAI's own database (`<root>/databases/invokeai.db`) read-only, never writing.

Gives boards, each image's board and `is_intermediate` (canvas masks, control images), and the
file of each image under `outputs/images/<image_subfolder>/<image_name>`. Names and subfolders
come from another program's database, so any that would leave `outputs/images` is refused.
Synchronous (sqlite3): async callers run it in a thread.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from photomapd.invokeai.errors import ErrorCode, InvokeAIError
from photomapd.invokeai.urls import is_safe_image_name

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

_OUTPUTS_DIR_LINE = re.compile(r"^outputs_dir:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(#.*)?$", re.M)
_SUBFOLDER_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


class LocalDatabaseError(InvokeAIError):
    """InvokeAI's database is missing or unreadable under the root."""

    code = ErrorCode.DATABASE
    http_status = 400


class BoardNotFoundError(LocalDatabaseError):
    """A board name or id InvokeAI's database does not have; the message lists its boards."""

    code = ErrorCode.BOARD_NOT_FOUND


@dataclass(frozen=True)
class LocalBoard:
    board_id: str
    board_name: str
    archived: bool
    image_count: int


@dataclass(frozen=True)
class LocalImage:
    image_name: str
    board_id: str | None  # None: Uncategorized (no board_images row)
    board_name: str | None
    is_intermediate: bool
    category: str
    subfolder: str
    created_at: str

    @property
    def relpath(self) -> PurePosixPath:
        return (
            PurePosixPath(self.subfolder, self.image_name)
            if self.subfolder
            else PurePosixPath(self.image_name)
        )


def safe_relpath(subfolder: str, image_name: str) -> PurePosixPath | None:
    """`subfolder/image_name` when both are plain names; None for anything path-like."""
    if not is_safe_image_name(image_name):
        return None
    if not subfolder:
        return PurePosixPath(image_name)
    segments = subfolder.split("/")
    if any(s in ("", ".", "..") or not _SUBFOLDER_SEGMENT.match(s) for s in segments):
        return None
    return PurePosixPath(*segments, image_name)


def outputs_dir_of(root: Path) -> Path:
    """`outputs_dir` from `<root>/invokeai.yaml` (default `outputs`), relative to the root."""
    try:
        text = (root / "invokeai.yaml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    match = _OUTPUTS_DIR_LINE.search(text)
    configured = Path(match.group(1).strip()) if match else Path("outputs")
    return configured if configured.is_absolute() else root / configured


class InvokeAIDatabase:
    def __init__(self, root: Path, *, outputs_dir: Path | None = None) -> None:
        self.root = Path(root)
        self.db_path = self.root / "databases" / "invokeai.db"
        self.images_dir = (outputs_dir or outputs_dir_of(self.root)) / "images"

    def _connect(self) -> sqlite3.Connection:
        if not self.db_path.is_file():
            raise LocalDatabaseError(
                f"InvokeAI database not found at {self.db_path}. Check the InvokeAI root folder "
                "(it holds databases/ and outputs/)."
            )
        uri = f"file:{quote(str(self.db_path))}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=5.0)
            connection.execute("SELECT 1 FROM images LIMIT 1")
        except sqlite3.OperationalError as exc:
            # A read-only folder without the -shm file defeats mode=ro on a WAL database. With
            # no -wal/-shm nobody can be writing, so reading it as immutable is safe.
            if Path(f"{self.db_path}-wal").exists():
                raise LocalDatabaseError(
                    f"Could not open {self.db_path} read-only ({exc}). Check that photomapd "
                    "may read the InvokeAI databases folder."
                ) from exc
            connection = sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=5.0)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = 1")
        return connection

    def _columns(self, connection: sqlite3.Connection, table: str) -> set[str]:
        return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}

    def boards(self, *, include_archived: bool = False) -> list[LocalBoard]:
        with closing(self._connect()) as connection:
            archived = "b.archived" if "archived" in self._columns(connection, "boards") else "0"
            rows = connection.execute(
                f"""SELECT b.board_id, b.board_name, {archived} AS archived,
                       (SELECT COUNT(*) FROM board_images bi JOIN images i USING (image_name)
                         WHERE bi.board_id = b.board_id AND i.is_intermediate = 0) AS image_count
                    FROM boards b WHERE b.deleted_at IS NULL ORDER BY b.created_at"""
            ).fetchall()
        return [
            LocalBoard(r["board_id"], r["board_name"], bool(r["archived"]), r["image_count"])
            for r in rows
            if include_archived or not r["archived"]
        ]

    def images(
        self,
        board_ids: Iterable[str | None] | None = None,
        *,
        include_intermediate: bool = False,
    ) -> list[LocalImage]:
        """Images (optionally only those on `board_ids`; None in it = Uncategorized)."""
        wanted = None if board_ids is None else set(board_ids)
        with closing(self._connect()) as connection:
            has_subfolder = "image_subfolder" in self._columns(connection, "images")
            rows = connection.execute(
                f"""SELECT i.image_name, i.image_category, i.is_intermediate, i.created_at,
                       {"i.image_subfolder" if has_subfolder else "''"} AS subfolder,
                       bi.board_id, b.board_name
                    FROM images i
                    LEFT JOIN board_images bi ON bi.image_name = i.image_name
                    LEFT JOIN boards b ON b.board_id = bi.board_id
                    WHERE i.deleted_at IS NULL ORDER BY i.created_at"""
            ).fetchall()
        result = []
        for row in rows:
            if not include_intermediate and row["is_intermediate"]:
                continue
            if wanted is not None and row["board_id"] not in wanted:
                continue
            result.append(
                LocalImage(
                    image_name=row["image_name"],
                    board_id=row["board_id"],
                    board_name=row["board_name"],
                    is_intermediate=bool(row["is_intermediate"]),
                    category=row["image_category"],
                    subfolder=row["subfolder"] or "",
                    created_at=str(row["created_at"]),
                )
            )
        return result

    def flags(self) -> list[tuple[str, int, str | None, str]]:
        """(image_name, is_intermediate, board_name, subfolder) of every image: one lean query
        for the daemon's cached snapshot (plain tuples; 100k rows)."""
        with closing(self._connect()) as connection:
            connection.row_factory = None
            has_subfolder = "image_subfolder" in self._columns(connection, "images")
            return connection.execute(
                f"""SELECT i.image_name, i.is_intermediate, b.board_name,
                       {"i.image_subfolder" if has_subfolder else "''"}
                    FROM images i
                    LEFT JOIN board_images bi ON bi.image_name = i.image_name
                    LEFT JOIN boards b ON b.board_id = bi.board_id
                    WHERE i.deleted_at IS NULL"""
            ).fetchall()

    def intermediate_names(self) -> set[str]:
        """File names InvokeAI marks intermediate, to leave out of the default album."""
        with closing(self._connect()) as connection:
            rows = connection.execute("SELECT image_name FROM images WHERE is_intermediate = 1")
            return {row[0] for row in rows}

    def path_for(self, image: LocalImage) -> Path | None:
        """The file of `image` inside outputs/images, or None when its name would escape it."""
        relpath = safe_relpath(image.subfolder, image.image_name)
        if relpath is None:
            log.warning("refusing InvokeAI image path %r/%r", image.subfolder, image.image_name)
            return None
        path = self.images_dir.joinpath(*relpath.parts)
        base = self.images_dir.resolve()
        resolved = path.resolve()
        if not resolved.is_relative_to(base):  # a symlinked subfolder pointing elsewhere
            log.warning("refusing %s: resolves outside %s", path, base)
            return None
        return path

    def board_files(self, board_ids: Iterable[str | None]) -> tuple[list[Path], list[str]]:
        """Files of the boards' non-intermediate images that exist, plus one warning per skip."""
        paths, warnings = [], []
        for image in self.images(board_ids):
            path = self.path_for(image)
            if path is None:
                warnings.append(f"Skipped {image.image_name!r}: its path would leave outputs/.")
            elif not path.is_file():
                warnings.append(f"{path} is listed by InvokeAI but missing on disk; skipped.")
            else:
                paths.append(path)
        return paths, warnings
