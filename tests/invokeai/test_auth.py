"""Multi-user auth: login, token reuse and expiry, X-Refreshed-Token, 401 retry, 403 fallback."""

from __future__ import annotations

import pytest

from photomapd.invokeai.errors import AuthFailedError, AuthRequiredError
from photomapd.invokeai.gallery import list_boards, upload_image
from photomapd.invokeai.recall import post_recall
from tests.invokeai.conftest import MULTIUSER_VERSIONS

EMAIL, PASSWORD = "alice@example.com", "alicepass123"


async def _multiuser(fake_factory, version="6.14.2", **kwargs):
    fake = await fake_factory(version, multiuser=True, **kwargs)
    fake.add_user(EMAIL, PASSWORD)
    return fake


def _logins(fake) -> int:
    return sum(1 for r in fake.requests if r["path"] == "/api/v1/auth/login")


@pytest.mark.parametrize("version", MULTIUSER_VERSIONS)
async def test_login_then_token_reused(version, fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory, version)
    client = client_factory(fake.url, EMAIL, PASSWORD)
    status = await client.status()
    assert status.authenticated is True and status.detail is None
    await list_boards(client)
    await list_boards(client)
    assert _logins(fake) == 1
    sent = [r["auth"] for r in fake.requests if r["path"] == "/api/v1/boards/"]
    assert all(a and a.startswith("Bearer ") for a in sent)
    login = next(r for r in fake.requests if r["path"] == "/api/v1/auth/login")
    assert login["json"] == {"email": EMAIL, "password": PASSWORD}


async def test_wrong_password_is_a_clear_message(fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory)
    client = client_factory(fake.url, EMAIL, "wrong")
    status = await client.status()
    assert status.reachable and status.authenticated is False
    assert status.detail == (
        "InvokeAI authentication failed (401): Incorrect email or password. "
        "Check the InvokeAI username and password in settings."
    )
    with pytest.raises(AuthFailedError) as caught:
        await list_boards(client)
    assert "Incorrect email or password" in caught.value.message


async def test_username_that_is_not_an_email_explains_itself(fake_factory, client_factory):
    fake = await _multiuser(fake_factory)
    client = client_factory(fake.url, "alice", PASSWORD)
    with pytest.raises(AuthFailedError, match="e-mail address you log in to InvokeAI with"):
        await list_boards(client)


async def test_disabled_account(fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory)
    fake.add_user("bob@example.com", "bobpass123", is_active=False)
    client = client_factory(fake.url, "bob@example.com", "bobpass123")
    with pytest.raises(AuthFailedError, match=r"\(403\): User account is disabled"):
        await list_boards(client)


async def test_no_credentials_on_multiuser_asks_for_them(fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory)
    with pytest.raises(AuthRequiredError) as caught:
        await list_boards(client_factory(fake.url))
    assert "multi-user mode" in caught.value.message
    assert "Authentication required" in caught.value.message


async def test_expired_token_triggers_one_login_and_retry(fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory)
    client = client_factory(fake.url, EMAIL, PASSWORD)
    await list_boards(client)
    # The server forgets its signing secret (as after a DB reset): the token is now invalid.
    fake.secret = b"rotated"
    boards = await list_boards(client)
    assert boards[0].board_name == "Uncategorized"
    assert _logins(fake) == 2
    statuses = [r["auth"] for r in fake.requests if r["path"] == "/api/v1/boards/"]
    assert len(statuses) == 3  # ok, 401, retried ok


async def test_token_near_expiry_is_replaced_before_use(fake_factory, client_factory) -> None:
    fake = await _multiuser(fake_factory, token_lifetime=30)  # inside the 60 s margin
    client = client_factory(fake.url, EMAIL, PASSWORD)
    await list_boards(client)
    await list_boards(client)
    assert _logins(fake) == 2
    assert not any(r for r in fake.requests if r["path"] == "/api/v1/boards/" and r["auth"] is None)


@pytest.mark.parametrize(("version", "refreshes"), [("6.12.0", False), ("6.13.5", True)])
async def test_refreshed_token_replaces_ours(version, refreshes, fake_factory, client_factory):
    fake = await _multiuser(fake_factory, version)
    client = client_factory(fake.url, EMAIL, PASSWORD)
    await post_recall(client, {"positive_prompt": "a red square"})
    first = next(r["auth"] for r in fake.requests if r["path"] == "/api/v1/recall/default")
    await post_recall(client, {"positive_prompt": "a blue square"})
    second = [r["auth"] for r in fake.requests if r["path"] == "/api/v1/recall/default"][1]
    assert (first != second) is refreshes
    assert _logins(fake) == 1


async def test_server_back_in_single_user_mode_works_without_login(fake_factory, client_factory):
    fake = await _multiuser(fake_factory)
    client = client_factory(fake.url, EMAIL, PASSWORD)
    await list_boards(client)
    fake.multiuser = False  # restarted single-user: any Authorization header is ignored
    fake.secret = b"new-process"
    boards = await list_boards(client)
    assert boards[0].board_id is None


async def test_login_403_in_single_user_mode_means_anonymous(fake_factory, client_factory):
    fake = await fake_factory("6.14.2", multiuser=False)
    client = client_factory(fake.url, EMAIL, PASSWORD)
    assert await client.login() is None
    await list_boards(client)
    assert all(r["auth"] is None for r in fake.requests if r["path"] == "/api/v1/boards/")


async def test_403_with_token_retries_anonymously_and_keeps_the_403(fake_factory, client_factory):
    """Bob may not upload to Alice's private board: the anonymous retry gets 401, so the 403
    (and the board fallback it triggers) stands."""
    fake = await _multiuser(fake_factory)
    alice = fake.users[EMAIL]
    board = fake.add_board("alice-private", owner=alice.user_id)
    fake.add_user("bob@example.com", "bobpass123")
    client = client_factory(fake.url, "bob@example.com", "bobpass123")
    from tests.invokeai.fake_server import png_bytes

    result = await upload_image(client, png_bytes(), "x.png", board_id=board.board_id)
    assert result.board_id is None
    assert result.warning == (
        "Upload to the selected board failed (HTTP 403); image was placed in Uncategorized."
    )
    uploads = [r["auth"] for r in fake.requests if r["path"] == "/api/v1/images/upload"]
    assert [a is not None for a in uploads] == [True, False, True]


def test_password_never_in_repr() -> None:
    from photomapd.invokeai.client import InvokeAIClient

    client = InvokeAIClient("http://127.0.0.1:9", EMAIL, "s3cret-Value")
    assert "s3cret" not in repr(client)
