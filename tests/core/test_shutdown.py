"""Stopping the daemon never hangs, whatever its background tasks are waiting on.

On Python 3.11, `asyncio.wait_for` returns the inner result when the cancellation arrives in the
same loop step as that result, swallowing the cancellation: a reconcile that asks for the
embedding catch-up just before a stop left the catch-up task running and `Daemon.stop()` waiting
for it forever (the "reconcile stage sometimes sits idle forever" of bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from photomapd.daemon import Daemon
from photomapd.model.lifecycle import ModelState
from tests.helpers import png_bytes, wait_for

STOP_SECONDS = 5.0
FILES = 40


async def _settled(daemon: Daemon) -> bool:
    """Every file has its row, the model is loaded (a stop lets a load in flight finish),
    nothing is queued and the catch-up task is back in its timed wait."""
    known = await daemon.store.known_files("album0")
    return (
        daemon.embedder.state == ModelState.READY
        and len(known) == FILES
        and all(file.status == "ok" for file in known.values())
        and daemon.pipeline.queued == 0
        and not daemon.pipeline.catch_up_wanted.is_set()
    )


async def test_stop_right_after_a_reconcile_finishes_in_seconds(tmp_path: Path, make_config):
    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(FILES):
        (folder / f"{number:03d}.png").write_bytes(png_bytes((number * 6, 40, 200 - number)))
    config = make_config(folder)
    for attempt in range(3):
        daemon = Daemon(config)
        await daemon.start()
        await wait_for(lambda d=daemon: _settled(d), timeout=60, message=f"start {attempt} idle")
        await asyncio.sleep(0.1)  # the catch-up task is back in its timed wait
        # "Update Index" over unchanged files, then quit: the reconcile's last step asks for
        # the catch-up, and the stop's cancel follows in the same loop step.
        summary = await daemon.albums.reconcile("album0")
        started = time.monotonic()
        try:
            async with asyncio.timeout(STOP_SECONDS):
                await daemon.stop()
        except TimeoutError:
            raise AssertionError(
                f"start {attempt}: Daemon.stop() still waiting after {STOP_SECONDS} s"
            ) from None
        assert summary["unchanged"] == FILES
        assert time.monotonic() - started < STOP_SECONDS


def test_no_task_waits_with_wait_for():
    """asyncio.wait_for is the 3.11 trap above; asyncio.timeout propagates the cancel."""
    package = Path(__file__).resolve().parents[2] / "photomapd"
    users = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if "asyncio.wait_for(" in path.read_text(encoding="utf-8")
    ]
    assert users == [], f"use asyncio.timeout instead of asyncio.wait_for in {users}"


async def test_stop_while_paused_with_files_waiting_finishes_in_seconds(
    tmp_path: Path, make_config
):
    """Paused work is not work in hand: the stop does not wait for it to drain."""
    folder = tmp_path / "images"
    folder.mkdir()
    for number in range(4):
        (folder / f"{number}.png").write_bytes(png_bytes((number * 50, 10, 10)))
    daemon = Daemon(make_config(folder), start_paused=True)
    await daemon.start()

    async def waiting() -> bool:
        return daemon.pipeline.in_flight > 0  # decode workers hold files until resumed

    await wait_for(waiting, message="files held by the paused pipeline")
    started = time.monotonic()
    try:
        async with asyncio.timeout(STOP_SECONDS):
            await daemon.stop()
    except TimeoutError:
        raise AssertionError(f"a paused daemon still stopping after {STOP_SECONDS} s") from None
    assert time.monotonic() - started < STOP_SECONDS
