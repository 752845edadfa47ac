"""The one Store every component shares: the SQLite database with all of photomapd's SQL.

SQLite is the source of truth (the usearch file is a cache rebuilt from here). Each group of
tables and statements lives in its own module; Store puts them together on one connection pair:
  database.py        connections, migrations, write lock, generic read/write helpers
  image_queries.py   reads for the API and UI (one image, pages, counts, failures)
  image_rows.py      rows kept in step with the folders; favourites, InvokeAI boards
  indexed_rows.py    the pipeline's batches: rows + vectors in one transaction, moves
  embedding_rows.py  vectors per model, the usearch rebuild source, images owed a vector
"""

from __future__ import annotations

from photomapd.store.embedding_rows import EmbeddingRows
from photomapd.store.image_queries import ImageQueries
from photomapd.store.image_rows import ImageRows
from photomapd.store.indexed_rows import IndexedRows


class Store(ImageQueries, ImageRows, IndexedRows, EmbeddingRows):
    """Open with `await store.open()`, close with `await store.close()`."""
