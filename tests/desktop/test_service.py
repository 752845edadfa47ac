"""Service files: rendered with real paths, checked by systemd's own verifier and plistlib."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from photomapd.desktop.service import (
    LaunchdAgentService,
    ServiceError,
    SystemdUserService,
    render_launchd_plist,
    render_systemd_unit,
    service_for_platform,
)


def make_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def systemd_verify(unit: Path, runtime_dir: Path) -> subprocess.CompletedProcess[str]:
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "SYSTEMD_LOG_LEVEL": "notice"}
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is missing (Debian package: systemd)",
)
@pytest.mark.parametrize("folder", ["bin", "My Apps/100% sure"])
def test_rendered_unit_passes_systemd_analyze_verify(tmp_path: Path, folder: str) -> None:
    exe = make_executable(tmp_path / folder / "photomapd")
    unit = tmp_path / "photomapd.service"
    unit.write_text(render_systemd_unit(str(exe)))

    result = systemd_verify(unit, tmp_path / "runtime")

    # systemd only warns (exit 0) about unknown keys or bad values, so warnings count too.
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    text = unit.read_text()
    assert "Restart=on-failure" in text
    assert "@" not in text.split("[Service]")[1]  # every placeholder rendered


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_verify_catches_a_unit_pointing_at_a_missing_program(tmp_path: Path) -> None:
    unit = tmp_path / "photomapd.service"
    unit.write_text(render_systemd_unit(str(tmp_path / "nope" / "photomapd")))
    result = systemd_verify(unit, tmp_path / "runtime")
    assert result.returncode != 0
    assert "not executable" in result.stderr


def test_rendered_plist_has_launchd_keys(tmp_path: Path) -> None:
    logs = tmp_path / "logs & more"
    agent = plistlib.loads(render_launchd_plist("/Users/a b/photomapd", logs))
    assert agent["Label"] == "org.photomapd.daemon"
    assert agent["ProgramArguments"] == ["/Users/a b/photomapd", "run", "--headless"]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardErrorPath"] == f"{logs}/launchd.err.log"


class RecordingRunner:
    """Stands in for systemctl/launchctl, which need a user session this sandbox lacks."""

    def __init__(self, returncode: int = 0, stdout: str = "active\n", stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        return subprocess.CompletedProcess(argv, self.returncode, self.stdout, self.stderr)


def found(name: str) -> str:
    return f"/usr/bin/{name}"


def test_systemd_install_writes_unit_then_enables(tmp_path: Path) -> None:
    runner = RecordingRunner()
    env = {"HOME": str(tmp_path)}
    service = SystemdUserService("/opt/photomapd", env, runner, which=found)

    status = service.install()

    assert service.path == tmp_path / ".config/systemd/user/photomapd.service"
    assert "ExecStart=/opt/photomapd run --headless" in service.path.read_text()
    assert runner.calls == [
        ["systemctl", "--user", "--version"],
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "photomapd.service"],
        ["systemctl", "--user", "is-active", "photomapd.service"],
    ]
    assert status.installed and status.state == "active"

    service.uninstall()
    assert not service.path.exists()
    assert ["systemctl", "--user", "disable", "--now", "photomapd.service"] in runner.calls


def test_systemd_missing_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    service = SystemdUserService(
        "/opt/photomapd", {"HOME": str(tmp_path)}, RecordingRunner(), which=lambda name: None
    )
    with pytest.raises(ServiceError, match=r"systemctl not found.*autostart enable"):
        service.install()
    assert not (tmp_path / ".config").exists()
    assert service.status().state == "systemctl not found"


def test_systemd_without_user_session_explains(tmp_path: Path) -> None:
    runner = RecordingRunner(returncode=1, stderr="Failed to connect to bus: No medium found")
    service = SystemdUserService("/opt/photomapd", {"HOME": str(tmp_path)}, runner, which=found)
    with pytest.raises(ServiceError, match=r"Failed to connect to bus.*enable-linger"):
        service.install()


def test_launchd_install_and_uninstall(tmp_path: Path) -> None:
    runner = RecordingRunner()
    service = LaunchdAgentService(
        "/Applications/photomapd", tmp_path / "logs", {"HOME": str(tmp_path)}, runner, found
    )
    assert service.install().state == "loaded"
    plist = tmp_path / "Library/LaunchAgents/org.photomapd.daemon.plist"
    assert ["launchctl", "load", "-w", str(plist)] in runner.calls
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"][0] == "/Applications/photomapd"
    assert (tmp_path / "logs").is_dir()
    service.uninstall()
    assert not plist.exists()


def test_launchctl_missing_is_a_clear_error(tmp_path: Path) -> None:
    service = LaunchdAgentService(
        "/x", tmp_path, {"HOME": str(tmp_path)}, RecordingRunner(), which=lambda name: None
    )
    with pytest.raises(ServiceError, match="launchctl not found"):
        service.install()


def test_windows_has_no_service_but_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="autostart enable"):
        service_for_platform("x", tmp_path, platform="win32")
