"""UMAP fits in a low-priority worker process, so a minute of numba work never holds the
daemon's GIL and indexing keeps priority on a 2-core machine.

Measured with a fit on a thread of the daemon instead (8k points): event-loop lag median 14 ms,
max 79 ms, and 0.77 s once while numba compiled the first fit. The process is kept between fits
(numba's JIT cost is paid once) and killed, not waited for, when the daemon stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from photomapd.map.layout import MapLayout
from photomapd.map.semantic_map import SemanticMap

if TYPE_CHECKING:
    import numpy as np

    from photomapd.map.clusters import ClusterInfo
    from photomapd.map.layout import LayoutParams

logger = logging.getLogger(__name__)

_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # os.nice: POSIX only
        os.nice(_NICENESS)


def fit_arrays(
    ids: np.ndarray,
    vectors: np.ndarray,
    previous_xy: np.ndarray,
    fitted_count: int,
    prompts: dict[int, str | None],
    strength: float,
    params: LayoutParams,
) -> tuple[np.ndarray, np.ndarray, list[ClusterInfo]]:
    """In the worker: fit from the previous positions; returns (xy, labels, clusters) in the
    order of `ids`. Vectors are not sent back: the parent has them."""
    previous = SemanticMap(MapLayout(ids, previous_xy, vectors, fitted_count, params))
    fitted = SemanticMap.fit(ids, vectors, prompts, strength, previous=previous, params=params)
    return fitted.layout.xy, fitted.labels, fitted.clusters


class FitProcess:
    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None

    async def fit(self, snapshot: SemanticMap, params: LayoutParams) -> SemanticMap:
        layout = snapshot.layout
        arguments: tuple[Any, ...] = (
            layout.ids,
            layout.vectors,
            layout.xy,
            layout.fitted_count,
            snapshot.prompts,
            snapshot.strength,
            params,
        )
        loop = asyncio.get_running_loop()
        try:
            xy, labels, clusters = await loop.run_in_executor(self._pool(), fit_arrays, *arguments)
        except BrokenProcessPool:
            self.close()  # killed (OOM, or stopped): a fresh process next time
            raise
        fitted_layout = MapLayout(layout.ids, xy, layout.vectors, len(layout.ids), params)
        return SemanticMap(
            fitted_layout,
            labels=labels,
            clusters=clusters,
            prompts=snapshot.prompts,
            strength=snapshot.strength,
            version=snapshot.version + 1,
        )

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                1,
                # spawn: fork would copy the daemon's threads and open connections
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
            )
        return self._executor

    def close(self) -> None:
        """Stop now: a fit in progress is abandoned (the saved map stays as it was)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor has no public kill before Python 3.14 (terminate_workers).
        for process in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
