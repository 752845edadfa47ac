"""Boards, image look-up and upload against the fake server of each era."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from photomapd.invokeai.errors import BadRequestError, RejectedError
from photomapd.invokeai.gallery import find_image, list_boards, upload_image
from tests.invokeai.conftest import VERSIONS
from tests.invokeai.fake_server import png_bytes, vt


@pytest.mark.parametrize("version", VERSIONS)
async def test_boards_list_with_uncategorized_first(version, fake_factory, client_factory):
    fake = await fake_factory(version)
    fake.add_board("Landscapes")
    fake.add_board("Old", archived=True)
    boards = await list_boards(client_factory(fake.url))
    names = [b.board_name for b in boards]
    if vt(version) >= (4, 2, 6):
        assert names == ["Uncategorized", "Landscapes"]
    else:
        assert names == ["Uncategorized", "Landscapes", "Old"]  # no archiving before 4.2.6
    assert boards[0].board_id is None
    calls = [r for r in fake.requests if r["path"].startswith("/api/v1/boards")]
    assert [(c["path"], c["query"]) for c in calls] == [("/api/v1/boards/", {"all": "true"})]


async def test_boards_path_without_slash_is_the_spa_on_612(fake_factory) -> None:
    """Why the client must keep the trailing slash: the fake reproduces the trap."""
    import aiohttp

    fake = await fake_factory("6.12.0")
    async with aiohttp.ClientSession() as s, s.get(fake.url + "/api/v1/boards?all=true") as r:
        assert r.status == 200 and r.content_type == "text/html"
    async with aiohttp.ClientSession() as s, s.get(fake.url + "/api/v1/boards/") as r:
        assert r.status == 400
        assert (await r.json())["detail"] == (
            "Invalid request: Must provide either 'all' or both 'offset' and 'limit'"
        )
    async with aiohttp.ClientSession() as s, s.post(fake.url + "/api/v1/nope") as r:
        assert r.status == 405 and (await r.json()) == {"detail": "Method Not Allowed"}
    old = await fake_factory("6.11.1")
    async with aiohttp.ClientSession() as s, s.get(old.url + "/api/v1/boards?all=true") as r:
        assert r.status == 404 and (await r.json()) == {"detail": "Not Found"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_upload_to_board_keeps_invokeai_metadata(version, fake_factory, client_factory):
    fake = await fake_factory(version)
    board = fake.add_board("Refs")
    data = png_bytes(text={"invokeai_metadata": '{"seed": 42}', "parameters": "a1111 text"})
    result = await upload_image(client_factory(fake.url), data, "mine.png", board_id=board.board_id)
    assert result.warning is None and result.board_id == board.board_id
    assert (result.width, result.height) == (64, 48)
    stored = fake.images[result.image_name]
    assert stored.category == "user" and not stored.is_intermediate
    with Image.open(io.BytesIO(stored.data)) as img:
        assert "parameters" not in img.info  # InvokeAI keeps only its own chunks
        assert ("invokeai_metadata" in img.info) is (vt(version) >= (3, 4, 0))
    call = next(r for r in fake.requests if r["path"] == "/api/v1/images/upload")
    assert call["query"] == {
        "image_category": "user",
        "is_intermediate": "false",
        "board_id": board.board_id,
    }


@pytest.mark.parametrize(("version", "status"), [("6.13.5", 404), ("6.14.2", 404)])
async def test_deleted_board_falls_back_to_uncategorized(version, status, fake_factory,
                                                         client_factory):  # fmt: skip
    fake = await fake_factory(version)
    result = await upload_image(client_factory(fake.url), png_bytes(), "x.png", board_id="gone")
    assert result.board_id is None
    assert result.warning == (
        f"Upload to the selected board failed (HTTP {status}); image was placed in Uncategorized."
    )
    uploads = [r["query"] for r in fake.requests if r["path"] == "/api/v1/images/upload"]
    assert "board_id" not in uploads[-1]


async def test_pre_613_silent_uncategorized_is_reported(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.12.0")
    result = await upload_image(client_factory(fake.url), png_bytes(), "x.png", board_id="gone")
    assert result.board_id is None
    assert "did not put the image on the selected board" in result.warning


async def test_uncategorized_upload_omits_board_id(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    result = await upload_image(client_factory(fake.url), png_bytes(), "x.png", board_id=None)
    assert result.warning is None
    call = next(r for r in fake.requests if r["path"] == "/api/v1/images/upload")
    assert "board_id" not in call["query"]


async def test_undecodable_bytes_are_refused_clearly(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    with pytest.raises(RejectedError) as caught:
        await upload_image(client_factory(fake.url), b"not an image", "x.png")
    assert caught.value.status == 415
    assert "Failed to read image" in caught.value.message


async def test_empty_file_is_refused_before_sending(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    with pytest.raises(BadRequestError):
        await upload_image(client_factory(fake.url), b"", "x.png")
    assert not [r for r in fake.requests if r["path"] == "/api/v1/images/upload"]


async def test_jpeg_is_sent_with_an_image_content_type(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    buffer = io.BytesIO()
    Image.new("RGB", (80, 80), (0, 90, 0)).save(buffer, "JPEG")
    result = await upload_image(client_factory(fake.url), buffer.getvalue(), "photo.jpeg")
    assert (result.width, result.height) == (80, 80)


@pytest.mark.parametrize("multiuser", [False, True])
async def test_find_image(multiuser, fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2", multiuser=multiuser)
    fake.add_user("a@example.com", "pw123456", is_admin=True)
    image = fake.add_image()
    client = client_factory(fake.url, "a@example.com", "pw123456")
    found = await find_image(client, image.image_name)
    assert found["image_name"] == image.image_name
    assert await find_image(client, "00000000-0000-0000-0000-000000000000.png") is None
    assert await find_image(client, "../../etc/passwd") is None


async def test_find_image_of_someone_else_is_none(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2", multiuser=True)
    owner = fake.add_user("a@example.com", "pw123456")
    fake.add_user("b@example.com", "pw123456")
    image = fake.add_image(owner=owner.user_id)
    client = client_factory(fake.url, "b@example.com", "pw123456")
    assert await find_image(client, image.image_name) is None
