"""imaging.py on real files: the shared broken corpus and images written by Pillow here."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photomapd import imaging
from photomapd.imaging import ImageError
from tests.conftest import SHARED

BROKEN = SHARED / "corpus" / "broken"


def _save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def _halves(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: orientation mistakes show up as wrong colours."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


@pytest.mark.parametrize(
    "name",
    ["a.png", "b.JPG", "c.jpeg", "d.webp", "e.gif", "f.bmp", "g.tif", "h.TIFF", "x.y.z.png"],
)
def test_image_names_are_accepted(name: str) -> None:
    assert imaging.is_image_path(Path("/photos/some.dir") / name)


@pytest.mark.parametrize(
    "name",
    [
        ".foo.png",
        ".foo.png.AbC123",  # rsync's temp name
        "foo.png.tmp",
        "~foo.png",
        "foo.png~",
        "foo.png.part",
        "foo.part.png",
        "foo.png.crdownload",
        "foo.txt",
        "foo",
        "foo.psd",
        ".png",
    ],
)
def test_hidden_temp_and_other_names_are_rejected(name: str) -> None:
    assert not imaging.is_image_path(Path("/photos") / name)


def test_supported_suffixes_cover_the_required_formats() -> None:
    assert {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"} == set(
        imaging.SUPPORTED_SUFFIXES
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty-file.png", "empty file"),
        ("truncated-in-metadata.png", "truncated"),
        ("truncated-mid-idat.png", "truncated"),
        ("crc-mismatch.png", "not a readable image"),
    ],
)
def test_broken_corpus_files_raise_clear_errors(name: str, expected: str) -> None:
    path = BROKEN / name
    with pytest.raises(ImageError) as caught:
        imaging.open_image(path)
    assert caught.value.path == path
    assert expected in caught.value.reason
    assert "retried" in caught.value.reason  # says what happens next
    assert str(path) in str(caught.value)


def test_image_size_reads_only_the_header_of_a_truncated_png() -> None:
    # The pixels of this file are cut short; its header says 512x512.
    assert imaging.image_size(BROKEN / "truncated-mid-idat.png") == (512, 512)


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP")])
def test_truncated_files_written_in_steps_are_reported(
    tmp_path: Path, suffix: str, fmt: str
) -> None:
    noise = Image.effect_noise((256, 256), 64).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format=fmt)
    data = buffer.getvalue()
    path = tmp_path / f"partial{suffix}"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(ImageError) as caught:
        imaging.open_image(path)
    assert "truncated" in caught.value.reason or "corrupt" in caught.value.reason
    path.write_bytes(data)  # the writer finishes: now it decodes
    assert imaging.open_image(path).size == (256, 256)


def test_zero_byte_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        imaging.open_image(path)
    with pytest.raises(ImageError, match="empty file"):
        imaging.image_size(path)


def test_content_decides_not_the_extension(tmp_path: Path) -> None:
    jpeg_named_png = _save(tmp_path / "really-a-jpeg.png", _halves(), format="JPEG")
    assert imaging.open_image(jpeg_named_png).size == (40, 20)
    text_named_png = tmp_path / "notes.png"
    text_named_png.write_text("this is not an image\n" * 20)
    with pytest.raises(ImageError, match="not a readable image"):
        imaging.open_image(text_named_png)


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    pcx_named_png = _save(tmp_path / "old.png", _halves(), format="PCX")
    with pytest.raises(ImageError, match="unsupported image format PCX"):
        imaging.open_image(pcx_named_png)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no longer exists"):
        imaging.open_image(tmp_path / "gone.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied(tmp_path: Path, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    path = _save(tmp_path / f"rotated.{fmt.lower()}", _halves(), format=fmt, exif=exif, quality=95)
    image = imaging.open_image(path)
    assert image.size == (20, 40)
    assert imaging.image_size(path) == (20, 40)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60, top  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_modes_become_rgb_with_transparency_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (10, 20, 30, 255))
    image = imaging.open_image(_save(tmp_path / "alpha.png", rgba))
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (255, 255, 255)
    assert image.getpixel((0, 0)) == (10, 20, 30)
    gray = imaging.open_image(_save(tmp_path / "gray.gif", Image.new("L", (8, 8), 128)))
    assert gray.mode == "RGB" and gray.getpixel((1, 1)) == (128, 128, 128)


def test_sixteen_bit_grey_keeps_its_tones(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    path = _save(tmp_path / "depth.png", Image.fromarray(ramp))
    image = imaging.open_image(path)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (0, 0, 0)
    assert image.getpixel((63, 63)) == (255, 255, 255)
    assert 100 < image.getpixel((0, 32))[0] < 155  # mid-grey stays mid-grey, not white


def test_target_size_reduces_but_never_below_target(tmp_path: Path) -> None:
    big = Image.effect_noise((1024, 768), 40).convert("RGB")
    jpeg = imaging.open_image(_save(tmp_path / "big.jpg", big, quality=90), target_size=224)
    assert 224 <= min(jpeg.size) < 768  # JPEG draft decoded at reduced scale
    square = big.resize((1024, 1024))  # InvokeAI-like
    png = imaging.open_image(_save(tmp_path / "big.png", square, compress_level=1), target_size=224)
    assert png.size == (512, 512)  # integer box reduction, still >= 2x the target
    assert imaging.open_image(tmp_path / "big.png").size == (1024, 1024)
    small = imaging.open_image(_save(tmp_path / "small.png", _halves()), target_size=224)
    assert small.size == (40, 20)


def test_thumbnail_is_webp_and_never_enlarged() -> None:
    data = imaging.make_thumbnail(_halves((1024, 512)), size=256)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (256, 128)
    with Image.open(io.BytesIO(imaging.make_thumbnail(_halves((40, 20))))) as thumb:
        assert thumb.size == (40, 20)


def test_invokeai_thumbnail_is_found_next_to_the_image(tmp_path: Path) -> None:
    image_path = _save(tmp_path / "abc-123.png", _halves())
    assert imaging.invokeai_thumbnail_path(image_path) is None
    (tmp_path / "thumbnails").mkdir()
    thumb = tmp_path / "thumbnails" / "abc-123.webp"
    thumb.write_bytes(b"")
    assert imaging.invokeai_thumbnail_path(image_path) is None  # half-written: not yet
    thumb.write_bytes(imaging.make_thumbnail(_halves()))
    assert imaging.invokeai_thumbnail_path(image_path) == thumb


def test_content_hash_is_blake2b_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "blob.png"
    data = bytes(range(256)) * (3 * 4096 + 7)  # > 3 chunks of 1 MiB
    path.write_bytes(data)
    assert imaging.content_hash(path) == hashlib.blake2b(data, digest_size=32).hexdigest()
    path.write_bytes(data[:-1] + b"\x00")
    assert imaging.content_hash(path) != hashlib.blake2b(data, digest_size=32).hexdigest()
    with pytest.raises(ImageError, match="cannot read"):
        imaging.content_hash(tmp_path / "missing.png")


def test_embedding_source_prefers_a_fresh_large_enough_invokeai_thumbnail(tmp_path: Path) -> None:
    square = _save(tmp_path / "square.png", _halves((1024, 1024)))
    wide = _save(tmp_path / "wide.png", _halves((1536, 640)))
    assert imaging.embedding_source(square, 224) == square  # no thumbnail yet
    (tmp_path / "thumbnails").mkdir()
    for image_path in (square, wide):
        with Image.open(image_path) as image:
            thumb = imaging.make_thumbnail(image.convert("RGB"), size=256)
        (tmp_path / "thumbnails" / f"{image_path.stem}.webp").write_bytes(thumb)
    assert imaging.embedding_source(square, 224) == tmp_path / "thumbnails" / "square.webp"
    assert imaging.embedding_source(square, 300) == square  # 256 px is too small for 300
    assert imaging.embedding_source(wide, 224) == wide  # 256x106: too short for CLIP
    stale = tmp_path / "thumbnails" / "square.webp"
    os.utime(stale, (0, 0))  # older than the image: from a previous file of that name
    assert imaging.embedding_source(square, 224) == square
