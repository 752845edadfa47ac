"""Start-at-login entries per OS: XDG autostart (Linux), LaunchAgent (macOS), HKCU Run (Windows).

Each backend is idempotent (enable twice = one entry, disable when absent = no-op) and only
touches its own entry. Paths come from HOME / XDG_CONFIG_HOME so tests can use a temp HOME.
"""

from __future__ import annotations

import logging
import os
import plistlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from photomapd.desktop.executable import windowless_variant

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)

APP_ID = "photomapd"
LAUNCH_AGENT_LABEL = "org.photomapd.login"
RUN_KEY_PATH = r"Software\Microsoft\Windows\CurrentVersion\Run"


@dataclass(frozen=True)
class AutostartStatus:
    enabled: bool
    location: str
    command: list[str] | None = None

    def describe(self) -> str:
        if not self.enabled:
            return f"autostart: disabled (would be {self.location})"
        return f"autostart: enabled ({self.location}) runs {' '.join(self.command or [])}"


class Autostart(Protocol):
    def enable(self) -> AutostartStatus: ...

    def disable(self) -> AutostartStatus: ...

    def status(self) -> AutostartStatus: ...


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def desktop_exec_quote(arg: str) -> str:
    """Quote one argument for an Exec= value (Desktop Entry spec, "The Exec key").

    Two layers: the Exec quoting rule (backslash before `"`, backquote, `$`, backslash), then
    the general string escape, which doubles every backslash again; `%` is doubled so it is not
    read as a field code.
    """
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%="):
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return ('"' + quoted + '"').replace("\\", "\\\\").replace("%", "%%")


def parse_desktop_exec(value: str) -> list[str]:
    """The argv an Exec= value stands for (inverse of `desktop_exec_quote`)."""
    value = value.replace("\\\\", "\\")
    argv: list[str] = []
    current: list[str] | None = None
    chars = iter(value)
    for c in chars:
        if c == '"':
            current = current or []
            for q in chars:
                if q == '"':
                    break
                if q in "\\%":  # an escaped character, or the second % of "%%"
                    q = next(chars, "")
                current.append(q)
        elif c == "%":
            following = next(chars, "")
            if following == "%":
                current = (current or []) + ["%"]
        elif c in " \t":
            if current is not None:
                argv.append("".join(current))
            current = None
        else:
            current = (current or []) + [c]
    if current is not None:
        argv.append("".join(current))
    return argv


class XdgAutostart:
    """`$XDG_CONFIG_HOME/autostart/photomapd.desktop`, honoured by GNOME, KDE, Xfce, LXQt..."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        config_home = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
        self.path = Path(config_home) / "autostart" / f"{APP_ID}.desktop"
        self.command = [*command, "run"]

    def render(self) -> str:
        exec_line = " ".join(desktop_exec_quote(a) for a in self.command)
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=PhotoMap\n"
            "Comment=Semantic gallery for InvokeAI outputs (photomapd)\n"
            f"Exec={exec_line}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n"
            "Hidden=false\n"
        )

    def enable(self) -> AutostartStatus:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.path, self.render())
        return self.status()

    def disable(self) -> AutostartStatus:
        self.path.unlink(missing_ok=True)
        return self.status()

    def status(self) -> AutostartStatus:
        if not self.path.is_file():
            return AutostartStatus(False, str(self.path))
        text = self.path.read_text(encoding="utf-8")
        # A user can switch an entry off in their desktop's settings without deleting it.
        hidden = "\nHidden=true" in text or "X-GNOME-Autostart-enabled=false" in text
        exec_line = next((ln[5:] for ln in text.splitlines() if ln.startswith("Exec=")), "")
        return AutostartStatus(not hidden, str(self.path), parse_desktop_exec(exec_line))


class LaunchAgentAutostart:
    """`~/Library/LaunchAgents/org.photomapd.login.plist`: runs once at login, no restarts."""

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        launchctl: Sequence[str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.path = _home(env) / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        self.command = [*command, "run"]
        # Loading is what makes the entry count at the next login on old macOS; tests pass [].
        self.launchctl = list(launchctl) if launchctl is not None else ["launchctl"]

    def render(self) -> bytes:
        agent = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
        }
        return plistlib.dumps(agent)

    def enable(self) -> AutostartStatus:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.path, self.render())
        return self.status()

    def disable(self) -> AutostartStatus:
        if self.path.exists() and self.launchctl:
            # Unload only detaches launchd's copy; a running daemon is left alone.
            subprocess.run([*self.launchctl, "unload", str(self.path)], check=False)
        self.path.unlink(missing_ok=True)
        return self.status()

    def status(self) -> AutostartStatus:
        if not self.path.is_file():
            return AutostartStatus(False, str(self.path))
        agent = plistlib.loads(self.path.read_bytes())
        return AutostartStatus(
            not agent.get("Disabled", False), str(self.path), agent.get("ProgramArguments")
        )


class Registry(Protocol):
    """The three HKCU Run-key operations we need; `WinRegistry` is the real one."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


if sys.platform == "win32":
    import winreg

    class WinRegistry:
        """The real Run key of the current user."""

        def get(self, name: str) -> str | None:
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY_PATH) as key:
                    value, _kind = winreg.QueryValueEx(key, name)
                    return str(value)
            except FileNotFoundError:
                return None

        def set(self, name: str, value: str) -> None:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY_PATH) as key:
                winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

        def delete(self, name: str) -> None:
            access = winreg.KEY_SET_VALUE
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, access) as key:
                    winreg.DeleteValue(key, name)
            except FileNotFoundError:
                pass

else:

    class WinRegistry:
        """Stand-in on other OSes so the module imports everywhere."""

        def _fail(self) -> None:
            raise OSError("the Windows registry exists only on Windows")

        def get(self, name: str) -> str | None:
            self._fail()
            return None

        def set(self, name: str, value: str) -> None:
            self._fail()

        def delete(self, name: str) -> None:
            self._fail()


class RunKeyAutostart:
    r"""`HKCU\Software\Microsoft\Windows\CurrentVersion\Run\photomapd`."""

    def __init__(self, command: Sequence[str], registry: Registry | None = None) -> None:
        # A console program at login leaves a console window open all session; the
        # windowless launcher does not.
        self.command = [*windowless_variant(command), "run"]
        self.registry = registry if registry is not None else WinRegistry()
        self.location = f"HKCU\\{RUN_KEY_PATH}\\{APP_ID}"

    def render(self) -> str:
        return subprocess.list2cmdline(self.command)

    def enable(self) -> AutostartStatus:
        if self.registry.get(APP_ID) != self.render():
            self.registry.set(APP_ID, self.render())
        return self.status()

    def disable(self) -> AutostartStatus:
        self.registry.delete(APP_ID)
        return self.status()

    def status(self) -> AutostartStatus:
        value = self.registry.get(APP_ID)
        return AutostartStatus(value is not None, self.location, [value] if value else None)


def _write_if_changed(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    logger.info("wrote %s", path)


def autostart_for_platform(
    command: Sequence[str],
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Autostart:
    """The login-item backend for this OS, starting `command run`."""
    platform = platform or sys.platform
    if platform == "win32":
        return RunKeyAutostart(command)
    if platform == "darwin":
        return LaunchAgentAutostart(command, env)
    return XdgAutostart(command, env)


def default_autostart() -> Autostart | None:
    """The login item for the installed photomapd, or None when it is not installed."""
    from photomapd.desktop.executable import ExecutableNotFound, resolve_command

    try:
        return autostart_for_platform(resolve_command())
    except ExecutableNotFound as error:
        logger.info("start at login unavailable: %s", error)
        return None
