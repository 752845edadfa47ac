"""Indexing: from Change values to indexed rows (wait for complete files, prepare, embed, write, publish)."""
