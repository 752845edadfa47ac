"""Fixtures for the metadata tests: the shared real-image corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def find_corpus() -> Path | None:
    """`<repo>/../shared/corpus` (CI and /work/main), or the same above a nested worktree."""
    override = os.environ.get("PHOTOMAPD_CORPUS")
    if override:
        return Path(override)
    for parent in [REPO_ROOT, *REPO_ROOT.parents]:
        candidate = parent.parent / "shared" / "corpus"
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = find_corpus()
    if path is None:
        pytest.fail("metadata corpus not found: expected ../shared/corpus next to the repository")
    return path
