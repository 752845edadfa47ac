from __future__ import annotations

import numpy as np
import pytest

from photomapd.map.layout import MapLayout, fit_layout
from tests.map.synthetic import planted_clusters

N_POINTS = 2000


@pytest.fixture(scope="session")
def planted() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return planted_clusters(N_POINTS, k=12, seed=0)


@pytest.fixture(scope="session")
def fitted(planted: tuple[np.ndarray, np.ndarray, np.ndarray]) -> MapLayout:
    """One UMAP fit shared by all map tests: the first fit pays ~15 s of numba JIT."""
    vectors, _, _ = planted
    return fit_layout(np.arange(N_POINTS), vectors)
