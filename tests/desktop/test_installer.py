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
import time
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
SH = shutil.which("sh") or "/bin/sh"


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


def wait_for_status(port: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (status := api_status(port)) is not None:
            return status
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port} within {timeout} s")


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
        [SH, str(script), *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.timeout(300)  # two real installs (pip builds the wheel) and daemon starts
@pytest.mark.usefixtures("stop_leftover_daemon")
def test_install_run_upgrade_uninstall(
    tmp_path: Path, user_env: dict[str, str], request: pytest.FixtureRequest
) -> None:
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

    # A daemon of another data folder, run from the same environment, is not the installer's
    # to stop (it used to stop every photomapd of the environment).
    other_port = free_port()
    other = subprocess.Popen(
        [str(photomapd), "run", "--headless", "--data-dir", str(tmp_path / "other-data")],
        env={**user_env, "PHOTOMAPD_PORT": str(other_port)},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    request.addfinalizer(lambda: (other.kill(), other.wait()))
    wait_for_status(other_port)

    # Re-running upgrades in place: same environment, the daemon restarted on the new code.
    # Without the pid file, as for a daemon started at login, it is still found (through the
    # data folder's lock: `photomapd stop`) and stopped.
    (source / "photomapd" / "installer_probe.py").write_text("UPGRADED = True\n")
    old_pid = int((data_dir / "daemon.pid").read_text())
    (data_dir / "daemon.pid").unlink()
    second = run_script(installer, user_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "upgrading the environment" in second.stdout
    assert f"photomapd stopped (pid {old_pid}, data folder: {data_dir})" in second.stdout
    assert "torch: reused from" in first.stdout and "photomapd[tray]" in first.stdout
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
    assert other.poll() is None and api_status(other_port) is not None

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


def fake_program(folder: Path, name: str, script: str) -> Path:
    folder.mkdir(exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    return program


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/whl/cpu"  # nothing listens there


def dry_run_env(user_env: dict[str, str], path: str, torch_index: str) -> dict[str, str]:
    env = {**user_env, "PATH": path, "PHOTOMAPD_INSTALL_TORCH_INDEX": torch_index}
    del env["PHOTOMAPD_INSTALL_BASE_PYTHON"]
    return env


def test_a_broken_python_first_on_path_is_skipped_for_the_next_one(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    """A pyenv shim for a version it does not have exits non-zero: the installer stopped there."""
    shims, good = tmp_path / "shims", tmp_path / "good"
    for name in ("python3.13", "python3.12", "python3.11", "python3", "python"):
        fake_program(shims, name, f"echo 'pyenv: {name}: command not found' >&2\nexit 127")
    old = fake_program(tmp_path / "old", "python3.12", "echo 3.9")
    working = fake_program(good, "python3.12", f'exec "{sys.executable}" "$@"')
    env = dry_run_env(user_env, f"{shims}:{old.parent}:{good}:/usr/bin:/bin", closed_port_url())
    result = run_script(INSTALL, env, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"skipping {shims / 'python3.13'}: it does not run" in result.stdout
    assert f"skipping {shims / 'python3.12'}: it does not run" in result.stdout
    assert f"skipping {old}: Python 3.9 is older than 3.11" in result.stdout
    version = "{}.{}".format(*sys.version_info[:2])
    assert f"using Python {version} ({working})" in result.stdout
    assert "dry run" in result.stdout and "nothing was changed" in result.stdout
    assert files_under(Path(env["HOME"])) == set()

    # Only broken ones: the error says so, and how to fix it. (The few tools the installer
    # uses before it looks for Python, without the machine's own pythons in /usr/bin.)
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("dirname", "grep", "uname"):
        (tools / tool).symlink_to(shutil.which(tool))
    result = run_script(INSTALL, {**env, "PATH": f"{shims}:{tools}"}, "--dry-run")
    assert result.returncode == 1
    assert (
        "none of the Pythons on PATH runs" in result.stderr and "PHOTOMAPD_PYTHON" in result.stderr
    )


def test_torch_build_follows_the_gpu_and_the_cpu_index(
    tmp_path: Path, user_env: dict[str, str]
) -> None:
    import functools
    import http.server
    import threading

    good = tmp_path / "good"
    fake_program(good, "python3", f'exec "{sys.executable}" "$@"')
    path = f"{good}:/usr/bin:/bin"
    unreachable = closed_port_url()

    # No GPU, the CPU index out of reach (as on this machine): the default wheel, said so.
    result = run_script(INSTALL, dry_run_env(user_env, path, unreachable), "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"no NVIDIA GPU, but PyTorch's CPU wheel index ({unreachable}) cannot be reached, so the "
        "default wheel from your package index" in result.stdout
    )

    # No GPU, the index answers (a loopback stand-in): the CPU build from it.
    (tmp_path / "whl" / "cpu" / "torch").mkdir(parents=True)
    files = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.HTTPServer(("127.0.0.1", 0), files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        index = f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"
        result = run_script(INSTALL, dry_run_env(user_env, path, index), "--dry-run")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no NVIDIA GPU (nvidia-smi does not answer), so the CPU build from {index}" in (
        result.stdout
    )

    # A GPU answers: the default wheel, with CUDA, and no index is asked.
    fake_program(good, "nvidia-smi", "echo 'GPU 0: NVIDIA Test (UUID: GPU-0)'")
    result = run_script(INSTALL, dry_run_env(user_env, path, unreachable), "--dry-run")
    assert "an NVIDIA GPU answers (nvidia-smi), so the default wheel, with CUDA" in result.stdout

    # A GPU tool that is there but does not answer (no driver loaded) is no GPU.
    fake_program(good, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2\nexit 9")
    result = run_script(INSTALL, dry_run_env(user_env, path, unreachable), "--dry-run")
    assert "no NVIDIA GPU, but" in result.stdout
