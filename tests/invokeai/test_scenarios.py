"""End-to-end scenarios over real sockets, run on the fake and (opt-in) a real InvokeAI 6.14.2.

What landed is checked through InvokeAI's own `client_state` `recall_*` keys, the same way on
both, so `-m invokeai_live` proves the fake right.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from photomapd.invokeai.actions import ImageSource, InvokeAIActions, RecallMode
from photomapd.invokeai.client import InvokeAIClient
from photomapd.invokeai.errors import AuthFailedError
from photomapd.invokeai.gallery import list_boards, upload_image
from tests.conftest import SHARED
from tests.invokeai.payloads import read_metadata, simple_recall_payload
from tests.invokeai.peers import Peer

CORPUS = SHARED / "corpus"
SDXL = CORPUS / "invokeai-v6-generated" / "v6142-sdxl-loras-dpmpp2mk.png"
FLUX = CORPUS / "invokeai-v6-generated" / "v6142-flux-txt2img-guidance.png"
PROMPT = "portrait of an old sea captain with a raven on his shoulder"
SDXL_RECALL = {
    "positive_prompt": PROMPT,
    "negative_prompt": "cartoon, painting",
    "steps": 25,
    "cfg_scale": 6.0,
    "cfg_rescale_multiplier": 0.0,
    "width": 256,
    "height": 192,
    "scheduler": "dpmpp_2m_k",
    "seamless_x": False,
    "seamless_y": False,
    "model": "Juggernaut XL v9",
    "seed": 4294967295,
    "loras": [
        {"model_name": "Film Grain SDXL", "weight": 0.8},
        {"model_name": "add-detail-xl", "weight": -0.35},
    ],
}


@pytest.fixture
async def client(peer: Peer):
    async with InvokeAIClient(peer.url, peer.username, peer.secret) as invokeai:
        yield invokeai


def _image(tmp_path: Path, source: Path, name: str | None = None) -> ImageSource:
    target = tmp_path / (name or source.name)
    shutil.copyfile(source, target)
    return ImageSource(target, read_metadata(target))


async def test_status(peer: Peer, client: InvokeAIClient) -> None:
    status = await client.status()
    assert status.reachable and status.version == "6.14.2"
    assert status.multiuser is peer.multiuser
    assert status.authenticated is (True if peer.multiuser else None)
    caps = status.capabilities
    assert (caps.recall, caps.strict, caps.append, caps.reference_images) == (True,) * 4
    assert caps.source == "openapi"


async def test_boards_and_upload_fallback(peer: Peer, client: InvokeAIClient) -> None:
    board_id = await peer.create_board()
    boards = await list_boards(client)
    assert boards[0].board_name == "Uncategorized"
    assert board_id in [b.board_id for b in boards]
    data = SDXL.read_bytes()
    landed = await upload_image(client, data, SDXL.name, board_id=board_id)
    assert landed.warning is None and landed.board_id == board_id
    assert landed.image_name in await peer.board_image_names(board_id)
    # The upload kept InvokeAI's metadata chunk (InvokeAI's own Recall works on it).
    assert (await peer.image_metadata(landed.image_name))["seed"] == 4294967295
    missing = await upload_image(client, data, SDXL.name, board_id="00000000-no-such-board")
    assert missing.board_id is None
    assert missing.warning == (
        "Upload to the selected board failed (HTTP 404); image was placed in Uncategorized."
    )


async def test_recall_with_seed(peer: Peer, client: InvokeAIClient, tmp_path: Path) -> None:
    actions = InvokeAIActions(client, simple_recall_payload)
    result = await actions.recall(_image(tmp_path, SDXL), RecallMode.RECALL)
    assert result.sent == SDXL_RECALL
    assert result.query == {"strict": True, "append": False}
    assert result.updated_count == 26  # strict: every RecallParameter field is set or cleared
    assert set(result.unresolved_models) == {"Juggernaut XL v9", "Film Grain SDXL", "add-detail-xl"}
    assert result.message.endswith("Switch to InvokeAI and press Invoke to generate.")
    assert await peer.recalled("positive_prompt") == PROMPT
    assert await peer.recalled("seed") == 4294967295
    assert await peer.recalled("steps") == 25
    assert await peer.recalled("loras") == [
        {"model_name": "Film Grain SDXL", "weight": 0.8, "is_enabled": True},
        {"model_name": "add-detail-xl", "weight": -0.35, "is_enabled": True},
    ]


async def test_remix_clears_the_seed(peer: Peer, client: InvokeAIClient, tmp_path: Path) -> None:
    actions = InvokeAIActions(client, simple_recall_payload)
    image = _image(tmp_path, SDXL)
    await actions.recall(image, RecallMode.RECALL)
    result = await actions.recall(image, RecallMode.REMIX)
    assert "seed" not in result.sent
    assert result.sent == {k: v for k, v in SDXL_RECALL.items() if k != "seed"}
    assert await peer.recalled("seed") is None
    assert await peer.recalled("positive_prompt") == PROMPT


async def test_partial_recalls(peer: Peer, client: InvokeAIClient, tmp_path: Path) -> None:
    actions = InvokeAIActions(client, simple_recall_payload)
    sdxl, flux = _image(tmp_path, SDXL), _image(tmp_path, FLUX)
    await actions.recall(sdxl, RecallMode.RECALL)
    prompts = await actions.recall(flux, RecallMode.PROMPTS)
    assert set(prompts.sent) <= {"positive_prompt", "negative_prompt"}
    assert prompts.query == {"strict": False, "append": False}
    assert await peer.recalled("positive_prompt") == flux.summary["positive_prompt"]
    assert await peer.recalled("seed") == 4294967295  # untouched by a prompts-only recall
    seed = await actions.recall(flux, RecallMode.SEED)
    assert seed.sent == {"seed": flux.summary["seed"]}
    assert seed.updated_count == 1
    assert await peer.recalled("seed") == flux.summary["seed"]
    assert await peer.recalled("steps") == 25


async def test_use_as_reference_uploads_then_recalls(peer, client, tmp_path: Path) -> None:
    board_id = await peer.create_board()
    actions = InvokeAIActions(client, simple_recall_payload, board_id=board_id)
    result = await actions.use_as_reference(_image(tmp_path, SDXL))
    (uploaded,) = result.uploaded
    assert uploaded["local"] == SDXL.name
    assert result.sent == {"reference_images": [{"image_name": uploaded["image_name"]}]}
    assert result.query == {"strict": False, "append": False}
    assert result.accepted == {
        "reference_images": [
            {"image": {"image_name": uploaded["image_name"], "width": 256, "height": 192}}
        ]
    }
    assert await peer.recalled("reference_images") == [{"image_name": uploaded["image_name"]}]
    assert uploaded["image_name"] in await peer.board_image_names(board_id)


async def test_reference_reuses_an_image_invokeai_already_has(peer, client, tmp_path) -> None:
    on_server = await upload_image(client, FLUX.read_bytes(), FLUX.name)
    local = _image(tmp_path, FLUX, on_server.image_name)  # as found in InvokeAI's outputs
    result = await InvokeAIActions(client).use_as_reference(local, append=True)
    assert result.uploaded == [] and result.reused == [on_server.image_name]
    assert result.query == {"strict": False, "append": True}
    assert result.accepted["append"] is True
    assert await peer.recalled("reference_images") == [{"image_name": on_server.image_name}]


async def test_send_to_gallery_keeps_metadata(peer, client, tmp_path) -> None:
    result = await InvokeAIActions(client).send_to_gallery(_image(tmp_path, SDXL))
    name = result.uploaded[0]["image_name"]
    assert (await peer.image_metadata(name))["positive_prompt"] == PROMPT


async def test_wrong_password_is_clear(peer: Peer) -> None:
    if not peer.multiuser:
        pytest.skip("single-user InvokeAI has no passwords")
    async with InvokeAIClient(peer.url, peer.email, "wrong-password") as client:
        status = await client.status()
        assert status.reachable and status.authenticated is False
        assert "Incorrect email or password" in status.detail
        with pytest.raises(AuthFailedError):
            await list_boards(client)


async def test_recall_of_a_comfyui_image_maps_its_sampler_and_says_how(
    peer: Peer, client: InvokeAIClient, tmp_path: Path
) -> None:
    """euler_ancestral + karras: InvokeAI's euler_a is sent, and the missing Karras is said."""
    from photomapd.metadata import read_metadata as read_summary
    from photomapd.metadata.recall import recall_payload

    target = tmp_path / "comfyui.png"
    shutil.copyfile(CORPUS / "comfyui" / "comfyui.png", target)
    image = ImageSource(target, read_summary(target).summary)
    result = await InvokeAIActions(client, recall_payload).recall(image, RecallMode.RECALL)
    assert result.sent["scheduler"] == "euler_a"
    assert await peer.recalled("scheduler") == "euler_a"
    assert (
        "The scheduler was sent as euler_a: InvokeAI has no Karras variant of euler_a."
        in result.warnings
    )
