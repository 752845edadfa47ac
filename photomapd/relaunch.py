"""`photomapd restart`: stop the daemon of a data folder and start it again the way it was started.

How it was started decides how it comes back:
- the systemd user unit's (or launchd agent's) main process: the service manager restarts it;
- Linux, any other `photomapd run`: its own command line again, with its working folder and
  environment (read from /proc), so a tray stays a tray and `--port`/`PHOTOMAPD_PORT` still hold;
- otherwise (macOS, Windows, or nothing was running): `photomapd run --headless` in the
  background.
A daemon started here writes its output to `<logs>/daemon-start.log`, as the installer's does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from photomapd.config import ConfigError, load_config
from photomapd.instance_lock import lock_holder
from photomapd.lifecycle import running_pid, stop_daemon

if TYPE_CHECKING:
    import argparse

    from photomapd.config import Config

START_LOG_NAME = "daemon-start.log"
DEFAULT_START_SECONDS = 120.0
POLL_SECONDS = 0.2
SYSTEMD_UNIT = "photomapd.service"
LAUNCHD_LABEL = "org.photomapd.daemon"

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class RelaunchError(Exception):
    """The daemon did not come back; the message says what happened and where to look."""


@dataclass(frozen=True)
class ServiceRestart:
    """The daemon is a service's main process: its manager stops and starts it."""

    argv: list[str]
    where_to_look: str  # where the service's output goes

    def describe(self) -> str:
        return f"through its service manager (`{shlex.join(self.argv)}`)"


@dataclass(frozen=True)
class StartCommand:
    """A `photomapd run` to start in the background, and the address it will answer on."""

    argv: list[str]
    cwd: str
    environment: dict[str, str]
    host: str
    port: int  # 0: any free port, so there is no address to wait for
    own: bool  # the stopped daemon's own command line, not the headless default

    def describe(self) -> str:
        what = "with its own command line" if self.own else "headless"
        return f"{what}: {shlex.join(self.argv)}"


@dataclass(frozen=True)
class Restarted:
    old_pid: int | None
    new_pid: int
    url: str | None  # None when the daemon binds any free port (port 0)


def restart_daemon(
    config: Config,
    parser: argparse.ArgumentParser,
    report: Callable[[str], None],
    timeout: float = DEFAULT_START_SECONDS,
) -> Restarted:
    """Stop the daemon of `config.data_dir` (if one runs) and start it again; `timeout` bounds
    each step (the stop, the start, the first answer). `parser` is the CLI's: it reads the
    command line the daemon was started with."""
    old_pid = running_pid(config.data_dir)
    service = service_restart_for(old_pid) if old_pid else None
    if service is not None:
        report(f"restarting photomapd (pid {old_pid}) {service.describe()}")
        _run_service_manager(service, timeout)
        new_pid = _wait_for_new_holder(
            config.data_dir, old_pid, None, service.where_to_look, timeout
        )
        url = _wait_until_answering(config, config.host, config.port, new_pid, timeout)
        return Restarted(old_pid, new_pid, url)
    command = own_command_line(old_pid, config, parser) if old_pid else None
    command = command or headless_command(config)
    if old_pid:
        report(f"stopping photomapd (pid {old_pid})…")
        stop_daemon(config.data_dir, old_pid, timeout)
    else:
        report(f"photomapd was not running (data folder: {config.data_dir}); starting it")
    log_path = config.logs_dir / START_LOG_NAME
    report(f"starting photomapd {command.describe()} (output: {log_path})")
    process = start_detached(command, log_path)
    new_pid = _wait_for_new_holder(config.data_dir, old_pid, process, str(log_path), timeout)
    url = _wait_until_answering(config, command.host, command.port, new_pid, timeout)
    return Restarted(old_pid, new_pid, url)


# --- how the daemon was started ------------------------------------------------------------


def service_restart_for(
    pid: int,
    runner: Runner | None = None,
    which: Callable[[str], str | None] = shutil.which,
    platform: str = sys.platform,
) -> ServiceRestart | None:
    """The service manager's restart when `pid` is the photomapd service's main process."""
    run = runner or _run
    if platform == "darwin" and which("launchctl"):
        listed = run(["launchctl", "list", LAUNCHD_LABEL])
        found = re.search(r'"PID"\s*=\s*(\d+);', listed.stdout)
        if listed.returncode == 0 and found and int(found.group(1)) == pid:
            target = f"gui/{os.getuid()}/{LAUNCHD_LABEL}"
            return ServiceRestart(["launchctl", "kickstart", "-k", target], "its launchd logs")
    elif platform.startswith("linux") and which("systemctl"):
        shown = run(["systemctl", "--user", "show", "--property=MainPID", "--value", SYSTEMD_UNIT])
        if shown.returncode == 0 and shown.stdout.strip() == str(pid):
            return ServiceRestart(
                ["systemctl", "--user", "restart", SYSTEMD_UNIT],
                f"`journalctl --user -u {SYSTEMD_UNIT}`",
            )
    return None


def own_command_line(
    pid: int, config: Config, parser: argparse.ArgumentParser
) -> StartCommand | None:
    """The `photomapd run` command line `pid` was started with (Linux /proc), with the data
    folder made explicit; None when it cannot be read or is not a `photomapd run`."""
    process = Path("/proc") / str(pid)
    try:
        argv = [os.fsdecode(word) for word in (process / "cmdline").read_bytes().split(b"\0")]
        cwd = os.readlink(process / "cwd")
    except OSError:
        return None
    argv = argv[:-1] if argv and argv[-1] == "" else argv
    start = _photomapd_arguments_start(argv)
    if start is None:
        return None
    arguments = _parse_run_arguments(parser, argv[start:])
    if arguments is None:
        return None
    environment = _environment_of(process) or dict(os.environ)
    try:
        started_with = load_config(config.data_dir, environment)
    except ConfigError:  # it ran with these, so this does not happen; if it does, ours serve
        started_with = config
    named = arguments.data_dir and Path(cwd, arguments.data_dir).expanduser().resolve()
    if named != config.data_dir:  # it came from PHOTOMAPD_DATA_DIR or the default: say it
        argv = [*argv[:start], "--data-dir", str(config.data_dir), *argv[start:]]
    host = arguments.host or started_with.host
    port = started_with.port if arguments.port is None else arguments.port
    return StartCommand(argv, cwd, environment, host, port, own=True)


def headless_command(config: Config) -> StartCommand:
    argv = [sys.executable, "-m", "photomapd", "--data-dir", str(config.data_dir)]
    return StartCommand(
        [*argv, "run", "--headless"],
        os.getcwd(),
        dict(os.environ),
        config.host,
        config.port,
        own=False,
    )


def _photomapd_arguments_start(argv: list[str]) -> int | None:
    """Where photomapd's own arguments begin: after `photomapd`, `photomapdw` or `-m photomapd`."""
    for index, word in enumerate(argv):
        if word == "-m":
            return index + 2 if argv[index + 1 : index + 2] == ["photomapd"] else None
        name = PurePath(word).name.lower().removesuffix(".exe").removesuffix("-script.py")
        if name in ("photomapd", "photomapdw"):
            return index + 1
    return None


def _parse_run_arguments(
    parser: argparse.ArgumentParser, arguments: list[str]
) -> argparse.Namespace | None:
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parsed = parser.parse_args(arguments)
    except SystemExit:
        return None
    if parsed.command is None:  # `photomapd` alone runs the daemon
        parsed = parser.parse_args([*arguments, "run"])
    return parsed if parsed.command == "run" else None


def _environment_of(process: Path) -> dict[str, str] | None:
    try:
        raw = (process / "environ").read_bytes()
    except OSError:
        return None
    pairs = (os.fsdecode(entry).partition("=") for entry in raw.split(b"\0") if b"=" in entry)
    return {name: value for name, _, value in pairs}


# --- starting it again and waiting for it --------------------------------------------------


def start_detached(command: StartCommand, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the daemon in its own session, so it outlives this command and its terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- {stamp} photomapd restart: {shlex.join(command.argv)}\n".encode())
        log.flush()
        options: dict[str, Any] = {}
        if sys.platform == "win32":
            options["creationflags"] = (
                subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
            )
        else:
            options["start_new_session"] = True
        return subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=command.environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **options,
        )


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)


def _run_service_manager(service: ServiceRestart, timeout: float) -> None:
    # The service manager waits for the clean stop itself (TimeoutStopSec=60 in the unit).
    done = subprocess.run(
        service.argv, capture_output=True, text=True, check=False, timeout=timeout + 60
    )
    if done.returncode != 0:
        raise RelaunchError(
            f"`{shlex.join(service.argv)}` failed: {done.stderr.strip() or done.stdout.strip()}; "
            f"see {service.where_to_look}"
        )


def _wait_for_new_holder(
    data_dir: Path,
    old_pid: int | None,
    process: subprocess.Popen[bytes] | None,
    where_to_look: str,
    timeout: float,
) -> int:
    """The pid of the new daemon once it holds the data folder's lock."""
    deadline = time.monotonic() + timeout
    while True:
        holder = lock_holder(data_dir)
        if holder is not None and holder.pid not in (None, old_pid):
            assert holder.pid is not None
            return holder.pid
        if process is not None and process.poll() is not None:
            raise RelaunchError(
                f"photomapd did not start again: it exited at once (exit code "
                f"{process.returncode}){_log_tail(where_to_look)}"
            )
        if time.monotonic() >= deadline:
            raise RelaunchError(
                f"photomapd did not start again within {timeout:.0f} s; see {where_to_look}"
            )
        time.sleep(POLL_SECONDS)


def _wait_until_answering(
    config: Config, host: str, port: int, pid: int, timeout: float
) -> str | None:
    """The new daemon's URL once /api/status answers; None when its port is unknown (0)."""
    if port == 0:
        return None
    address = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = lock_holder(config.data_dir)
        if holder is None or holder.pid != pid:
            raise RelaunchError(
                f"photomapd (pid {pid}) started and ended again; see "
                f"{config.logs_dir / START_LOG_NAME} and {config.logs_dir / 'photomapd.log'}"
            )
        url = _status_url(address, port)
        if url is not None:
            return url
        time.sleep(POLL_SECONDS)
    raise RelaunchError(
        f"photomapd started again (pid {pid}) but does not answer on port {port} after "
        f"{timeout:.0f} s; see {config.logs_dir / 'photomapd.log'}"
    )


def _status_url(address: str, port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/api/status", timeout=2) as reply:
            return str(json.load(reply)["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _log_tail(where: str, lines: int = 8) -> str:
    try:
        text = Path(where).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"; see {where}"
    tail = "\n  ".join(text.splitlines()[-lines:])
    return f"; the end of {where}:\n  {tail}"
