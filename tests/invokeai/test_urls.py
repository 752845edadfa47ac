"""URL check and name validation: the seed's messages word for word."""

from __future__ import annotations

import pytest

from photomapd.invokeai.capabilities import (
    capabilities_from_version,
    parse_version,
)
from photomapd.invokeai.errors import BadRequestError, InvalidURLError
from photomapd.invokeai.urls import (
    check_queue_id,
    image_path,
    looks_like_invokeai_output,
    normalize_base_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:9090", "http://localhost:9090"),
        ("  HTTP://127.0.0.1:9090/  ", "http://127.0.0.1:9090"),
        ("https://invoke.lan/sub/path/?x=1#y", "https://invoke.lan/sub/path"),
        ("http://[::1]:9090", "http://[::1]:9090"),
    ],
)
def test_valid_urls_are_normalised(url: str, expected: str) -> None:
    assert normalize_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "InvokeAI URL must use http:// or https://"),
        ("ftp://host:21", "InvokeAI URL must use http:// or https://"),
        ("localhost:9090", "InvokeAI URL must use http:// or https://"),
        ("", "InvokeAI URL must use http:// or https://"),
        ("http://", "InvokeAI URL must include a host"),
        ("http:///path", "InvokeAI URL must include a host"),
    ],
)
def test_invalid_urls_get_the_seed_messages(url: str, message: str) -> None:
    with pytest.raises(InvalidURLError) as caught:
        normalize_base_url(url)
    assert caught.value.message == message
    assert caught.value.http_status == 400


def test_bad_port_is_a_clear_error() -> None:
    with pytest.raises(InvalidURLError, match="Invalid InvokeAI URL"):
        normalize_base_url("http://localhost:99999")


@pytest.mark.parametrize("queue_id", ["default", "q-1.x_2", "a" * 64])
def test_queue_ids_accepted(queue_id: str) -> None:
    assert check_queue_id(queue_id) == queue_id


@pytest.mark.parametrize("queue_id", ["", "../boards", "a/b", "a" * 65, "q?x=1", "default%2F"])
def test_queue_ids_refused(queue_id: str) -> None:
    with pytest.raises(BadRequestError):
        check_queue_id(queue_id)


@pytest.mark.parametrize("name", ["../x.png", "a/b.png", "..", ".hidden", "x.png?full", ""])
def test_unsafe_image_names_never_reach_a_path(name: str) -> None:
    with pytest.raises(BadRequestError):
        image_path(name)


def test_uuid_names_are_recognised_as_invokeai_outputs() -> None:
    assert looks_like_invokeai_output("f52a6311-27e4-4627-9dc4-97c22915d094.png")
    assert not looks_like_invokeai_output("000001.3357757885.png")
    assert not looks_like_invokeai_output("holiday.png")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("6.13.8", (6, 13, 8)),
        ("6.14.0-alpha", (6, 14, 0)),
        ("6.13.0.rc1", (6, 13, 0)),
        ("6.12.0rc1", (6, 12, 0)),
        ("v1.15", (1, 15, 0)),
        ("nonsense", None),
    ],
)
def test_versions_parse_leniently(text: str, parsed: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == parsed


def test_version_fallback_thresholds_follow_the_invokeai_tags() -> None:
    assert not capabilities_from_version("6.11.9").recall
    assert capabilities_from_version("6.12.0").recall
    assert not capabilities_from_version("6.12.0").strict
    old_613 = capabilities_from_version("6.13.4")
    assert old_613.strict and old_613.reference_images and not old_613.append
    assert capabilities_from_version("6.13.5").append
