"""UMAP fits in a low-priority worker process, so a minute of numba work never holds the
daemon's GIL and indexing keeps priority on a 2-core machine.

Measured with a fit on a thread of the daemon instead (8k points): event-loop lag median 14 ms,
max 79 ms, and 0.77 s once while numba compiled the first fit. The process is kept between fits
that follow each other (numba's JIT cost is paid once per process; umap caches much of it on
disk), ends `model.idle_unload_seconds` after the last fit like the model worker (it holds
~350-450 MB of numba, umap and scikit-learn), and is killed, not waited for, when the daemon
stops. It never outlives the daemon, even after a `kill -9` of it (worker_lifetime.py).
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
from photomapd.worker_lifetime import end_with_parent

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from photomapd.map.clusters import ClusterInfo
    from photomapd.map.layout import LayoutParams

logger = logging.getLogger(__name__)

_NICENESS = 10


def _start_worker(parent_pid: int) -> None:
    """The fit worker's start-up: ended with the daemon, and below indexing in priority."""
    end_with_parent(parent_pid, "photomapd-map")
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
    """The fit worker: started by the first fit that needs it, ended `idle_seconds()` after the
    last one (read after each fit, so a changed setting applies to the next idle period)."""

    def __init__(self, idle_seconds: Callable[[], float] = lambda: 120.0) -> None:
        self.idle_seconds = idle_seconds
        self._executor: ProcessPoolExecutor | None = None
        self._fits_running = 0
        self._idle_timer: asyncio.TimerHandle | None = None

    @property
    def worker_pid(self) -> int | None:
        """The running worker's pid; None when no fit worker is alive."""
        processes = getattr(self._executor, "_processes", None) or {}
        return next((p.pid for p in list(processes.values()) if p.is_alive()), None)

    async def fit(self, snapshot: SemanticMap, params: LayoutParams) -> SemanticMap:
        self._cancel_idle_timer()
        self._fits_running += 1
        try:
            return await self._fit(snapshot, params)
        finally:
            self._fits_running -= 1
            if self._fits_running == 0 and self._executor is not None:
                loop = asyncio.get_running_loop()
                delay = max(0.0, self.idle_seconds())
                self._idle_timer = loop.call_later(delay, self._end_if_idle)

    async def _fit(self, snapshot: SemanticMap, params: LayoutParams) -> SemanticMap:
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
                # Spawned on the event loop's thread (run_in_executor submits there), which
                # lives as long as the daemon: Linux's parent-death signal follows that thread.
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _end_if_idle(self) -> None:
        self._idle_timer = None
        if self._fits_running == 0 and self._executor is not None:
            self.close()
            logger.info("map worker ended after idling; its memory is free again")

    def close(self) -> None:
        """Stop now: a fit in progress is abandoned (the saved map stays as it was). The next
        fit starts a fresh worker."""
        self._cancel_idle_timer()
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # ProcessPoolExecutor has no public kill before Python 3.14 (terminate_workers).
        for process in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
