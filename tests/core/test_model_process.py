"""The model in a worker process: same vectors as in process, exits when idle, survives a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photomapd.model.embedder import Embedder
from photomapd.model.lifecycle import ModelState, ModelUnavailable
from photomapd.model.worker_process import ModelClient

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tiny_clip):
    config_path, checkpoint = tiny_clip
    client = ModelClient(str(config_path), str(checkpoint), device="cpu", idle_unload_seconds=0.2)
    yield client
    client.unload()


def test_worker_gives_the_same_vectors_as_in_process(client, tiny_clip):
    config_path, checkpoint = tiny_clip
    images = [Image.new("RGB", (64, 48), (200, 10, 10)), Image.new("RGB", (40, 40), (0, 0, 250))]
    remote_images = client.embed_images(images)
    remote_text = client.embed_text(["a red square", "a blue square"])
    assert client.state == ModelState.READY and client.worker_pid not in (None, os.getpid())
    local = Embedder(str(config_path), str(checkpoint), device="cpu")
    assert client.model_id == local.model_id
    np.testing.assert_allclose(remote_images, local.embed_images(images), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        remote_text, local.embed_text(["a red square", "a blue square"]), rtol=1e-4, atol=1e-5
    )
    assert remote_images.shape == (2, client.dim)


def test_idle_worker_exits_and_restarts_on_demand(client):
    client.embed_text(["warm up"])
    pid = client.worker_pid
    assert pid is not None
    assert client.unload_if_idle(now=client.last_used + 1.0) is True
    assert client.worker_pid is None and client.state == ModelState.UNLOADED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert client.embed_text(["again"]).shape[0] == 1
    assert client.worker_pid not in (None, pid)


def test_killed_worker_is_reported_then_restarted(client):
    client.embed_text(["warm up"])
    os.kill(client.worker_pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="model worker stopped"):
        client.embed_text(["lost"])
    assert client.state == ModelState.UNLOADED and "restarts on next use" in client.error
    assert client.embed_text(["back"]).shape[0] == 1 and client.state == ModelState.READY


def test_missing_weights_make_the_worker_say_why(tmp_path, tiny_clip):
    client = ModelClient(str(tiny_clip[0]), str(tmp_path / "absent.pt"), device="cpu")
    with pytest.raises(ModelUnavailable, match=r"absent\.pt"):
        client.load()
    assert client.state == ModelState.UNAVAILABLE and client.worker_pid is None


def test_daemon_process_does_not_import_torch():
    """The daemon's own modules stay torch-free: that is what keeps its idle memory small."""
    code = (
        "import sys, photomapd.daemon, photomapd.api.app, photomapd.cli; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr
