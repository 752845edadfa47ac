"""POST /api/v1/recall/{queue_id}: exact payloads, strict/append, errors, per version."""

from __future__ import annotations

import json

import pytest

from photomapd.invokeai.errors import BadRequestError, RejectedError
from photomapd.invokeai.recall import post_recall

PAYLOAD = {
    "positive_prompt": "astronaut riding a horse on mars",
    "negative_prompt": "",
    "model": "Juggernaut XL v9",
    "seed": 99887766,
    "steps": 30,
    "cfg_scale": 7.0,
    "width": 1024,
    "height": 1024,
    "scheduler": "dpmpp_2m_k",
    "loras": [{"model_name": "detail-tweaker-xl", "weight": 0.6}],
}


def _recall_calls(fake):
    return [r for r in fake.requests if r["path"].startswith("/api/v1/recall/")]


@pytest.mark.parametrize("version", ["6.12.0", "6.13.5", "6.14.2"])
async def test_recall_sends_payload_and_reports_resolution(version, fake_factory, client_factory):
    fake = await fake_factory(version)
    fake.add_model("Juggernaut XL v9")
    result = await post_recall(client_factory(fake.url), PAYLOAD, strict=version >= "6.13")
    call = _recall_calls(fake)[0]
    assert call["json"] == PAYLOAD
    assert call["query"] == ({"strict": "true"} if version >= "6.13" else {})
    assert result.status == "success"
    assert result.updated_count == (26 if version >= "6.13" else len(PAYLOAD))
    assert result.unresolved_models == ["detail-tweaker-xl"]
    assert result.parameters["model"] == fake.models[0]["key"]
    assert result.parameters["loras"] == []
    stored = fake.client_state[("system", "recall_loras")]
    assert json.loads(stored) == [
        {"model_name": "detail-tweaker-xl", "weight": 0.6, "is_enabled": True}
    ]
    assert fake.recall_events[-1]["parameters"] == result.parameters


async def test_unresolved_main_model_is_reported(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    result = await post_recall(client_factory(fake.url), {"model": "sd-1.5", "seed": 1})
    assert result.unresolved_models == ["sd-1.5"]
    assert result.updated_count == 2
    assert "model" not in result.parameters


async def test_append_reference_images(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    image = fake.add_image()
    result = await post_recall(
        client_factory(fake.url),
        {"reference_images": [{"image_name": image.image_name}]},
        append=True,
    )
    assert _recall_calls(fake)[0]["query"] == {"append": "true"}
    assert result.parameters == {
        "reference_images": [
            {"image": {"image_name": image.image_name, "width": 64, "height": 48}}
        ],
        "append": True,
    }


async def test_strict_and_append_together_refused_locally(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    with pytest.raises(BadRequestError):
        await post_recall(client_factory(fake.url), {"seed": 1}, strict=True, append=True)
    assert not _recall_calls(fake)


async def test_validation_error_is_flattened(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    with pytest.raises(RejectedError) as caught:
        await post_recall(client_factory(fake.url), {"steps": 0, "bogus": 1})
    assert caught.value.status == 422
    assert "body.steps: Input should be greater than or equal to 1" in caught.value.message
    assert "body.bogus: Extra inputs are not permitted" in caught.value.message


async def test_reference_images_key_is_rejected_by_612(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.12.0")
    with pytest.raises(RejectedError, match="reference_images: Extra inputs"):
        await post_recall(client_factory(fake.url), {"reference_images": [{"image_name": "x.png"}]})


@pytest.mark.parametrize("version", ["5.6.0", "6.11.1"])
async def test_no_recall_route_before_612(version, fake_factory, client_factory) -> None:
    fake = await fake_factory(version)
    with pytest.raises(RejectedError) as caught:
        await post_recall(client_factory(fake.url), {"seed": 1})
    assert caught.value.status == 405


async def test_queue_id_is_validated(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    with pytest.raises(BadRequestError):
        await post_recall(client_factory(fake.url), {"seed": 1}, queue_id="../boards/")
    assert not _recall_calls(fake)


async def test_empty_recall(fake_factory, client_factory) -> None:
    fake = await fake_factory("6.14.2")
    result = await post_recall(client_factory(fake.url), {})
    assert result.status == "no_parameters_provided" and result.updated_count == 0


async def test_recall_needs_auth_from_613_only(fake_factory, client_factory) -> None:
    from photomapd.invokeai.errors import AuthRequiredError

    open_612 = await fake_factory("6.12.0", multiuser=True)
    assert (await post_recall(client_factory(open_612.url), {"seed": 3})).updated_count == 1
    closed = await fake_factory("6.13.5", multiuser=True)
    with pytest.raises(AuthRequiredError):
        await post_recall(client_factory(closed.url), {"seed": 3})
