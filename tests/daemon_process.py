"""A real daemon as its own process (`python -m photomapd run --headless`), for what can only be
set up around a process: a user namespace with its own inotify limit, or one in which a
folder is really unreadable even when the tests run as root."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import tomli_w

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DaemonProcess:
    """`prefix` wraps the command line: it gets the shell command and returns argv."""

    def __init__(
        self,
        workdir: Path,
        tiny_clip: tuple[Path, Path],
        albums: list[dict[str, Any]],
        prefix: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "daemon.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = prefix or (lambda command: ["sh", "-c", command])
        model_config, checkpoint = tiny_clip
        document = {
            "model": {
                "name": str(model_config),
                "pretrained": str(checkpoint),
                "device": "cpu",
                "worker_process": False,
                "batch_size": 8,
            },
            "albums": albums,
        }
        (self.data / "config.toml").write_text(tomli_w.dumps(document), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DaemonProcess:
        command = (
            f"exec {sys.executable} -m photomapd --data-dir {self.data} run --headless "
            f"--port {self.port}"
        )
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                self.prefix(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": ROOT},
            )
        self.wait(lambda: self.get("/api/status"), 120, "the daemon to answer")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)

    def wait(self, check: Callable[[], Any], timeout: float, message: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.process.returncode}): {self.log()}")
            try:
                value = check()
            except OSError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {message}")
            time.sleep(0.25)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")
