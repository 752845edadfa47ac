"""installer/install.sh and uninstall.sh end to end, into a temporary HOME, from this checkout.

To keep this to about a minute per install, the new environment reuses this interpreter's
packages (torch & co.) through PHOTOMAPD_INSTALL_BASE_PYTHON, a documented dev/test option;
photomapd itself is built and installed from a copy of the checkout by pip, as for a user.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import png_bytes

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow

INSTALL = REPO_ROOT / "installer" / "install.sh"
UNINSTALL = REPO_ROOT / "installer" / "uninstall.sh"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_checkout(target: Path) -> Path:
    """The files git would ship (tracked + untracked, not ignored), like a fresh clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): copy the tree
        ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".*_cache")
        shutil.copytree(REPO_ROOT, target, ignore=ignore, dirs_exist_ok=True)
        return target
    for name in filter(None, listed.stdout.split(b"\0")):
        source = REPO_ROOT / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    return target


def files_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")} if root.exists() else set()


def api_status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as reply:
            return json.loads(reply.read())
    except OSError:
        return None


@pytest.fixture
def stop_leftover_daemon(tmp_path: Path) -> Iterator[None]:
    """If a test fails half-way, do not leave its daemon running."""
    yield
    pid_file = tmp_path / "home" / ".local" / "share" / "photomapd" / "daemon.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


@pytest.fixture
def user_env(tmp_path: Path, tiny_clip: tuple[Path, Path]) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    config_path, checkpoint = tiny_clip
    env = {
        "HOME": str(home),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PHOTOMAPD_PORT": str(free_port()),
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PHOTOMAPD_INSTALL_BASE_PYTHON": sys.executable,
    }
    # The machine's pip settings (index mirrors, certificates) still apply.
    env.update({key: value for key, value in os.environ.items() if key.startswith("PIP_")})
    return env


def run_script(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.timeout(300)  # two real installs (pip builds the wheel) and daemon starts
@pytest.mark.usefixtures("stop_leftover_daemon")
def test_install_run_upgrade_uninstall(tmp_path: Path, user_env: dict[str, str]) -> None:
    source = copy_checkout(tmp_path / "checkout")
    images = tmp_path / "pictures"
    images.mkdir()
    for number in range(2):
        (images / f"{number}.png").write_bytes(png_bytes((90 * number, 40, 160)))
    home = Path(user_env["HOME"])
    data_dir = home / ".local" / "share" / "photomapd"
    port = int(user_env["PHOTOMAPD_PORT"])
    installer = source / "installer" / "install.sh"

    first = run_script(installer, user_env, "--folder", str(images))
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"photomapd is running: open http://127.0.0.1:{port}" in first.stdout

    status = api_status(port)
    assert status is not None and status["albums"][0]["folders"][0]["path"] == str(images)
    photomapd = home / ".local" / "bin" / "photomapd"
    assert photomapd.is_symlink() and photomapd.resolve().is_relative_to(data_dir)
    autostart = subprocess.run(
        [str(photomapd), "autostart", "status"], env=user_env, capture_output=True, text=True
    )
    assert autostart.stdout.startswith("autostart: enabled"), autostart.stdout + autostart.stderr
    assert str(data_dir / "venv" / "bin" / "photomapd") in autostart.stdout

    # Re-running upgrades in place: same environment, the daemon restarted on the new code.
    # Without the pid file, as for a daemon started at login, it is still found and stopped.
    (source / "photomapd" / "installer_probe.py").write_text("UPGRADED = True\n")
    old_pid = int((data_dir / "daemon.pid").read_text())
    (data_dir / "daemon.pid").unlink()
    second = run_script(installer, user_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "upgrading the environment" in second.stdout
    assert f"stopping the running photomapd (pid {old_pid})" in second.stdout
    assert int((data_dir / "daemon.pid").read_text()) != old_pid
    probe = subprocess.run(
        [str(data_dir / "venv" / "bin" / "python"), "-c", "import photomapd.installer_probe"],
        capture_output=True,
        text=True,
        env=user_env,
        cwd=tmp_path,  # not the checkout, whose photomapd/ would shadow the installed one
    )
    assert probe.returncode == 0, probe.stderr
    assert api_status(port) is not None

    removed = run_script(UNINSTALL, user_env)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert api_status(port) is None  # the daemon was stopped
    outside = {name for name in files_under(home) if not (home / name).is_relative_to(data_dir)}
    # Only the folders that lead to the (kept) data folder remain.
    assert outside == {".local", ".local/share"}, outside
    assert (data_dir / "photomapd.sqlite3").exists()
    assert not (data_dir / "venv").exists()

    purged = run_script(UNINSTALL, user_env, "--purge")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert files_under(home) == set()


def test_missing_python_is_explained(tmp_path: Path, user_env: dict[str, str]) -> None:
    env = {**user_env, "PHOTOMAPD_PYTHON": str(tmp_path / "no-python")}
    del env["PHOTOMAPD_INSTALL_BASE_PYTHON"]
    result = run_script(INSTALL, env)
    assert result.returncode == 1
    assert "does not run (set PHOTOMAPD_PYTHON to a working Python 3.11+)" in result.stderr
    assert files_under(Path(env["HOME"])) == set()


def test_old_python_is_explained(tmp_path: Path, user_env: dict[str, str]) -> None:
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9\n")  # answers the installer's version probe as 3.9
    old.chmod(0o755)
    env = {**user_env, "PHOTOMAPD_PYTHON": str(old)}
    del env["PHOTOMAPD_INSTALL_BASE_PYTHON"]
    result = run_script(INSTALL, env)
    assert result.returncode == 1
    assert f"needs Python 3.11 or newer, but {old} is Python 3.9" in result.stderr
    assert files_under(Path(env["HOME"])) == set()


def test_no_disk_space_is_explained(user_env: dict[str, str]) -> None:
    env = {**user_env, "PHOTOMAPD_INSTALL_MIN_FREE_MB": str(10**12)}
    result = run_script(INSTALL, env)
    assert result.returncode == 1
    assert "not enough disk space: the install needs about 1000000000000 MB" in result.stderr
    assert "PHOTOMAPD_DATA_DIR" in result.stderr
    assert files_under(Path(env["HOME"])) == set()


def test_not_a_checkout_is_explained(tmp_path: Path, user_env: dict[str, str]) -> None:
    result = run_script(INSTALL, user_env, "--source", str(tmp_path))
    assert result.returncode == 1
    assert "is not a photomapd checkout" in result.stderr
