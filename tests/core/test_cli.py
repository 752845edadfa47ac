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
    data_dir: Path, tiny_clip, *args: str, timeout: float = 120, port: int = 1
) -> subprocess.CompletedProcess:
    config_path, checkpoint = tiny_clip
    environment = {
        **os.environ,
        "PHOTOMAPD_DATA_DIR": str(data_dir),
        "PHOTOMAPD_MODEL_NAME": str(config_path),
        "PHOTOMAPD_MODEL_PRETRAINED": str(checkpoint),
        "PHOTOMAPD_MODEL_DEVICE": "cpu",
        "PYTHONPATH": str(REPO),
        # by default a port nothing listens on: commands must work without a daemon
        "PHOTOMAPD_PORT": str(port),
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
    # The failed file is listed with its reason right there (`status` has no such list).
    assert f"  {folder / 'bad.png'}: " in result.stdout
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


def test_a_wrong_value_in_config_toml_names_the_key_not_a_traceback(tmp_path: Path, tiny_clip):
    data = tmp_path / "data"
    data.mkdir()
    cases = {
        '[server]\nport = "abc"\n': "server.port = 'abc' in config.toml is invalid",
        "[server]\nport = 99999\n": "a port is a whole number from 1 to 65535",
        '[model]\nidle_unload_seconds = "never"\n': "model.idle_unload_seconds = 'never'",
        '[[albums]]\nname = "x"\n': "album 1 in config.toml has no key",
        "albums = 3\n": "albums in config.toml must be [[albums]] tables",
        "server = 5\n": "[server] in config.toml must be a table",
        '[[albums]]\nkey = "a"\nfolders = "/x"\n': "folders must be a list",
        '[[albums]]\nkey = "a"\n[[albums]]\nkey = "a"\n': "used by more than one [[albums]]",
    }
    for document, words in cases.items():
        (data / "config.toml").write_text(document)
        result = run_cli(data, tiny_clip, "albums", "list")
        assert result.returncode == 2, (document, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert words in result.stderr, (document, result.stderr)
        assert str(data / "config.toml") in result.stderr
    # A quoted "false" is false (bool("false") would have been true).
    (data / "config.toml").write_text('[model]\nworker_process = "false"\n')
    from photomapd.config import load_config

    assert load_config(data).model.worker_process is False


def test_a_port_out_of_range_is_refused_up_front(tmp_path: Path, tiny_clip):
    result = run_cli(tmp_path / "data", tiny_clip, "run", "--headless", "--port", "99999")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "a port is a whole number from 1 to 65535, not 99999" in result.stderr


def test_bad_album_keys_are_refused_before_they_reach_config_toml(tmp_path: Path, tiny_clip):
    # An invalid key written to config.toml made every later command fail until hand-edited.
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    result = run_cli(data, tiny_clip, "albums", "add", "Odd", str(first), "--key", "Odd Key/..")
    assert result.returncode == 1 and "album key 'Odd Key/..' is invalid" in result.stderr
    result = run_cli(data, tiny_clip, "albums", "add", "All", str(first))
    assert result.returncode == 0 and "added album all-album" in result.stdout
    result = run_cli(data, tiny_clip, "index", str(second), "--album", "Bad Key")
    assert result.returncode == 1 and "album key 'Bad Key' is invalid" in result.stderr
    # --album naming an album of other folders must not add a second album with that key.
    result = run_cli(data, tiny_clip, "index", str(second), "--album", "all-album")
    assert result.returncode == 1
    assert "album 'all-album' already exists with other folders" in result.stderr
    result = run_cli(data, tiny_clip, "albums", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("all-album\t") == 1 and "second" not in result.stdout


def test_status_names_another_program_on_the_port(tmp_path: Path, tiny_clip):
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        result = run_cli(tmp_path / "data", tiny_clip, "status", port=port)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"another program answers on port {port} (HTTP 404)" in result.stdout
    finally:
        server.shutdown()
        server.server_close()


async def test_index_and_remove_while_the_daemon_runs(
    tmp_path: Path, tiny_clip, make_config, start_daemon
):
    import asyncio

    config = make_config(tmp_path / "images", data_dir=tmp_path / "data")
    running = await start_daemon(config)
    port = int(running.url.rsplit(":", 1)[1])
    other = tmp_path / "other"
    other.mkdir()
    # `index` beside a running daemon wrote config.toml behind its back (the daemon's next
    # save dropped the album) and filled vectors the daemon never saw.
    result = await asyncio.to_thread(
        run_cli, tmp_path / "cli-data", tiny_clip, "index", str(other), port=port
    )
    assert result.returncode == 1
    assert "the daemon is running" in result.stderr and "photomapd albums add" in result.stderr
    assert not (tmp_path / "cli-data" / "config.toml").exists()
    result = await asyncio.to_thread(
        run_cli, tmp_path / "cli-data", tiny_clip, "albums", "remove", "../x", port=port
    )
    assert result.returncode == 1 and "no album with key '../x'" in result.stderr


async def test_index_on_the_data_folder_of_a_running_daemon_is_refused_and_writes_nothing(
    tmp_path: Path, tiny_clip, make_config, start_daemon
):
    """The port check cannot see a daemon on another port; its data-folder lock can."""
    import asyncio
    import sqlite3

    data = tmp_path / "data"
    config = make_config(tmp_path / "images", data_dir=data)
    config.save()
    running = await start_daemon(config)
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes(png_bytes((1, 2, 3)))
    saved = (data / "config.toml").read_bytes()

    def rows() -> list[tuple]:
        with sqlite3.connect(data / "photomapd.sqlite3") as database:
            return database.execute("SELECT id, path FROM images ORDER BY id").fetchall()

    before = rows()
    # port=1: nothing answers there, so only the lock can tell that the daemon runs
    result = await asyncio.to_thread(run_cli, data, tiny_clip, "index", str(other), port=1)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"is running on the data folder {data}" in result.stderr
    assert "photomapd albums add" in result.stderr and "(nothing was written)" in result.stderr
    assert (data / "config.toml").read_bytes() == saved
    assert rows() == before
    status, body = await running.get("/api/albums")
    assert status == 200 and [album["key"] for album in body["albums"]] == ["album0"]


def test_run_host_is_for_this_run_only_not_saved_to_config_toml(tmp_path: Path, tiny_clip):
    # A one-off `run --host 0.0.0.0 FOLDER` saved LAN mode into config.toml with the new album,
    # so every later plain start (autostart) listened on the network.
    images = tmp_path / "images"
    images.mkdir()
    with socket.socket() as busy:  # the run stops at the bind, after saving the album
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            tmp_path / "data",
            tiny_clip,
            "run",
            "--headless",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            str(images),
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    saved = (tmp_path / "data" / "config.toml").read_text()
    assert str(images) in saved
    assert 'host = "127.0.0.1"' in saved and "0.0.0.0" not in saved


def test_empty_results_and_no_albums_say_so(tmp_path: Path, tiny_clip):
    # Both printed nothing at all, leaving a first-time user guessing.
    data = tmp_path / "data"
    result = run_cli(data, tiny_clip, "albums", "list")
    assert result.returncode == 0 and result.stdout == ""
    assert "no albums yet; add one with `photomapd albums add NAME FOLDER`" in result.stderr
    result = run_cli(data, tiny_clip, "search", "a cat")
    assert result.returncode == 0 and result.stdout == ""
    assert "no matches" in result.stderr


def test_an_album_keyed_all_from_before_it_was_reserved_still_loads(tmp_path: Path):
    from photomapd.config import load_config

    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(f'[[albums]]\nkey = "all"\nfolders = ["{tmp_path}"]\n')
    assert [album.key for album in load_config(data).albums] == ["all"]
