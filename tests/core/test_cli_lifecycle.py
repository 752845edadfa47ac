"""`photomapd stop` / `restart` on a real daemon in a subprocess, found through its data-folder
lock; and the global options (`--data-dir`, `-v`) before or after any command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photomapd.instance_lock import lock_holder
from photomapd.relaunch import SYSTEMD_UNIT, service_restart_for
from tests.core.test_cli import REPO, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as reply:
            return json.loads(reply.read())
    except OSError:
        return None


def wait_for(condition, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s")


def process_gone(pid: int) -> bool:
    """Ended (a zombie counts: it has stopped, only its parent has not reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def daemon_environment(tiny_clip: tuple[Path, Path], port: int) -> dict[str, str]:
    config_path, checkpoint = tiny_clip
    environment = {
        **os.environ,
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PYTHONPATH": str(REPO),
        "PHOTOMAPD_PORT": str(port),
    }
    environment.pop("PHOTOMAPD_DATA_DIR", None)
    return environment


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """The data folder; whatever daemon still holds it at the end is ended."""
    data = tmp_path / "data"
    yield data
    holder = lock_holder(data)
    if holder is not None and holder.pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(holder.pid, signal.SIGKILL)


@pytest.mark.timeout(240)
def test_stop_and_restart_the_daemon_of_this_data_folder(data_dir: Path, tiny_clip) -> None:
    port = free_port()
    # `--data-dir` after the command, where users type it (it was "unrecognized arguments").
    daemon = subprocess.Popen(
        [sys.executable, "-m", "photomapd", "run", "--headless", "--data-dir", str(data_dir)],
        env=daemon_environment(tiny_clip, port),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = wait_for(lambda: api_status(port))
        assert lock_holder(data_dir).pid == daemon.pid

        # The CLI's own environment points at port 1, where nothing listens: restart finds the
        # daemon through its lock, and starts it again with its own command line and
        # environment, so it comes back on the port it had.
        restarted = run_cli(data_dir, tiny_clip, "restart", "--timeout", "60", timeout=180)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        assert daemon.wait(timeout=10) == 0  # the old one stopped cleanly
        assert f"stopping photomapd (pid {daemon.pid})" in restarted.stdout
        assert "with its own command line" in restarted.stdout
        new_pid = lock_holder(data_dir).pid
        assert new_pid not in (None, daemon.pid)
        assert f"photomapd restarted: pid {new_pid}, serving {first['url']}" in restarted.stdout
        second = api_status(port)
        assert second is not None and second["uptime_seconds"] < first["uptime_seconds"] + 60
        command_line = Path(f"/proc/{new_pid}/cmdline").read_bytes().split(b"\0")
        assert b"--headless" in command_line and str(data_dir).encode() in command_line
        assert command_line.count(b"--data-dir") == 1  # named already: not added again

        stopped = run_cli(data_dir, tiny_clip, "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert f"photomapd stopped (pid {new_pid}" in stopped.stdout
        assert lock_holder(data_dir) is None
        wait_for(lambda: process_gone(new_pid), timeout=10)
        assert api_status(port) is None

        again = run_cli(data_dir, tiny_clip, "stop")
        assert again.returncode == 1  # as `status` when nothing runs
        assert f"photomapd is not running (data folder: {data_dir})" in again.stdout
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


@pytest.mark.timeout(180)
def test_restart_with_nothing_running_starts_it_headless(data_dir: Path, tiny_clip) -> None:
    port = free_port()
    result = run_cli(data_dir, tiny_clip, "restart", port=port, timeout=150)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"photomapd was not running (data folder: {data_dir}); starting it" in result.stdout
    pid = lock_holder(data_dir).pid
    assert f"photomapd started: pid {pid}, serving http://127.0.0.1:{port}" in result.stdout
    assert api_status(port) is not None
    # Detached: it outlived the command, in a session of its own, its output in the log folder.
    assert os.getsid(pid) == pid
    assert "photomapd restart: " in (data_dir / "logs" / "daemon-start.log").read_text()
    # `--data-dir DIR stop` (before the command) finds the same daemon.
    stopped = run_cli(data_dir.parent / "elsewhere", tiny_clip, "--data-dir", str(data_dir), "stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert lock_holder(data_dir) is None


def test_a_daemon_that_does_not_stop_in_time_is_named_with_what_to_do(
    data_dir: Path, tiny_clip
) -> None:
    # A lock holder that ignores SIGTERM: the wait is bounded and says how to end it.
    data_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time; from pathlib import Path;"
            "from photomapd.instance_lock import InstanceLock;"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "lock = InstanceLock(Path(sys.argv[1])); lock.acquire();"
            "print('held', flush=True); time.sleep(60)",
            str(data_dir),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = run_cli(data_dir, tiny_clip, "stop", "--timeout", "1")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"photomapd (pid {holder.pid}) has not stopped after 1 s" in result.stderr
        assert f"`kill -9 {holder.pid}`" in result.stderr
        assert holder.poll() is None and lock_holder(data_dir).pid == holder.pid
    finally:
        holder.kill()
        holder.communicate()


def test_global_options_are_taken_after_the_command_too(tmp_path: Path, tiny_clip) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    folder = tmp_path / "pics"
    folder.mkdir()
    # run_cli sets PHOTOMAPD_DATA_DIR=elsewhere: the --data-dir given after the command wins.
    added = run_cli(
        elsewhere, tiny_clip, "albums", "add", "Holiday", str(folder), "--data-dir", str(data)
    )
    assert added.returncode == 0, added.stderr
    assert "holiday" in (data / "config.toml").read_text()
    assert not (elsewhere / "config.toml").exists()
    listed = run_cli(elsewhere, tiny_clip, "albums", "list", "-v", "--data-dir", str(data))
    assert listed.returncode == 0 and listed.stdout.startswith("holiday\t"), listed.stderr
    status = run_cli(elsewhere, tiny_clip, "status", "--data-dir", str(data))
    assert status.returncode == 1 and f"(data folder: {data})" in status.stdout


def test_restart_goes_through_the_service_manager_only_for_the_service_own_process() -> None:
    # The service managers themselves are not here: their answers are the OS edge.
    calls: list[list[str]] = []
    found = {"which": lambda name: f"/usr/bin/{name}"}

    def systemctl(argv):
        calls.append(list(argv))
        return subprocess.CompletedProcess(argv, 0, stdout="4242\n", stderr="")

    service = service_restart_for(4242, runner=systemctl, platform="linux", **found)
    assert service is not None
    assert service.argv == ["systemctl", "--user", "restart", SYSTEMD_UNIT]
    assert calls == [["systemctl", "--user", "show", "--property=MainPID", "--value", SYSTEMD_UNIT]]
    assert service_restart_for(999, runner=systemctl, platform="linux", **found) is None

    def launchctl(argv):
        listing = '{\n\t"LimitLoadToSessionType" = "Aqua";\n\t"PID" = 4242;\n};\n'
        return subprocess.CompletedProcess(argv, 0, stdout=listing, stderr="")

    service = service_restart_for(4242, runner=launchctl, platform="darwin", **found)
    assert service is not None and service.argv[:3] == ["launchctl", "kickstart", "-k"]
    assert service_restart_for(7, runner=launchctl, platform="darwin", **found) is None
    # No service manager installed: not even asked.
    assert (
        service_restart_for(4242, runner=launchctl, platform="darwin", which=lambda _: None) is None
    )
