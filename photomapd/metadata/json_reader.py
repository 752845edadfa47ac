"""Reads a file's metadata as the JSON columns the index stores (summary, raw chunks, version)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from photomapd.metadata.reader import read_metadata
from photomapd.metadata.record import PARSER_VERSION

log = logging.getLogger(__name__)

MetadataReader = Callable[[Path], tuple[str | None, str | None, int | None]]


def default_metadata_reader() -> MetadataReader:
    """The reader the daemon uses: every generator's chunks, parsed by photomapd.metadata."""

    def read(path: Path) -> tuple[str | None, str | None, int | None]:
        try:
            result = read_metadata(path)
        # The parser promises not to raise; a bug in it must not lose the image.
        except Exception as error:
            log.warning("metadata parser failed on %s: %s", path, error)
            return None, None, None
        summary = json.dumps(result.summary, ensure_ascii=False, default=str)
        raw = json.dumps(
            {"chunks": result.raw, "warnings": result.warnings}, ensure_ascii=False, default=str
        )
        return summary, raw, int(PARSER_VERSION)

    return read
