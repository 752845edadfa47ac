"""The numpy transform must give torchvision's numbers, image for image, or step aside."""

from __future__ import annotations

import numpy as np
import pytest
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image

from photomapd.model.embedder import Embedder
from photomapd.model.preprocessing import numpy_transform

# Odd and even margins on both axes, portrait and landscape, smaller and larger than the crop,
# and the exact crop size (no resize at all).
SIZES = [(256, 256), (300, 200), (200, 333), (225, 601), (1024, 1024), (97, 53), (224, 224)]


def picture(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
@pytest.mark.parametrize("crop", [224, 32])
def test_numpy_transform_matches_torchvision(interpolation: str, crop: int) -> None:
    cfg = PreprocessCfg(size=crop, interpolation=interpolation)
    exact = image_transform_v2(cfg, is_train=False)
    fast = numpy_transform(cfg)
    assert fast is not None
    for seed, (width, height) in enumerate(SIZES):
        image = picture(width, height, seed)
        expected = exact(image).numpy()
        got = fast(image)
        assert got is not None and got.shape == expected.shape == (3, crop, crop)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-5, err_msg=f"{width}x{height}")


def test_configs_and_images_it_does_not_handle_are_left_to_torchvision() -> None:
    assert numpy_transform(PreprocessCfg(size=224, resize_mode="longest")) is None
    assert numpy_transform(PreprocessCfg(size=224, resize_mode="squash")) is None
    assert numpy_transform(PreprocessCfg(size=(224, 192))) is None
    assert numpy_transform(PreprocessCfg(size=224, interpolation="random")) is None
    fast = numpy_transform(PreprocessCfg(size=224))
    assert fast is not None
    assert fast(picture(256, 256, 0).convert("RGBA")) is None
    assert fast(picture(256, 256, 0).convert("L")) is None


def test_embedder_preprocess_gives_torchvision_numbers_for_any_mode(
    tiny_clip: tuple[object, object],
) -> None:
    config_path, checkpoint = tiny_clip
    embedder = Embedder(str(config_path), str(checkpoint), device="cpu")
    cfg = PreprocessCfg(**embedder._config_or_raise().preprocess_cfg(embedder.pretrained))
    exact = image_transform_v2(cfg, is_train=False)
    for image in (picture(300, 200, 1), picture(120, 90, 2).convert("RGBA")):
        np.testing.assert_allclose(
            embedder.preprocess(image).numpy(), exact(image).numpy(), atol=2e-5
        )
