"""A server on its own event-loop thread, for Playwright's sync API (which drives the page from
the main thread): the real daemon and the fake API both run this way."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def serve_on_thread(
    name: str,
    start: Callable[[], Awaitable[T]],
    stop: Callable[[T], Awaitable[None]],
    timeout: float,
) -> Iterator[T]:
    """Run `start()` on a new loop thread and yield its result; on exit `stop(result)` runs
    there and the thread is joined. A failed start is raised here, in the caller's thread."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stopping = asyncio.Event()
        try:
            started = loop.run_until_complete(start())
        except BaseException as error:  # re-raised in the caller's thread below
            holder["error"] = error
            ready.set()
            loop.close()
            return
        holder.update(started=started, loop=loop, stopping=stopping)
        ready.set()
        loop.run_until_complete(stopping.wait())
        loop.run_until_complete(stop(started))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    assert ready.wait(timeout), f"{name} did not start within {timeout} s"
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["started"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stopping"].set)
        thread.join(timeout)
