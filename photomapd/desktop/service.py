"""Installs photomapd as a per-user service: a systemd user unit (Linux) or launchd agent (macOS).

The templates live in `service-files/` (shipped in the wheel as `photomapd/_service_files`);
this module renders real paths into them, writes them where the service manager looks, and
drives `systemctl --user` / `launchctl`. A missing service manager is a clear error, not a crash.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

logger = logging.getLogger(__name__)

UNIT_NAME = "photomapd.service"
AGENT_LABEL = "org.photomapd.daemon"
AGENT_FILE = f"{AGENT_LABEL}.plist"

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class ServiceError(RuntimeError):
    """The service could not be installed or queried; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    installed: bool
    path: str
    state: str  # what the service manager says, e.g. "active", "inactive", "not loaded"

    def describe(self) -> str:
        where = "installed" if self.installed else "not installed"
        return f"service: {where} ({self.path}), {self.state}"


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=60)


def template_text(name: str) -> str:
    """A template from the installed wheel, or from the source checkout when run from one."""
    packaged = importlib.resources.files("photomapd").joinpath("_service_files", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "service-files" / name
    return checkout.read_text(encoding="utf-8")


def systemd_quote(arg: str) -> str:
    """Quote one ExecStart argument: systemd splits on spaces and expands % specifiers."""
    escaped = arg.replace("%", "%%")
    if any(c in escaped for c in ' \t"\\;$'):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def render_systemd_unit(executable: str) -> str:
    return template_text(UNIT_NAME).replace("@EXECUTABLE@", systemd_quote(executable))


def render_launchd_plist(executable: str, logs_dir: Path) -> bytes:
    agent = plistlib.loads(template_text(AGENT_FILE).encode("utf-8"))
    values = {"@EXECUTABLE@": executable, "@LOGS_DIR@": str(logs_dir)}

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            for placeholder, value in values.items():
                node = node.replace(placeholder, value)
            return node
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return plistlib.dumps(fill(agent))


class SystemdUserService:
    def __init__(
        self,
        executable: str,
        env: Mapping[str, str] | None = None,
        runner: Runner = run_command,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        env = os.environ if env is None else env
        config_home = env.get("XDG_CONFIG_HOME") or str(
            Path(env.get("HOME") or Path.home()) / ".config"
        )
        self.path = Path(config_home) / "systemd" / "user" / UNIT_NAME
        self.executable = executable
        self.runner = runner
        self.which = which

    def _systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.which("systemctl") is None:
            raise ServiceError(
                "systemctl not found: this system does not run systemd, so photomapd cannot be "
                "installed as a service. Use `photomapd autostart enable` to start it at login."
            )
        argv = ["systemctl", "--user", *args]
        result = self.runner(argv)
        if check and result.returncode != 0:
            raise ServiceError(
                f"`{shlex.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}. "
                "A user service needs a systemd user session (log in normally, or run "
                "`loginctl enable-linger $USER`); otherwise use `photomapd autostart enable`."
            )
        return result

    def install(self) -> ServiceStatus:
        self._systemctl("--version")  # fail before writing anything when systemd is absent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render_systemd_unit(self.executable), encoding="utf-8")
        logger.info("wrote %s", self.path)
        self._systemctl("daemon-reload")
        self._systemctl("enable", "--now", UNIT_NAME)
        return self.status()

    def uninstall(self) -> ServiceStatus:
        if self.path.exists():
            # Stops the daemon (SIGTERM = clean stop) and removes the wants/ link.
            self._systemctl("disable", "--now", UNIT_NAME, check=False)
            self.path.unlink()
            self._systemctl("daemon-reload", check=False)
        return self.status()

    def status(self) -> ServiceStatus:
        installed = self.path.is_file()
        if self.which("systemctl") is None:
            return ServiceStatus(installed, str(self.path), "systemctl not found")
        result = self.runner(["systemctl", "--user", "is-active", UNIT_NAME])
        state = result.stdout.strip() or result.stderr.strip() or "unknown"
        return ServiceStatus(installed, str(self.path), state)


class LaunchdAgentService:
    def __init__(
        self,
        executable: str,
        logs_dir: Path,
        env: Mapping[str, str] | None = None,
        runner: Runner = run_command,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())
        self.path = home / "Library" / "LaunchAgents" / AGENT_FILE
        self.executable = executable
        self.logs_dir = logs_dir
        self.runner = runner
        self.which = which

    def _require_launchctl(self) -> None:
        if self.which("launchctl") is None:
            raise ServiceError(
                "launchctl not found: launchd agents exist only on macOS. "
                "Use `photomapd autostart enable` to start photomapd at login."
            )

    def _launchctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        self._require_launchctl()
        argv = ["launchctl", *args]
        result = self.runner(argv)
        if check and result.returncode != 0:
            raise ServiceError(f"`{shlex.join(argv)}` failed: {result.stderr.strip()}")
        return result

    def install(self) -> ServiceStatus:
        self._require_launchctl()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # reload so an upgraded executable path takes effect
            self._launchctl("unload", str(self.path), check=False)
        self.path.write_bytes(render_launchd_plist(self.executable, self.logs_dir))
        logger.info("wrote %s", self.path)
        self._launchctl("load", "-w", str(self.path))
        return self.status()

    def uninstall(self) -> ServiceStatus:
        if self.path.exists():
            self._launchctl("unload", "-w", str(self.path), check=False)
            self.path.unlink()
        return self.status()

    def status(self) -> ServiceStatus:
        installed = self.path.is_file()
        if self.which("launchctl") is None:
            return ServiceStatus(installed, str(self.path), "launchctl not found")
        result = self.runner(["launchctl", "list", AGENT_LABEL])
        state = "loaded" if result.returncode == 0 else "not loaded"
        return ServiceStatus(installed, str(self.path), state)


def service_for_platform(
    executable: str,
    logs_dir: Path,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    runner: Runner = run_command,
) -> SystemdUserService | LaunchdAgentService:
    platform = platform or sys.platform
    if platform == "darwin":
        return LaunchdAgentService(executable, logs_dir, env, runner)
    if platform == "win32":
        raise ServiceError(
            "Windows has no per-user service manager that photomapd supports; "
            "use `photomapd autostart enable` (HKCU Run key) instead."
        )
    return SystemdUserService(executable, env, runner)
