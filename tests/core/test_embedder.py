"""Embedder with real open_clip code and the tiny random-weight model from tests/tinyclip.py."""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from photomapd.model.embedder import Embedder, resolve_device
from photomapd.model.lifecycle import ModelState, ModelUnavailable
from tests.tinyclip import TINY_CLIP_CONFIG, TINY_CLIP_DIM, write_tiny_clip

# Sockets opened while a test watches: the audit hook sees every connect and DNS lookup, in
# open_clip, huggingface_hub and urllib alike, records it and refuses anything but loopback.
# Installed once; it only acts while the `network_calls` fixture is active.
_NETWORK_WATCH: dict[str, list[str] | None] = {"calls": None}
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _audit(event: str, args: tuple) -> None:
    calls = _NETWORK_WATCH["calls"]
    if calls is None or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    target = args[1] if event == "socket.connect" else args[0]
    host = target[0] if isinstance(target, tuple) else target
    host = host.decode() if isinstance(host, bytes) else str(host)
    calls.append(f"{event} {host}")
    if host not in _LOOPBACK:
        raise ConnectionRefusedError(f"test blocked a network call to {host}")


sys.addaudithook(_audit)


@pytest.fixture
def network_calls():
    calls: list[str] = []
    _NETWORK_WATCH["calls"] = calls
    yield calls
    _NETWORK_WATCH["calls"] = None


def _outside(calls: list[str]) -> list[str]:
    return [call for call in calls if call.split()[-1] not in _LOOPBACK]


@pytest.fixture
def embedder(tiny_clip) -> Embedder:
    config_path, checkpoint_path = tiny_clip
    return Embedder(str(config_path), str(checkpoint_path), device="cpu")


def _images() -> list[Image.Image]:
    gradient = Image.linear_gradient("L").convert("RGB").resize((120, 90))
    return [
        Image.new("RGB", (64, 48), (255, 0, 0)),
        Image.new("RGB", (30, 70), (0, 0, 255)),
        gradient,
    ]


def test_embeds_images_as_unit_vectors(embedder: Embedder) -> None:
    assert embedder.state is ModelState.UNLOADED
    assert embedder.dim == TINY_CLIP_DIM  # known from the config, before loading
    assert embedder.input_size == 32
    vectors = embedder.embed_images(_images())
    assert embedder.state is ModelState.READY and embedder.error is None
    assert vectors.shape == (3, TINY_CLIP_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])
    assert embedder.device == "cpu"


def test_same_input_same_vector(embedder: Embedder, tiny_clip) -> None:
    first = embedder.embed_images(_images())
    again = embedder.embed_images(list(reversed(_images())))[::-1]
    np.testing.assert_allclose(first, again, atol=1e-5)
    texts = embedder.embed_text(["a red square", "a blue bar", "a red square"])
    assert texts.shape == (3, TINY_CLIP_DIM) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert not np.allclose(texts[0], texts[1])
    # A second embedder on the same files is the same model: same id, same vectors.
    other = Embedder(str(tiny_clip[0]), str(tiny_clip[1]), device="cpu")
    assert other.model_id == embedder.model_id
    np.testing.assert_allclose(other.embed_images(_images()), first, atol=1e-5)
    np.testing.assert_allclose(other.embed_text(["a red square"])[0], texts[0], atol=1e-5)


def test_preprocess_needs_no_weights(embedder: Embedder) -> None:
    tensor = embedder.preprocess(_images()[2])
    assert tensor.shape == (3, 32, 32)
    assert embedder.state is ModelState.UNLOADED  # the transform came from the config alone
    batch = torch.stack([embedder.preprocess(image) for image in _images()])
    np.testing.assert_allclose(
        embedder.embed_preprocessed(batch), embedder.embed_images(_images()), atol=1e-6
    )
    assert embedder.embed_preprocessed(tensor).shape == (1, TINY_CLIP_DIM)


def test_long_prompts_are_truncated_not_rejected(embedder: Embedder) -> None:
    prompt = ", ".join(["masterpiece, intricate detail, volumetric light"] * 40)  # >> 77 tokens
    vectors = embedder.embed_text([prompt, "ünïcödé ✓ 日本語"])
    assert vectors.shape == (2, TINY_CLIP_DIM)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_batches(embedder: Embedder) -> None:
    assert embedder.embed_images([]).shape == (0, TINY_CLIP_DIM)
    assert embedder.embed_text([]).shape == (0, TINY_CLIP_DIM)


def test_unload_frees_the_model_and_reloads_on_demand(embedder: Embedder) -> None:
    before = embedder.embed_text(["lighthouse at dusk"])
    model_ref = weakref.ref(embedder._model)
    embedder.unload()
    gc.collect()
    assert embedder.state is ModelState.UNLOADED
    assert model_ref() is None  # nothing keeps the weights alive
    np.testing.assert_allclose(embedder.embed_text(["lighthouse at dusk"]), before, atol=1e-6)
    assert embedder.state is ModelState.READY


def test_idle_unload(tiny_clip) -> None:
    embedder = Embedder(str(tiny_clip[0]), str(tiny_clip[1]), idle_unload_seconds=30)
    assert embedder.unload_if_idle() is False  # nothing loaded
    embedder.embed_text(["x"])
    used = embedder.last_used
    assert embedder.unload_if_idle(now=used + 29) is False
    assert embedder.state is ModelState.READY
    assert embedder.unload_if_idle(now=used + 31) is True
    assert embedder.state is ModelState.UNLOADED
    embedder.embed_text(["x"])
    assert time.monotonic() - embedder.last_used < 5  # use refreshes the clock


def test_missing_checkpoint_is_unavailable_then_recovers(tmp_path: Path, tiny_clip) -> None:
    config_path, checkpoint_path = tiny_clip
    wanted = tmp_path / "weights" / "tiny.pt"
    embedder = Embedder(str(config_path), str(wanted))
    with pytest.raises(ModelUnavailable) as caught:
        embedder.embed_text(["x"])
    message = str(caught.value)
    assert str(wanted) in message and "does not exist" in message
    assert "model.pretrained" in message  # says what to fix
    assert embedder.state is ModelState.UNAVAILABLE and embedder.error == message
    wanted.parent.mkdir()
    wanted.write_bytes(checkpoint_path.read_bytes())  # the user puts the file in place
    assert embedder.embed_text(["x"]).shape == (1, TINY_CLIP_DIM)
    assert embedder.state is ModelState.READY and embedder.error is None


def test_corrupt_or_mismatched_checkpoint_is_reported(tmp_path: Path, tiny_clip) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02 not a checkpoint" * 100)
    embedder = Embedder(str(tiny_clip[0]), str(garbage))
    with pytest.raises(ModelUnavailable, match="corrupt or made for another model"):
        embedder.load()
    assert garbage.exists()  # the user's own file is never deleted
    bigger = dict(TINY_CLIP_CONFIG, embed_dim=48)
    other_config = tmp_path / "other-tiny.json"
    other_config.write_text(json.dumps(bigger))
    with pytest.raises(ModelUnavailable, match=str(tiny_clip[1].name)):
        Embedder(str(other_config), str(tiny_clip[1])).load()


def test_unknown_model_name_and_missing_config(tmp_path: Path) -> None:
    unknown = Embedder("ViT-Nonexistent-99", "laion2b_s34b_b79k")
    assert unknown.dim is None
    with pytest.raises(ModelUnavailable, match=r"unknown model 'ViT-Nonexistent-99'.*model\.name"):
        unknown.load()
    missing = Embedder(str(tmp_path / "nope.json"), str(tmp_path / "nope.pt"))
    with pytest.raises(ModelUnavailable, match=r"model config file .*nope\.json does not exist"):
        missing.load()
    with pytest.raises(ModelUnavailable, match="does not take"):
        Embedder("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "").load()
    broken = tmp_path / "broken.json"
    broken.write_text('{"embed_dim": 4')
    with pytest.raises(ModelUnavailable, match="not readable JSON"):
        Embedder(str(broken), "x").load()


def test_unknown_tag_lists_known_ones() -> None:
    embedder = Embedder("ViT-B-32", "no_such_tag")
    with pytest.raises(ModelUnavailable, match=r"neither a pretrained tag for ViT-B-32.*laion2b"):
        embedder.load()


def test_hub_weights_offline_fail_fast_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network_calls: list[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = Embedder("ViT-B-32", "laion2b_s34b_b79k", cache_dir=tmp_path / "cache")
    assert embedder.dim == 512 and embedder.input_size == 224
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        embedder.embed_text(["x"])
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "laion2b_s34b_b79k" in message and "ViT-B-32" in message
    assert "model.pretrained" in message and "connect once" in message
    assert embedder.state is ModelState.UNAVAILABLE
    assert network_calls == []  # not even a DNS lookup


def test_unreachable_hub_fails_fast_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, network_calls: list[str]
) -> None:
    # Online mode, but the hub is a closed loopback port (as HF_ENDPOINT would set it): fails
    # at once instead of sitting through huggingface_hub's ~45 s of retries.
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    embedder = Embedder("ViT-B-32", "laion2b_s34b_b79k", device="cpu", cache_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(ModelUnavailable) as caught:
        embedder.load()
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("could not download weights 'laion2b_s34b_b79k' for ViT-B-32")
    assert "no network (cannot reach 127.0.0.1:9" in message
    assert "model.pretrained" in message and "connect once" in message
    assert network_calls and _outside(network_calls) == []


def test_corrupt_cached_download_is_cleared_and_retried_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    network_calls: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    repo = cache / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    cached = snapshot / "open_clip_model.safetensors"
    cached.write_bytes(b"half a download")
    embedder = Embedder("ViT-B-32", "laion2b_s34b_b79k", device="cpu", cache_dir=cache)
    with pytest.raises(ModelUnavailable, match="offline"):
        embedder.load()
    assert not cached.exists()  # cleared, then the retry found nothing (offline)
    assert "removing and retrying once" in caplog.text
    assert network_calls == []


def test_hf_style_config_with_preprocess_overrides(tmp_path: Path, tiny_clip) -> None:
    wrapped = {
        "model_cfg": TINY_CLIP_CONFIG,
        "preprocess_cfg": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
    }
    config = tmp_path / "open_clip_config.json"
    config.write_text(json.dumps(wrapped))
    embedder = Embedder(str(config), str(tiny_clip[1]), device="cpu")
    white = embedder.preprocess(Image.new("RGB", (50, 50), (255, 255, 255)))
    assert torch.allclose(white, torch.ones_like(white))
    assert embedder.embed_images([Image.new("RGB", (50, 50))]).shape == (1, TINY_CLIP_DIM)


def test_model_id_follows_the_weights(tmp_path: Path, tiny_clip) -> None:
    config_path, checkpoint_path = tiny_clip
    base = Embedder(str(config_path), str(checkpoint_path)).model_id
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    (copy_dir / checkpoint_path.name).write_bytes(checkpoint_path.read_bytes())
    assert Embedder(str(config_path), str(copy_dir / checkpoint_path.name)).model_id == base
    _, reseeded = write_tiny_clip(tmp_path / "seed1", seed=1)
    assert Embedder(str(config_path), str(reseeded)).model_id != base
    assert Embedder("ViT-B-32", "laion2b_s34b_b79k").model_id == "ViT-B-32/laion2b_s34b_b79k"


def test_parallel_callers_get_the_same_answers(embedder: Embedder) -> None:
    images = _images()
    expected = embedder.embed_images(images)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                batch = torch.stack([embedder.preprocess(image) for image in images])
                results.append(embedder.embed_preprocessed(batch))
                embedder.unload_if_idle(now=time.monotonic() + 1e6)  # races with embedding
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == 8
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_auto_device_on_this_machine() -> None:
    expected = "cuda" if torch.cuda.is_available() else None
    assert resolve_device("auto") in ({expected} if expected else {"mps", "cpu"})
    assert resolve_device("cpu") == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_uses_fp16_and_frees_memory(tiny_clip) -> None:
    embedder = Embedder(str(tiny_clip[0]), str(tiny_clip[1]), device="auto")
    gc.collect()
    baseline = torch.cuda.memory_allocated()
    vectors = embedder.embed_images(_images())
    assert embedder.device == "cuda" and embedder.precision == "fp16"
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert torch.cuda.memory_allocated() > baseline
    embedder.unload()
    # Weights and cuBLAS workspaces are back; allow 2 MiB for the small cuBLASLt workspace.
    assert torch.cuda.memory_allocated() <= baseline + (2 << 20)


def test_docs_name_every_state_and_the_offline_switch() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text(encoding="utf-8")
    for state in ModelState:
        assert f"`{state.value}`" in doc, state
    assert "HF_HUB_OFFLINE" in doc
