"""Worker processes, measured from outside as a user sees them (a real `photomapd run` in a
subprocess, /proc): the idle daemon with all its processes stays under 250 MB, the map worker
idles out and comes back for a refit, and no worker outlives a `kill -9` of its daemon."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import png_bytes
from tests.processes import (
    free_port,
    is_alive,
    is_resource_tracker,
    process_tree,
    start_daemon_process,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

IDLE_LIMIT_MB = 250.0
IMAGES = 20  # enough for a UMAP fit in the map worker (smaller albums get a PCA layout in-thread)


class DaemonProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return json.loads(response.read())

    def post(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.base + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the daemon exited:\n{self.log.read_text()}"
            try:
                value = check()
            except OSError:  # not listening yet
                value = None
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def workers(self, name: str | None = None) -> list[int]:
        """Pids below the daemon, multiprocessing's resource tracker left out (not a worker)."""
        return [
            info.pid
            for info in process_tree(self.process.pid)[1:]
            if not is_resource_tracker(info.pid) and (name is None or info.name == name)
        ]

    def indexed(self) -> str:
        """Wait until every image has its vector; the album's key."""

        def done() -> dict[str, Any] | None:
            status = self.get("/api/status")
            complete = (
                status["total_images"] == IMAGES and status["indexing"]["embeddings_owed"] == 0
            )
            return status if complete else None

        return str(self.wait(done, 120, "indexing")["albums"][0]["key"])

    def map_status(self, album: str) -> str:
        return str(self.get(f"/api/albums/{album}/map")["status"])


@pytest.fixture
def run_daemon(
    tmp_path: Path, tiny_clip: tuple[Path, Path]
) -> Iterator[Callable[..., DaemonProcess]]:
    started: list[subprocess.Popen[bytes]] = []

    def run(idle_unload_seconds: float) -> DaemonProcess:
        folder = tmp_path / "pictures"
        folder.mkdir()
        for number in range(IMAGES):
            color = (number * 12 % 256, 255 - number * 12 % 256, number * 40 % 256)
            (folder / f"{number:02d}.png").write_bytes(png_bytes(color))
        port = free_port()
        log = tmp_path / "daemon.log"
        process = start_daemon_process(
            tmp_path / "data",
            tiny_clip,
            port,
            folder,
            idle_unload_seconds=idle_unload_seconds,
            log_path=log,
        )
        started.append(process)
        return DaemonProcess(process, port, log)

    yield run
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


@pytest.mark.timeout(400)
def test_idle_daemon_with_its_workers_stays_under_250_mb_and_the_map_worker_comes_back(
    run_daemon: Callable[..., DaemonProcess],
) -> None:
    idle_seconds = 3.0
    daemon = run_daemon(idle_seconds)
    album = daemon.indexed()
    daemon.post(f"/api/albums/{album}/map/refit")  # "started", or "running" after indexing's own
    first_fit = daemon.wait(lambda: daemon.workers("photomapd-map"), 60, "the map worker")
    daemon.wait(lambda: daemon.map_status(album) == "ready", 240, "the first fit")
    last_work = time.monotonic()

    # Idle: the model worker and the map worker end; what is left fits the budget.
    daemon.wait(lambda: not daemon.workers(), idle_seconds + 10, "every worker to end")
    assert time.monotonic() - last_work <= idle_seconds + 10
    tree = process_tree(daemon.process.pid)
    total = sum(info.rss_mb for info in tree)
    assert total <= IDLE_LIMIT_MB, [(info.name, round(info.rss_mb)) for info in tree]
    assert all(not is_alive(pid) for pid in first_fit)

    # A refit brings the map worker back (a new process), and the map is refitted.
    version = daemon.get(f"/api/albums/{album}/map")["version"]
    assert daemon.post(f"/api/albums/{album}/map/refit")["refit"] == "started"
    again = daemon.wait(lambda: daemon.workers("photomapd-map"), 60, "the map worker again")
    assert set(again).isdisjoint(first_fit)
    daemon.wait(
        lambda: daemon.get(f"/api/albums/{album}/map")["version"] > version, 240, "the refit"
    )
    daemon.wait(lambda: not daemon.workers("photomapd-map"), idle_seconds + 10, "idle again")


@pytest.mark.timeout(300)
def test_kill_9_of_the_daemon_leaves_no_worker_behind(
    run_daemon: Callable[..., DaemonProcess],
) -> None:
    daemon = run_daemon(idle_unload_seconds=600)  # the workers would stay for 10 minutes
    album = daemon.indexed()
    daemon.post(f"/api/albums/{album}/map/refit")
    daemon.wait(lambda: daemon.workers("photomapd-map"), 60, "the map worker")
    assert daemon.workers("photomapd-model"), "the model worker runs (it embedded the images)"
    children = [info.pid for info in process_tree(daemon.process.pid)[1:]]
    os.kill(daemon.process.pid, signal.SIGKILL)
    daemon.process.wait(10)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(is_alive(pid) for pid in children):
        time.sleep(0.1)
    survivors = [info for info in map(_described, children) if info is not None]
    assert not survivors, f"alive 5 s after kill -9 of the daemon: {survivors}"


def _described(pid: int) -> str | None:
    if not is_alive(pid):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None
    return f"{pid}: {command.decode(errors='replace')}"


# --- the portable guard alone: a worker whose parent is killed, no parent-death signal -----


def _watched_worker() -> None:
    from photomapd.worker_lifetime import watch_parent

    watch_parent()
    time.sleep(300)


def _parent_of_a_watched_worker(ready: Any) -> None:
    worker = multiprocessing.get_context("spawn").Process(target=_watched_worker)
    worker.start()
    ready.send(worker.pid)
    time.sleep(300)


def test_a_worker_watching_its_parent_ends_with_it_without_the_linux_signal() -> None:
    """The guard for every platform (and for a worker started on a thread that ended): the
    watchdog thread sees the parent's sentinel fire and ends the worker."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    parent = context.Process(target=_parent_of_a_watched_worker, args=(sender,))
    parent.start()
    try:
        assert receiver.poll(60), "the worker did not start"
        worker_pid = receiver.recv()
        assert is_alive(worker_pid)
        os.kill(parent.pid, signal.SIGKILL)  # type: ignore[arg-type]
        parent.join(10)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and is_alive(worker_pid):
            time.sleep(0.05)
        assert not is_alive(worker_pid), "the worker outlived its parent by 5 s"
    finally:
        if parent.is_alive():
            parent.kill()
        parent.join(10)
