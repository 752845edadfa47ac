"""Pure image-file helpers: which paths are images, decode + orient, thumbnails, hashes, sizes.

No state and no threads: callers run these on an I/O pool. Every failure to read a file is an
`ImageError` carrying the path and a reason a user can act on.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import os

# Lower-case, with the dot, as `Path.suffix.lower()` gives them.
SUPPORTED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})

# Pillow format names we accept whatever the file is called (a JPEG saved as .png is common).
# MPO is a multi-picture JPEG written by some cameras; Pillow reports it separately.
SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF"})

# Partial-download / editor-temp suffixes; the final suffix already fails SUPPORTED_SUFFIXES,
# but naming them keeps the intent visible and covers "foo.part.png"-style tools.
_TEMP_MARKERS = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp")

THUMBNAIL_QUALITY = 80
_HASH_CHUNK = 1 << 20
_RETRY_HINT = "it is retried when the file changes"


class ImageError(Exception):
    """A file that cannot be used as an image; `reason` says why and what to do."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True for a supported image name that is not hidden, a temp file or a partial download."""
    name = Path(path).name
    if not name or name.startswith((".", "~")) or name.endswith("~"):
        return False
    lowered = name.lower()
    if any(marker in lowered for marker in _TEMP_MARKERS):
        return False
    return Path(lowered).suffix in SUPPORTED_SUFFIXES


def open_image(path: str | os.PathLike[str], target_size: int | None = None) -> Image.Image:
    """Decode fully, apply EXIF orientation, return RGB.

    With `target_size`, the image may come back reduced (JPEG DCT scaling, integer box
    reduction) for speed, but its shorter side is never below `target_size` unless the file
    itself is smaller. Use `image_size(path)` for the file's true pixel size.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            _check_format(path, image)
            if target_size and image.format in ("JPEG", "MPO"):
                # libjpeg decodes at 1/2, 1/4 or 1/8 directly: 3-5x faster for big JPEGs.
                image.draft("RGB", (target_size, target_size))
            image.load()
            oriented = ImageOps.exif_transpose(image)
            result = _to_rgb(oriented)
    except ImageError:
        raise
    except Exception as error:
        raise ImageError(path, _describe_failure(path, error)) from error
    if target_size:
        result = _reduce_for(result, target_size)
    return result


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), from the header only."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            _check_format(path, image)
            width, height = image.size
            orientation = _header_orientation(image)
    except ImageError:
        raise
    except Exception as error:
        raise ImageError(path, _describe_failure(path, error)) from error
    # Orientations 5-8 are rotations by 90 or 270 degrees: width and height swap.
    if orientation in (5, 6, 7, 8):
        return height, width
    return width, height


def make_thumbnail(image: Image.Image, size: int = 256) -> bytes:
    """WebP bytes with the longer side at most `size` (never enlarged)."""
    thumb = _to_rgb(image) if image.mode not in ("RGB", "RGBA") else image.copy()
    # reducing_gap: box-reduce first, then a short Lanczos pass; ~3x faster, same look.
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buffer = io.BytesIO()
    thumb.save(buffer, format="WEBP", quality=THUMBNAIL_QUALITY, method=4)
    return buffer.getvalue()


def invokeai_thumbnail_path(path: str | os.PathLike[str]) -> Path | None:
    """InvokeAI's own 256-px WebP for `path` (`<dir>/thumbnails/<stem>.webp`) when present."""
    path = Path(path)
    candidate = path.parent / "thumbnails" / f"{path.stem}.webp"
    try:
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    except OSError:
        return None
    return None


def embedding_source(path: str | os.PathLike[str], min_side: int) -> Path:
    """The file to decode for an embedding: InvokeAI's thumbnail when it is at least
    `min_side` on its shorter side and not older than the image, else the image itself.

    Decoding the 256-px WebP costs ~2 ms instead of ~45 ms for a 1024-px PNG (see
    ../shared/reference/peers-and-costs.md); CLIP downsizes to its input size anyway. Wide or
    tall images have a thumbnail shorter than `min_side` and use the full file.
    """
    path = Path(path)
    thumbnail = invokeai_thumbnail_path(path)
    if thumbnail is None:
        return path
    try:
        if thumbnail.stat().st_mtime + 1 < path.stat().st_mtime:
            return path  # left over from an earlier file of the same name
        if min(image_size(thumbnail)) < min_side:
            return path
    except (OSError, ImageError):
        return path
    return thumbnail


def content_hash(path: str | os.PathLike[str]) -> str:
    """blake2b-256 of the file's bytes as hex, streamed (constant memory)."""
    digest = hashlib.blake2b(digest_size=32)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise ImageError(path, f"cannot read the file ({error.strerror or error})") from error
    return digest.hexdigest()


def _check_format(path: Path, image: Image.Image) -> None:
    if image.format not in SUPPORTED_FORMATS:
        raise ImageError(
            path,
            f"unsupported image format {image.format}; photomapd reads PNG, JPEG, WebP, GIF, "
            "BMP and TIFF. Convert the file or exclude it from the album",
        )


def _header_orientation(image: Image.Image) -> int:
    # PNG's getexif() decodes the whole image to look for a trailing eXIf chunk; only trust
    # an eXIf chunk that came before the pixel data, which Pillow has already parsed.
    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        return int(exif.get(0x0112, 1))
    return int(image.getexif().get(0x0112, 1))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image.copy() if image.readonly else image
    if image.mode.startswith(("I;16", "I", "F")):
        # Pillow's convert() clips 16-bit grey (depth maps, scans) at 255: nearly all white.
        return _wide_grey_to_rgb(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    # Transparent pixels often hold black or garbage colour; white is what viewers show.
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    top = 1.0 if image.mode == "F" and values.max(initial=0) <= 1.0 else 65535.0
    scaled = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, mode="L").convert("RGB")


def _reduce_for(image: Image.Image, target_size: int) -> Image.Image:
    # Keep at least 2x the target so the caller's final bicubic resize stays accurate
    # (the same rule as Pillow's reducing_gap=2).
    factor = min(image.size) // (2 * target_size)
    if factor >= 2:
        return image.reduce(factor)
    return image


def _describe_failure(path: Path, error: Exception) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "the file no longer exists (moved or deleted while being read)"
    except OSError as stat_error:
        return f"cannot read the file ({stat_error.strerror or stat_error})"
    if size == 0:
        return f"empty file (0 bytes): it may still be being written; {_RETRY_HINT}"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large to decode safely ({error}); downscale it or exclude it"
    if isinstance(error, UnidentifiedImageError):
        return (
            "not a readable image: the format is not recognised or the header is corrupt "
            f"(for example a bad PNG chunk checksum); {_RETRY_HINT}"
        )
    message = str(error)
    if "truncated" in message.lower() or isinstance(error, EOFError | SyntaxError):
        return (
            f"truncated or corrupt image data ({message or type(error).__name__}); the file "
            f"may still be being written or was cut short; {_RETRY_HINT}"
        )
    if isinstance(error, OSError) and error.strerror:
        return f"cannot read the file ({error.strerror}); {_RETRY_HINT}"
    return f"corrupt image data ({type(error).__name__}: {message}); {_RETRY_HINT}"
