from __future__ import annotations

from pathlib import Path

import pytest

from tests.tinyclip import write_tiny_clip


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config_path, checkpoint_path) of a tiny random CLIP: Embedder(str(cfg), str(ckpt))."""
    return write_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
