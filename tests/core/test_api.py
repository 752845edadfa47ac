"""The JSON API over a real socket: security defaults, albums CRUD, errors, OpenAPI coverage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.helpers import png_bytes, raw_http, wait_for


async def test_foreign_host_header_is_refused(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, body = await running.get("/api/status", headers={"Host": "evil.example:8050"})
    assert status == 403
    assert body["error"]["code"] == "forbidden_host"
    for host in ("localhost:8050", "127.0.0.1:8050", "[::1]:8050"):
        status, _ = await running.get("/api/status", headers={"Host": host})
        assert status == 200, host


async def test_dns_names_that_merely_start_with_127_are_refused(
    tmp_path: Path, make_config, start_daemon
):
    # "127.evil.example" is an attacker's DNS name (rebinding to 127.0.0.1), not a loopback IP.
    running = await start_daemon(make_config(tmp_path / "images"))
    for host in ("127.evil.example:8050", "127.0.0.1.evil.example", "localhost.evil.example"):
        status, body = await running.get("/api/status", headers={"Host": host})
        assert status == 403, host
        assert body["error"]["code"] == "forbidden_host"
    status, _ = await running.get("/api/status", headers={"Host": "127.0.0.2:8050"})
    assert status == 200


async def test_lan_mode_needs_the_token_for_foreign_host_names_even_from_loopback(
    tmp_path: Path, make_config, start_daemon
):
    # In LAN mode any Host is allowed (the machine's own names and addresses), and pages on this
    # machine skip the token; a DNS-rebinding page also connects from 127.0.0.1, so only loopback
    # names may skip it.
    config = make_config(tmp_path / "images")
    config.host, config.token = "0.0.0.0", "secret-token"
    running = await start_daemon(config)
    url = running.url.replace("0.0.0.0", "127.0.0.1")
    rebinding = {"Host": "evil.example:8050", "Origin": "http://evil.example:8050"}
    async with running.session.get(url + "/api/status", headers=rebinding) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "token_required"
    async with running.session.post(url + "/api/albums/reindex", headers=rebinding) as response:
        assert response.status == 401
    for headers in (
        {"Host": "127.0.0.1:8050"},
        {"Host": "localhost:8050"},
        {**rebinding, "Authorization": "Bearer secret-token"},
    ):
        async with running.session.get(url + "/api/status", headers=headers) as response:
            assert response.status == 200, headers


async def test_cross_origin_writes_are_refused(tmp_path: Path, make_config, start_daemon):
    folder = tmp_path / "new"
    folder.mkdir()
    running = await start_daemon(make_config(tmp_path / "images"))
    body = {"name": "New", "folders": [str(folder)]}
    status, error = await running.send(
        "POST", "/api/albums", json=body, headers={"Origin": "http://evil.example"}
    )
    assert status == 403 and error["error"]["code"] == "cross_origin_write"
    status, error = await running.send(
        "POST", "/api/albums", json=body, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403
    same_origin = running.url
    status, album = await running.send(
        "POST", "/api/albums", json=body, headers={"Origin": same_origin}
    )
    assert status == 201 and album["key"] == "new"
    # Reads stay open to cross-origin pages only as far as the browser's CORS allows (no CORS headers).
    async with running.session.get(
        running.url + "/api/status", headers={"Origin": "http://evil.example"}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_files_only_by_id_never_by_path(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    for path in (
        "/api/images/..%2F..%2Fetc%2Fpasswd/file",
        "/api/images/-1/file",
        "/api/images/abc",
    ):
        status, body = await running.get(path)
        assert status in (400, 404), path
        assert "error" in body
    status, _ = await running.get("/../../etc/passwd")
    assert status == 404
    status, body = await running.get("/api/images/999999/file")
    assert status == 404 and body["error"]["code"] == "image_not_found"


async def test_image_ids_beyond_sqlite_integers_are_not_found_not_server_errors(
    tmp_path: Path, make_config, start_daemon
):
    running = await start_daemon(make_config(tmp_path / "images"))
    huge = "99999999999999999999999"
    for path in ("", "/file", "/thumbnail", "/similar", "/metadata", "/exif", "/invokeai"):
        status, body = await running.get(f"/api/images/{huge}{path}")
        assert status == 404, (path, body)
        assert body["error"]["code"] == "image_not_found"
    status, body = await running.send("PUT", f"/api/images/{huge}/favourite")
    assert status == 404
    status, body = await running.get("/api/images/%C2%B2")  # "²" passes str.isdigit()
    assert status == 400 and body["error"]["code"] == "invalid_image_id"
    for ids in ([int(huge)], [True]):
        status, body = await running.send("POST", "/api/images/zip", json={"ids": ids})
        assert status == 400 and body["error"]["code"] == "invalid_ids", ids


async def test_album_crud_and_missing_folders(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config())
    status, error = await running.send(
        "POST", "/api/albums", json={"name": "X", "folders": [str(tmp_path / "nope")]}
    )
    assert status == 400 and error["error"]["code"] == "folder_missing"
    assert "does not exist" in error["error"]["message"]

    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "one.png").write_bytes(png_bytes((100, 100, 0)))
    status, album = await running.send(
        "POST", "/api/albums", json={"name": "My Pictures", "folders": [str(folder)]}
    )
    assert status == 201 and album["key"] == "my-pictures"
    status, error = await running.send(
        "POST", "/api/albums", json={"name": "My Pictures", "folders": [str(folder)]}
    )
    assert status == 409

    async def counted() -> bool:
        _, body = await running.get("/api/albums/my-pictures")
        return body["count"] == 1

    await wait_for(counted, message="album indexed at once")
    assert running.daemon.config.config_path.read_text().count("my-pictures") == 1

    status, renamed = await running.send(
        "PATCH", "/api/albums/my-pictures", json={"name": "Renamed"}
    )
    assert status == 200 and renamed["name"] == "Renamed"

    # The folder disappears (unmounted drive): the album shows it, the index is kept.
    folder.rename(tmp_path / "unmounted")
    status, summary = await running.send("POST", "/api/albums/my-pictures/reindex")
    assert status == 202 and summary["removed"] == 0 and summary["missing_folders"] == [str(folder)]
    _, body = await running.get("/api/albums/my-pictures")
    assert body["state"] == "folder missing" and "folder missing" in body["problem"]
    assert body["count"] == 1 and body["folders"][0]["exists"] is False

    status, deleted = await running.send("DELETE", "/api/albums/my-pictures")
    assert status == 200 and deleted["images_removed"] == 1
    status, error = await running.get("/api/albums/my-pictures")
    assert status == 404 and error["error"]["code"] == "album_not_found"


async def test_album_edge_cases_are_clear_errors(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    folder = tmp_path / "pictures"
    folder.mkdir()
    # "all" is the pseudo-album of every album (GET /api/albums/all/images, the UI's "All
    # albums"): an album with that key could never be browsed on its own.
    status, body = await running.send(
        "POST", "/api/albums", json={"name": "x", "key": "all", "folders": [str(folder)]}
    )
    assert status == 400 and "reserved" in body["error"]["message"]
    status, album = await running.send(
        "POST", "/api/albums", json={"name": "All", "folders": [str(folder)]}
    )
    assert status == 201 and album["key"] == "all-album"
    status, body = await running.send(
        "POST", "/api/albums", json={"name": "x", "key": 5, "folders": [str(folder)]}
    )
    assert status == 400 and body["error"]["code"] == "invalid_album_key"
    status, body = await running.send(
        "POST", "/api/albums", json={"name": "All", "folders": [str(folder)]}
    )
    assert status == 409 and "choose another name" in body["error"]["message"]
    for name in ("", "   ", 7, ["a"]):
        status, body = await running.send("PATCH", "/api/albums/all-album", json={"name": name})
        assert status == 400 and body["error"]["code"] == "missing_name", name
    _, album = await running.get("/api/albums/all-album")
    assert album["name"] == "All"
    # The same folder twice (also spelled differently) is one folder.
    status, album = await running.send(
        "POST",
        "/api/albums",
        json={"name": "Twice", "folders": [str(folder), str(folder) + "/", str(folder / ".")]},
    )
    assert status == 201 and [f["path"] for f in album["folders"]] == [str(folder)]


async def test_status_shape(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, body = await running.get("/api/status")
    assert status == 200
    assert set(body) >= {"version", "albums", "indexing", "model", "watcher"}
    assert set(body["indexing"]) >= {"queued", "done", "failed", "rate", "paused"}
    assert set(body["model"]) >= {"name", "pretrained", "device", "state", "error"}
    assert body["albums"][0]["key"] == "album0"


async def test_openapi_covers_every_route(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, spec = await running.get("/api/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    app = running.daemon.runner.app
    missing = []
    for route in app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD",) or not path.startswith("/api/"):
            continue
        if route.method.lower() not in spec["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == []
    for required in (
        "/api/status",
        "/api/albums",
        "/api/albums/{key}",
        "/api/albums/{key}/reindex",
        "/api/albums/{key}/images",
        "/api/images/{id}",
        "/api/images/{id}/file",
        "/api/images/{id}/thumbnail",
        "/api/images/{id}/similar",
        "/api/search",
        "/api/events",
        "/api/openapi.json",
    ):
        assert required in spec["paths"], required
    assert all(op["summary"] for ops in spec["paths"].values() for op in ops.values())


async def test_bad_requests_get_clear_errors(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, body = await running.send(
        "POST", "/api/albums", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = await running.get("/api/albums/album0/images", params={"limit": "lots"})
    assert status == 400 and "limit" in body["error"]["message"]
    form = aiohttp.FormData()
    form.add_field("image", b"not an image", filename="x.png")
    status, body = await running.send("POST", "/api/search", data=form)
    assert status == 400 and body["error"]["code"] == "invalid_image"
    status, body = await running.get("/api/nope")
    assert status == 404 and "error" in body


async def test_port_in_use_is_reported(tmp_path: Path, make_config, start_daemon):
    import pytest

    from photomapd.daemon import Daemon, StartupError

    running = await start_daemon(make_config(tmp_path / "images"))
    port = int(running.url.rsplit(":", 1)[1])
    config = make_config(data_dir=tmp_path / "other")
    config.port = port
    with pytest.raises(StartupError, match=f"port {port} .* already in use"):
        await Daemon(config).start()
    await asyncio.sleep(0)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height: Pillow refuses it as a decompression bomb on open."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


async def test_search_upload_errors_name_the_problem(tmp_path: Path, make_config, start_daemon):
    running = await start_daemon(make_config(tmp_path / "images"))
    status, body = await running.send("POST", "/api/search", json={"q": "cat"})
    assert status == 400 and body["error"]["code"] == "invalid_content_type"
    assert "GET /api/search?q=" in body["error"]["message"]
    status, body = await running.send(
        "POST", "/api/search", data=b"cat", headers={"Content-Type": "text/plain"}
    )
    assert status == 400 and body["error"]["code"] == "invalid_content_type"

    form = aiohttp.FormData()
    form.add_field("image", _png_header_only(30_000, 30_000), filename="bomb.png")
    status, body = await running.send("POST", "/api/search", data=form)
    assert status == 400 and body["error"]["code"] == "image_too_large"
    assert "too many pixels" in body["error"]["message"]

    for field, value, words in (
        ("limit", "-1", "limit must be between 1 and 500"),
        ("offset", "99999999", "offset must be between 0 and 10000"),
        ("image_weight", "abc", "image_weight must be a number, got 'abc'"),
        ("negative_weight", "7", "negative_weight must be between 0.0 and 2.0"),
    ):
        form = aiohttp.FormData()
        form.add_field("q", "cat")
        form.add_field(field, value)
        status, body = await running.send("POST", "/api/search", data=form)
        assert status == 400 and body["error"]["message"] == words, (field, body)

    form = aiohttp.FormData()
    form.add_field("image", b"plain text", filename="x.png")
    status, body = await running.send("POST", "/api/search", data=form)
    assert status == 400 and "BytesIO" not in body["error"]["message"]
    assert "upload a PNG, JPEG" in body["error"]["message"]


async def test_oversized_search_upload_is_refused_before_it_is_all_read(
    tmp_path: Path, make_config, start_daemon
):
    # The daemon must not hold a whole multi-gigabyte upload in memory to find it too big: it
    # answers once 50 MB have arrived, although the client announced (and would send) far more.
    running = await start_daemon(make_config(tmp_path / "images"))
    port = int(running.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    boundary = "qa-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    writer.write(
        (
            "POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {4 * 1024**3}\r\n\r\n"
        ).encode()
        + head
    )
    block = b"\0" * (1024 * 1024)
    try:
        for _ in range(52):
            writer.write(block)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=20)
        assert b" 400 " in status_line, status_line
        rest = await asyncio.wait_for(reader.read(4096), timeout=5)
        assert b"image_too_large" in rest
    finally:
        writer.close()


async def test_a_host_that_is_not_this_machine_says_what_to_use(tmp_path: Path, make_config):
    import pytest

    from photomapd.daemon import Daemon, StartupError

    config = make_config(data_dir=tmp_path / "data")
    config.host = "203.0.113.7"  # TEST-NET-3: never an address of this machine
    with pytest.raises(StartupError, match="not an address of this machine; use one of its"):
        await Daemon(config).start()


async def test_a_second_daemon_on_the_same_data_folder_is_refused(
    tmp_path: Path, make_config, start_daemon
):
    # On another port it used to start and write the same vector cache and config.toml.
    import os

    import pytest

    from photomapd.daemon import Daemon, StartupError

    data = tmp_path / "data"
    running = await start_daemon(make_config(tmp_path / "images", data_dir=data))
    second = Daemon(make_config(data_dir=data))
    with pytest.raises(StartupError, match=f"process {os.getpid()}.* data folder {data}; stop"):
        await second.start()
    status, _ = await running.get("/api/status")
    assert status == 200  # the first one is untouched
    await running.daemon.stop()
    again = Daemon(make_config(data_dir=data))
    await again.start()  # the lock went with the first daemon
    await again.stop()


def _port(running) -> int:
    return int(running.url.rsplit(":", 1)[1])


def _raw_request(method: str, headers: dict[str, str]) -> bytes:
    body = b'{"name": "Renamed"}' if method != "GET" else b""
    # A rename is a write that starts no background work (a reindex would outlive the test).
    path = "/api/status" if method == "GET" else "/api/albums/album0"
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_host_names_are_case_insensitive_and_userinfo_is_refused(
    tmp_path: Path, make_config, start_daemon
):
    running = await start_daemon(make_config(tmp_path / "images"))
    port = _port(running)
    for host in (f"LOCALHOST:{port}", f"LocalHost:{port}", "LOCALHOST"):
        status, body = await raw_http(port, _raw_request("GET", {"Host": host}))
        assert status == 200, (host, body)
    # A same-origin write from a page opened as http://LOCALHOST:port/ (browsers lower-case the
    # Origin, not necessarily the Host).
    headers = {"Host": f"LOCALHOST:{port}", "Origin": f"http://localhost:{port}"}
    status, body = await raw_http(port, _raw_request("PATCH", headers))
    assert status == 200, body
    for host in (f"127.0.0.1:{port}@evil.example", f"localhost@evil.example:{port}", "a b"):
        status, body = await raw_http(port, _raw_request("GET", {"Host": host}))
        assert status == 403, (host, body)
        assert body["error"]["code"] == "forbidden_host"
        assert "open the UI at http://127.0.0.1" in body["error"]["message"]


async def test_a_write_with_a_foreign_referer_and_no_origin_is_refused(
    tmp_path: Path, make_config, start_daemon
):
    running = await start_daemon(make_config(tmp_path / "images"))
    port = _port(running)
    host = f"127.0.0.1:{port}"
    for referer in (
        "http://evil.example/attack.html?x=1",
        f"http://evil.example:{port}/",
        f"http://127.0.0.1:{port}@evil.example/",
        "null",
    ):
        headers = {"Host": host, "Referer": referer}
        status, body = await raw_http(port, _raw_request("PATCH", headers))
        assert status == 403, (referer, body)
        assert body["error"]["code"] == "cross_origin_write"
        assert "use the photomapd page itself" in body["error"]["message"]
        assert "attack.html" not in body["error"]["message"]
    # The daemon's own page as the Referer, and no Referer at all (curl, the CLI), still write.
    for headers in ({"Host": host, "Referer": f"http://{host}/albums"}, {"Host": host}):
        status, body = await raw_http(port, _raw_request("PATCH", headers))
        assert status == 200 and body["name"] == "Renamed", (headers, body)


async def test_search_matching_refuses_ids_that_cannot_be_images(
    tmp_path: Path, make_config, start_daemon
):
    running = await start_daemon(make_config(tmp_path / "images"))
    for ids in ("99999999999999999999999", "1,9223372036854775808", "-5", "1_000", "²", "9" * 5000):
        status, body = await running.get("/api/search/matching", params={"ids": ids})
        assert status == 400, (ids[:30], body)
        assert body["error"]["code"] == "invalid_parameter"
        assert "comma-separated image ids" in body["error"]["message"]
    status, body = await running.get(
        "/api/search/matching", params={"ids": " 1, 9223372036854775807 ,"}
    )
    assert status == 200 and body == {"ids": []}
    # Thousands of digits in a path id: int() itself refuses those, so check before asking it.
    status, body = await running.get("/api/images/" + "9" * 5000)
    assert status == 404 and body["error"]["code"] == "image_not_found"


def _multipart_request(port: int, body: bytes, boundary: str = "cut") -> bytes:
    return (
        "POST /api/search HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


async def test_a_truncated_multipart_search_is_a_bad_request(
    tmp_path: Path, make_config, start_daemon
):
    running = await start_daemon(make_config(tmp_path / "images"))
    port = _port(running)
    field = b'--cut\r\nContent-Disposition: form-data; name="q"\r\n\r\ncat'
    for body in (
        field,  # cut before the closing boundary
        b"--cut\r\nContent-Disposi",  # cut inside a part's headers
        b"--cut",  # nothing after the first boundary
        b"",  # no body at all
        b"q=cat",  # not multipart at all
        b'--cut\r\nContent-Disposition: form-data; name="q'
        + b"x" * 20_000
        + b'"\r\n\r\nc\r\n--cut--',
    ):
        status, answer = await raw_http(port, _multipart_request(port, body))
        assert status == 400, (body[:40], answer)
        assert answer["error"]["code"] == "invalid_multipart"
        assert "send the whole form again" in answer["error"]["message"]
        assert len(answer["error"]["message"]) < 400
    # The same field with its closing boundary is a search (the tiny model is loaded).
    status, answer = await raw_http(port, _multipart_request(port, field + b"\r\n--cut--\r\n"))
    assert status == 200 and answer["results"] == [], answer
