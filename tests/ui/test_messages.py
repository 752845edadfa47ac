"""Messages joined from parts read as sentences: the model-unavailable banner (exact visible
text, from the real daemon's reason and from reasons that do or do not end in a full stop) and
the server-side reasons the banner and the failed-file list show."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from photomapd import imaging
from photomapd.config import AlbumConfig, Config, ModelConfig
from photomapd.indexing.failures import failure_reason
from photomapd.sentences import clause, join_sentences, sentence
from tests.ui.fake_api import FakeDaemon, serve_fake
from tests.ui.images import write_png
from tests.ui.live import serve_live

pytestmark = pytest.mark.browser

ADVICE = (
    " The gallery, favourites and prompt search keep working; images are embedded as soon as the"
    " model loads. Check the model name and checkpoint in Settings."
)
# What model_files says when the weights cannot be fetched (no full stop at the end).
NO_NETWORK = (
    "could not download weights 'laion2b_s34b_b79k' for ViT-B-32: no network (cannot reach "
    "huggingface.co:443: Network is unreachable). Put a checkpoint file path in "
    "model.pretrained, or connect once to download"
)


def model_banner(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#banners [data-banner='model']")


def test_model_banner_joins_sentences_with_one_full_stop(page: Page) -> None:
    daemon = FakeDaemon()
    daemon.seed(3)
    daemon.model = {"name": "ViT-B-32", "state": "unavailable", "error": NO_NETWORK}
    with serve_fake(daemon) as base:
        page.goto(base + "/")
        banner = model_banner(page)
        expect(banner).to_have_text(
            "Semantic search is unavailable: " + NO_NETWORK + "." + ADVICE, use_inner_text=True
        )
        # A reason that already ends a sentence gets no second full stop (live, by event).
        daemon.call(
            daemon.publish,
            "model_state",
            {"state": "unavailable", "error": "the weights file is corrupt. Replace it."},
        )
        expect(banner).to_have_text(
            "Semantic search is unavailable: the weights file is corrupt. Replace it." + ADVICE,
            use_inner_text=True,
        )
        daemon.call(daemon.publish, "model_state", {"state": "unavailable", "error": ""})
        expect(banner).to_have_text(
            "Semantic search is unavailable: the model could not be loaded." + ADVICE,
            use_inner_text=True,
        )
        daemon.call(daemon.publish, "model_state", {"state": "ready", "error": None})
        expect(banner).to_have_count(0)


def test_real_daemon_reason_reads_as_sentences(
    page: Page, tmp_path: Path, tiny_clip: tuple[Path, Path]
) -> None:
    config_path, _ = tiny_clip
    missing = tmp_path / "weights" / "tiny.pt"
    folder = tmp_path / "images"
    folder.mkdir()
    write_png(folder / "one.png", (10, 120, 200))  # something to embed: the load is tried
    config = Config(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        model=ModelConfig(
            name=str(config_path), pretrained=str(missing), device="cpu", worker_process=False
        ),
    )
    config.albums.append(AlbumConfig("album0", "Album 0", [folder]))
    with serve_live(config) as live:
        page.goto(live.url + "/")
        expect(model_banner(page)).to_have_text(
            f"Semantic search is unavailable: checkpoint file {missing} does not exist. Fix "
            "model.pretrained (a checkpoint file path, or a pretrained tag such as "
            "'laion2b_s34b_b79k')." + ADVICE,
            use_inner_text=True,
            timeout=30_000,
        )


def test_sentence_helpers() -> None:
    assert clause("no network (timed out).  ") == "no network (timed out)"
    assert sentence("connect once to download") == "connect once to download."
    assert sentence("Replace it.") == sentence("Replace it") == "Replace it."
    assert sentence("Really?") == "Really?"
    assert sentence("  ") == sentence(". ") == ""
    assert join_sentences("a reason.", "", "Do this") == "a reason. Do this."


def test_failed_file_reason_says_what_to_do_once(tmp_path: Path) -> None:
    cut = tmp_path / "cut.png"
    whole = write_png(tmp_path / "whole.png", (1, 2, 3), size=128).read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(imaging.ImageError) as caught:
        imaging.open_image(cut)
    reason, message = failure_reason(caught.value)
    assert message == reason and str(cut) not in message  # the row already has the path
    assert message.count("retried") == 1
    reason, message = failure_reason(OSError("Input/output error."))
    assert message == (
        "Input/output error. Fix or re-export the file; it is retried when it changes"
    )
