"""Login items per OS, written into a temp HOME."""

from __future__ import annotations

import configparser
import os
import plistlib
import stat
import subprocess
from pathlib import Path

import pytest

from photomapd.desktop.autostart import (
    LaunchAgentAutostart,
    RunKeyAutostart,
    XdgAutostart,
    autostart_for_platform,
    desktop_exec_quote,
    parse_desktop_exec,
)
from photomapd.desktop.executable import ExecutableNotFound, is_ephemeral, resolve_command


def make_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/bin/sh\necho ran "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_xdg_entry_respects_xdg_config_home_and_is_idempotent(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    exe = make_executable(tmp_path / "home" / ".local" / "bin" / "photomapd")
    backend = XdgAutostart([str(exe)], env)

    assert not backend.status().enabled
    first = backend.enable()
    mtime = backend.path.stat().st_mtime_ns
    second = backend.enable()

    assert backend.path == tmp_path / "cfg" / "autostart" / "photomapd.desktop"
    assert first == second and first.enabled
    assert backend.path.stat().st_mtime_ns == mtime  # second enable rewrote nothing
    assert list(backend.path.parent.iterdir()) == [backend.path]
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(backend.path)
    assert entry["Desktop Entry"]["Type"] == "Application"
    assert entry["Desktop Entry"]["Exec"] == f"{exe} run"
    assert first.command == [str(exe), "run"]

    assert not backend.disable().enabled
    assert not backend.path.exists()
    assert not backend.disable().enabled  # disabling twice is fine


def test_xdg_entry_defaults_to_home_config(tmp_path: Path) -> None:
    backend = XdgAutostart(["/opt/photomapd"], {"HOME": str(tmp_path)})
    assert backend.path == tmp_path / ".config" / "autostart" / "photomapd.desktop"


def test_xdg_exec_line_runs_the_program_even_with_spaces(tmp_path: Path) -> None:
    exe = make_executable(tmp_path / 'My "Apps"' / "100% $real `x` \\" / "photomapd")
    backend = XdgAutostart([str(exe)], {"HOME": str(tmp_path)})
    status = backend.enable()
    assert status.command == [str(exe), "run"]
    assert subprocess.run(status.command, capture_output=True, text=True).stdout == "ran run\n"
    exec_line = next(ln for ln in backend.path.read_text().splitlines() if ln.startswith("Exec="))
    assert "100%% " in exec_line  # a lone % would be read as a field code


def test_desktop_exec_quote_leaves_plain_words_alone() -> None:
    assert desktop_exec_quote("/usr/bin/photomapd") == "/usr/bin/photomapd"
    # One backslash from the Exec quoting rule, doubled by the string escape rule.
    assert desktop_exec_quote('a"b') == '"a\\\\"b"'
    for arg in ["", "a b", "50%", "$HOME", "C:\\x", "`rm`"]:
        assert parse_desktop_exec(f"{desktop_exec_quote(arg)} run %u") == [arg, "run"]


def test_xdg_status_honours_a_disabled_entry(tmp_path: Path) -> None:
    backend = XdgAutostart(["/opt/photomapd"], {"HOME": str(tmp_path)})
    backend.enable()
    backend.path.write_text(backend.path.read_text() + "X-GNOME-Autostart-enabled=false\n")
    assert not backend.status().enabled


def test_launch_agent_plist(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(["/Applications/photomapd"], {"HOME": str(tmp_path)}, [])
    status = backend.enable()
    backend.enable()

    assert status.enabled
    assert backend.path == tmp_path / "Library/LaunchAgents/org.photomapd.login.plist"
    agent = plistlib.loads(backend.path.read_bytes())
    assert agent["Label"] == "org.photomapd.login"
    assert agent["ProgramArguments"] == ["/Applications/photomapd", "run"]
    assert agent["RunAtLoad"] is True
    assert not backend.disable().enabled
    assert not backend.path.exists()


class DictRegistry:
    """The Run key as a dict: winreg exists only on Windows."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.writes += 1
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_windows_run_key_quotes_and_is_idempotent() -> None:
    registry = DictRegistry()
    backend = RunKeyAutostart([r"C:\Users\A B\photomapd\Scripts\photomapd.exe"], registry)
    backend.enable()
    backend.enable()
    assert registry.writes == 1
    assert registry.values == {"photomapd": r'"C:\Users\A B\photomapd\Scripts\photomapd.exe" run'}
    assert backend.status().enabled
    backend.disable()
    backend.disable()
    assert registry.values == {}
    assert not backend.status().enabled


def test_windows_login_item_uses_the_windowless_launcher_when_installed(tmp_path: Path) -> None:
    scripts = tmp_path / "Scripts"
    scripts.mkdir()
    console = scripts / "photomapd.exe"
    console.write_bytes(b"MZ")
    registry = DictRegistry()
    RunKeyAutostart([str(console)], registry).enable()
    assert registry.values == {"photomapd": subprocess.list2cmdline([str(console), "run"])}, (
        "without photomapdw.exe the console launcher is kept"
    )
    (scripts / "photomapdw.exe").write_bytes(b"MZ")
    RunKeyAutostart([str(console)], registry).enable()
    expected = subprocess.list2cmdline([str(scripts / "photomapdw.exe"), "run"])
    assert registry.values == {"photomapd": expected}


def test_platform_choice(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert isinstance(autostart_for_platform(["x"], "linux", env), XdgAutostart)
    assert isinstance(autostart_for_platform(["x"], "darwin", env), LaunchAgentAutostart)
    assert isinstance(autostart_for_platform(["x"], "win32", env), RunKeyAutostart)


def test_resolve_command_prefers_path_and_refuses_temporary_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    installed = make_executable(home / ".local" / "bin" / "photomapd")
    env = {"HOME": str(home), "PATH": str(installed.parent)}
    monkeypatch.setattr("sys.argv", ["/nonexistent/photomapd"])
    assert resolve_command(env=env) == [str(installed)]

    # Same binary but HOME elsewhere: a copy under the temp folder is a one-off run.
    with pytest.raises(ExecutableNotFound, match="--executable"):
        resolve_command(env={"HOME": "/home/someone", "PATH": str(installed.parent)})
    assert is_ephemeral(Path("/home/u/.cache/uv/archive-v0/abc/bin/photomapd"), {"HOME": "/home/u"})
    assert not is_ephemeral(Path("/home/u/.local/bin/photomapd"), {"HOME": "/home/u"})


def test_resolve_command_explicit_path(tmp_path: Path) -> None:
    exe = make_executable(tmp_path / "bin" / "photomapd")
    relative = os.path.relpath(exe)
    assert resolve_command(relative) == [str(exe)]
    with pytest.raises(ExecutableNotFound, match="does not exist"):
        resolve_command(tmp_path / "missing")
