"""A process and its descendants as Linux's /proc shows them: who, how much memory, alive or not.
Shared by the process-lifetime tests and bench/bench_idle_memory.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: str  # /proc/PID/comm: photomapd names its workers (photomapd-model, photomapd-map)
    rss_mb: float


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """Running or sleeping; a zombie (exited, not yet reaped) counts as ended."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(root: int) -> list[int]:
    """Every live process below `root` (children, their children, ...), by /proc/*/stat ppid."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def process_info(pid: int) -> ProcessInfo | None:
    try:
        name = (PROC / str(pid) / "comm").read_text().strip()
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    rss_kb = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return ProcessInfo(pid, name, rss_kb / 1024)


def process_tree(root: int) -> list[ProcessInfo]:
    """`root` and its live descendants with their resident memory; `root` first."""
    found = (process_info(pid) for pid in [root, *descendants(root)])
    return [info for info in found if info is not None]


def is_resource_tracker(pid: int) -> bool:
    """multiprocessing's resource tracker: a small helper (not a worker) that the first spawned
    process starts; it ends by itself once the daemon and every worker have ended."""
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_daemon_process(
    data_dir: Path,
    tiny_clip: tuple[Path, Path],
    port: int,
    *folders: Path,
    idle_unload_seconds: float = 120,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m photomapd run --headless` as a user starts it, with the given model files."""
    config_path, checkpoint = tiny_clip
    environment = {
        **os.environ,
        "PHOTOMAPD_DATA_DIR": str(data_dir),
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PHOTOMAPD_MODEL_IDLE_UNLOAD_SECONDS": str(idle_unload_seconds),
        "PHOTOMAPD_PORT": str(port),
        "PYTHONPATH": str(REPO),
    }
    output = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "photomapd", "run", "--headless", *map(str, folders)],
            env=environment,
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log_path is not None:
            output.close()  # type: ignore[union-attr]
