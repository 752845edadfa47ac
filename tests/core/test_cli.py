"""The real CLI in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import png_bytes

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    data_dir: Path, tiny_clip, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    config_path, checkpoint = tiny_clip
    environment = {
        **os.environ,
        "PHOTOMAPD_DATA_DIR": str(data_dir),
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PYTHONPATH": str(REPO),
        # a port nothing listens on: commands must work without a daemon
        "PHOTOMAPD_PORT": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "photomapd", *args],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_index_then_search_offline(tmp_path: Path, tiny_clip):
    folder = tmp_path / "pics"
    folder.mkdir()
    for number, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        (folder / f"{number}.png").write_bytes(png_bytes(color))
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    data = tmp_path / "data"
    result = run_cli(data, tiny_clip, "index", str(folder))
    assert result.returncode == 0, result.stderr
    assert "indexed 3 images into album 'pics' (1 failed" in result.stdout
    assert "3/4" in result.stderr or "4/4" in result.stderr  # the progress bar
    result = run_cli(data, tiny_clip, "search", "green", "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all(str(folder) in line for line in lines)
    result = run_cli(data, tiny_clip, "albums", "list")
    assert result.returncode == 0 and result.stdout.startswith("pics\t")


def test_albums_add_remove_offline_and_errors(tmp_path: Path, tiny_clip):
    data = tmp_path / "data"
    folder = tmp_path / "a"
    folder.mkdir()
    result = run_cli(data, tiny_clip, "albums", "add", "Holiday", str(folder))
    assert result.returncode == 0 and "added album holiday" in result.stdout
    result = run_cli(data, tiny_clip, "albums", "add", "Nope", str(tmp_path / "missing"))
    assert result.returncode == 1 and "does not exist" in result.stderr
    result = run_cli(data, tiny_clip, "albums", "remove", "holiday")
    assert result.returncode == 0
    assert "holiday" not in (data / "config.toml").read_text()
    result = run_cli(data, tiny_clip, "status")
    assert result.returncode == 1 and "not running" in result.stdout


def test_run_refuses_a_busy_port_and_a_missing_folder(tmp_path: Path, tiny_clip):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            tmp_path / "data",
            tiny_clip,
            "run",
            "--headless",
            "--port",
            str(port),
            str(tmp_path),
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    result = run_cli(tmp_path / "data2", tiny_clip, "run", "--headless", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "does not exist" in result.stderr
