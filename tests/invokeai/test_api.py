"""The InvokeAI routes over the real daemon (real app, SQLite, watcher, tiny CLIP) and a fake
InvokeAI, both on real sockets."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import stat
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from keyring.backends import fail

from photomapd.api.keys import BRIDGE
from photomapd.invokeai.credentials import CredentialStore
from tests.conftest import SHARED
from tests.helpers import EventStream, wait_for
from tests.invokeai.payloads import read_metadata, simple_recall_payload

CORPUS = SHARED / "corpus"
SDXL = CORPUS / "invokeai-v6-generated" / "v6142-sdxl-loras-dpmpp2mk.png"
EMAIL, PASSWORD = "alice@example.com", "Alice-pass-1"


def invokeai_reader(path: Path):
    """Stand-in for photomapd.metadata: the raw InvokeAI metadata plus `generator`."""
    meta = read_metadata(path) if path.suffix == ".png" else None
    if meta is None:
        return None, None, None
    return json.dumps({**meta, "generator": "invokeai"}), None, 1


@pytest.fixture
async def running(tmp_path, make_config, start_daemon):
    folder = tmp_path / "outputs" / "images"
    folder.mkdir(parents=True)
    shutil.copyfile(SDXL, folder / SDXL.name)
    config = make_config(folder)
    daemon = await start_daemon(config, read_metadata=invokeai_reader)
    bridge = daemon.daemon.runner.app[BRIDGE]
    bridge.payload_builder = simple_recall_payload
    # No keyring service in CI: make that explicit (keyring caches its backend per process).
    bridge.credentials = CredentialStore(config.data_dir, fail.Keyring())

    async def indexed():
        _, page = await daemon.get("/api/albums/album0/images")
        return page["items"] if page["total"] == 1 else None

    (item,) = await wait_for(indexed, message="corpus image indexed")
    daemon.image_id = item["id"]
    return daemon


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_settings_defaults_and_url_messages(running) -> None:
    status, settings = await running.get("/api/invokeai/settings")
    assert status == 200
    assert settings["url"] is None and settings["has_password"] is False
    assert (
        "No system keyring is available, so a password you enter will be stored in"
        in (settings["password_warning"])
    ), "no password is stored yet: the warning must not say one is"
    for url, message in [
        ("file:///etc", "InvokeAI URL must use http:// or https://"),
        ("http://", "InvokeAI URL must include a host"),
    ]:
        status, body = await running.send("PUT", "/api/invokeai/settings", json={"url": url})
        assert status == 400
        assert body == {"error": {"code": "invokeai_invalid_url", "message": message}}
    status, body = await running.send(
        "PUT", "/api/invokeai/settings", json={"url": f"http://127.0.0.1:{_closed_port()}"}
    )
    assert status == 200
    assert body["status"]["reachable"] is False
    assert body["status"]["detail"].startswith("Could not reach backend")
    status, body = await running.get("/api/invokeai/boards")
    assert status == 502 and body["error"]["code"] == "invokeai_unreachable"


async def test_not_configured(running) -> None:
    status, body = await running.get("/api/invokeai/status")
    assert status == 200 and body["configured"] is False
    status, body = await running.get("/api/invokeai/boards")
    assert status == 400 and body["error"]["code"] == "invokeai_not_configured"


async def test_multiuser_settings_password_write_only(running, fake_factory, tmp_path) -> None:
    fake = await fake_factory("6.14.2", multiuser=True)
    fake.add_user(EMAIL, PASSWORD)
    board = fake.add_board("Refs", owner=fake.users[EMAIL].user_id)
    status, body = await running.send(
        "PUT",
        "/api/invokeai/settings",
        json={"url": fake.url, "username": EMAIL, "password": PASSWORD, "board_id": board.board_id},
    )
    assert status == 200, body
    assert PASSWORD not in json.dumps(body)
    assert body["has_password"] is True and body["password_storage"] == "file"
    assert body["status"]["multiuser"] is True and body["status"]["authenticated"] is True
    config_text = (running.daemon.config.data_dir / "config.toml").read_text()
    assert fake.url in config_text and EMAIL in config_text and PASSWORD not in config_text
    secrets = running.daemon.config.data_dir / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    status, boards = await running.get("/api/invokeai/boards")
    assert status == 200
    assert [b["board_name"] for b in boards["boards"]] == ["Uncategorized", "Refs"]
    # Wrong password: a clear message in the status, not an empty board list.
    await running.send("PUT", "/api/invokeai/settings", json={"password": "nope"})
    status, body = await running.get("/api/invokeai/status")
    assert body["authenticated"] is False
    assert "Incorrect email or password" in body["detail"]
    status, body = await running.get("/api/invokeai/boards")
    assert status == 502 and body["error"]["code"] == "invokeai_auth_failed"
    # Clearing the password.
    _, body = await running.send("PUT", "/api/invokeai/settings", json={"password": ""})
    assert body["has_password"] is False


async def test_actions_on_a_corpus_image(running, fake_factory) -> None:
    fake = await fake_factory("6.14.2")
    board = fake.add_board("Refs")
    await running.send(
        "PUT", "/api/invokeai/settings", json={"url": fake.url, "board_id": board.board_id}
    )
    image = running.image_id
    status, available = await running.get(f"/api/images/{image}/invokeai")
    assert status == 200
    assert {k: v for k, v in available.items() if k != "capabilities"} == {
        "reference": True,
        "reference_append": True,
        "recall": True,
        "remix": True,
        "prompts": True,
        "seed": True,
        "gallery": True,
    }

    status, result = await running.send(
        "POST", f"/api/images/{image}/invokeai/recall", json={"mode": "remix"}
    )
    assert status == 200, result
    assert "seed" not in result["sent"] and result["query"] == {"strict": True, "append": False}
    assert result["sent"]["positive_prompt"].startswith("portrait of an old sea captain")
    assert result["updated_count"] == 26
    assert "Juggernaut XL v9" in result["unresolved_models"]
    assert result["message"].endswith("press Invoke to generate.")
    assert fake.recall_events[-1]["parameters"]["seed"] is None

    _, result = await running.send(
        "POST", f"/api/images/{image}/invokeai/recall", json={"mode": "seed"}
    )
    assert result["sent"] == {"seed": 4294967295}
    assert json.loads(fake.client_state[("system", "recall_seed")]) == 4294967295

    status, result = await running.send(
        "POST", f"/api/images/{image}/invokeai/reference", json={"append": True}
    )
    assert status == 200, result
    uploaded = result["uploaded"][0]["image_name"]
    assert fake.images[uploaded].board_id == board.board_id
    assert result["sent"] == {"reference_images": [{"image_name": uploaded}]}
    assert result["accepted"]["append"] is True

    status, body = await running.send(
        "POST", f"/api/images/{image}/invokeai/recall", json={"mode": "bogus"}
    )
    assert status == 400 and "mode" in body["error"]["message"]
    status, body = await running.send("POST", f"/api/images/{image}/invokeai/explode", json={})
    assert status == 404
    status, body = await running.send("POST", "/api/images/999999/invokeai/recall", json={})
    assert status == 404


async def test_old_invokeai_says_which_version_is_needed(running, fake_factory) -> None:
    fake = await fake_factory("6.11.1")
    await running.send("PUT", "/api/invokeai/settings", json={"url": fake.url})
    image = running.image_id
    _, available = await running.get(f"/api/images/{image}/invokeai")
    assert available["recall"] is False and available["gallery"] is True
    status, body = await running.send("POST", f"/api/images/{image}/invokeai/recall", json={})
    assert status == 409
    assert body["error"]["code"] == "invokeai_not_supported"
    assert body["error"]["message"].startswith(
        "Recall needs InvokeAI 6.12 or newer (this server runs 6.11.1)."
    )
    assert "Send to InvokeAI gallery" in body["error"]["message"]
    status, result = await running.send("POST", f"/api/images/{image}/invokeai/gallery", json={})
    assert status == 200, result
    stored = fake.images[result["uploaded"][0]["image_name"]]
    assert stored.metadata["seed"] == 4294967295  # InvokeAI's own Recall will work on it


# Characters that each spelling writes differently (JSON escapes the quote, backslash and ö;
# URL encoding nearly everything), starting with two that a JWT never holds.
ODD_PASSWORD = '~!Zq9 "pa/ss\\wörd&=+'


def _spellings(secret: str) -> list[str]:
    """How a leak could read: as typed, JSON-escaped both ways, URL-encoded both ways."""
    return [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
    ]


async def test_invokeai_text_never_echoes_the_password_or_token(
    running, fake_factory, caplog
) -> None:
    # A server that repeats each failing request in its answer (login body, Authorization
    # header): what it says still reaches the user, but never the password or the token.
    caplog.set_level(logging.DEBUG)
    fake = await fake_factory("6.14.2", multiuser=True)
    fake.add_user(EMAIL, "the-real-password")
    answers: list[str] = []

    async def call(method: str, path: str, **kwargs) -> dict:
        async with running.session.request(method, running.url + path, **kwargs) as response:
            text = await response.text()
        answers.append(text)
        return json.loads(text)

    async with EventStream(running.session, running.url + "/api/events") as events:
        # A wrong password: InvokeAI answers the login 401, and repeats the login body.
        for echo in ("json", "text"):
            fake.echo_requests = echo
            settings = {"url": fake.url, "username": EMAIL, "password": ODD_PASSWORD}
            body = await call("PUT", "/api/invokeai/settings", json=settings)
            assert body["status"]["authenticated"] is False
            # The echo is shown (the text one cut at 200 characters), masked.
            masked = '"password": "[re'
            assert masked in body["status"]["detail"], body
            body = await call("GET", "/api/invokeai/status")
            assert masked in body["detail"]
            body = await call("GET", "/api/invokeai/boards")
            assert body["error"]["code"] == "invokeai_auth_failed"
            assert masked in body["error"]["message"]
        # An e-mail InvokeAI refuses (422): its validation message repeats the body too.
        fake.echo_requests = "json"
        body = await call("PUT", "/api/invokeai/settings", json={"username": "not-an-email"})
        assert "invalid" in body["status"]["detail"] or "[redacted]" in body["status"]["detail"]
        # The right password: the login works, then a failing request repeats the token.
        fake.users[EMAIL].password = ODD_PASSWORD
        fake.failing_paths["/api/v1/boards/"] = 500
        await call("PUT", "/api/invokeai/settings", json={"username": EMAIL})
        for echo in ("json", "text"):
            fake.echo_requests = echo
            body = await call("GET", "/api/invokeai/boards")
            assert body["error"]["code"] == "invokeai_upstream", body
            assert "Authorization: Bearer [redacted]" in body["error"]["message"], body
    tokens = {r["auth"][7:] for r in fake.requests if r["auth"]}
    assert tokens, "the daemon logged in and sent a token"
    shown = [*answers, json.dumps(events.events)]
    shown += [caplog.text]  # every log line, with tracebacks
    for secret in [ODD_PASSWORD, *tokens]:
        for spelling in _spellings(secret):
            assert not [text for text in shown if spelling in text], spelling
    # The text answer put the password across the 200th character: no piece of it shows either.
    assert not [text for text in shown if ODD_PASSWORD[:3] in text]
