"""`photomapd autostart ...` and `photomapd service ...` through the real command line."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from photomapd import cli
from photomapd.desktop import cli as cli_desktop


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no photomapd, no systemctl
    monkeypatch.setattr(sys, "argv", ["/nonexistent/pytest"])
    return home


def installed(home: Path) -> Path:
    exe = home / ".local" / "share" / "photomapd" / "venv" / "bin" / "photomapd"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.mark.skipif(sys.platform != "linux", reason="checks the XDG entry")
def test_autostart_enable_status_disable(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = installed(home)
    data = ["--data-dir", str(tmp_path / "data")]
    assert cli.main([*data, "autostart", "enable", "--executable", str(exe)]) == 0
    entry = home / ".config" / "autostart" / "photomapd.desktop"
    assert f"Exec={exe} run" in entry.read_text()
    assert cli.main([*data, "autostart", "status"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"autostart: enabled ({entry}) runs {exe} run"
    )
    assert cli.main([*data, "autostart", "disable"]) == 0
    assert not entry.exists()
    assert "autostart: disabled" in capsys.readouterr().out


def test_autostart_enable_without_an_installed_photomapd_says_what_to_do(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--data-dir", str(tmp_path / "data"), "autostart", "enable"]) == 1
    assert "install photomapd with installer/install.sh" in capsys.readouterr().err
    assert list(home.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux", reason="systemd is Linux only")
def test_service_install_without_systemd_is_a_clear_error(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = installed(home)
    code = cli.main(
        ["--data-dir", str(tmp_path / "data"), "service", "install", "--executable", str(exe)]
    )
    assert code == 1
    assert "systemctl not found" in capsys.readouterr().err
    assert not (home / ".config").exists()
    assert cli.main(["--data-dir", str(tmp_path / "data"), "service", "status"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_standalone_entry_point(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the installer calls: no model code imported, same handlers."""
    assert cli_desktop.main(["--data-dir", str(tmp_path / "data"), "autostart", "status"]) == 0
    assert capsys.readouterr().out.startswith("autostart: disabled")
