"""Generation metadata: header-only readers, one parser per generator, one normalized record.

Public API: `read_metadata(path)`, `parse_bytes(data)`, `ImageMetadata`, `PARSER_VERSION`,
plus `recall.recall_payload` and `search_text.search_text` / `search_text.fts_query`.
"""

from photomapd.metadata.reader import parse_bytes, read_metadata, read_stream
from photomapd.metadata.record import (
    GENERATOR_NAMES,
    PARSER_VERSION,
    Generator,
    ImageMetadata,
    empty_summary,
)

__all__ = [
    "GENERATOR_NAMES",
    "PARSER_VERSION",
    "Generator",
    "ImageMetadata",
    "empty_summary",
    "parse_bytes",
    "read_metadata",
    "read_stream",
]
