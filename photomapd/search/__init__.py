"""Semantic search: the usearch vectors kept in step with SQLite, and the searcher over them."""
