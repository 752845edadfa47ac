"""SQLite, the truth: the Store every component shares, its schema, and all of photomapd's SQL."""
