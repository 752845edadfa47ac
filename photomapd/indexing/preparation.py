"""Per-file work done on the I/O pool: stat, hash, decode, thumbnail, metadata, preprocessing.

Pure and blocking: everything the pipeline needs about one file, or an ImageError saying why not.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from photomapd import imaging

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from PIL import Image

    from photomapd.metadata.json_reader import MetadataReader

log = logging.getLogger(__name__)

# The decoded image is kept at this short side: enough for CLIP (224) and for a 256-px thumbnail.
WORKING_SIZE = 256


@dataclass
class PreparedImage:
    album: str
    path: Path
    size: int
    mtime: float
    content_hash: str
    width: int
    height: int
    thumbnail: str | None
    metadata_json: str | None
    raw_metadata_json: str | None
    parser_version: int | None
    image: Image.Image | None = None
    tensor: Any = None  # torch.Tensor when the embedder could preprocess on the I/O pool
    image_id: int = 0  # known when re-embedding an indexed row


def prepare_file(
    album: str,
    path: Path,
    thumbnails_dir: Path,
    read_metadata: MetadataReader,
    preprocess: Callable[[Image.Image], Any] | None,
) -> PreparedImage:
    """Raises imaging.ImageError (and OSError) when the file cannot be used."""
    stat = path.stat()
    if stat.st_size == 0:
        raise imaging.ImageError(path, "the file is empty (0 bytes); it may still be being written")
    content_hash = imaging.content_hash(path)
    # InvokeAI's own 256-px thumbnail decodes ~13x faster than its 1024-px PNG (bench/RESULTS.md).
    source = imaging.embedding_source(path, WORKING_SIZE)
    image = imaging.open_image(source, target_size=WORKING_SIZE)
    original_width, original_height = imaging.image_size(path)
    thumbnail = _thumbnail_for(path, image, content_hash, thumbnails_dir)
    metadata_json, raw_json, parser_version = read_metadata(path)
    tensor = _try_preprocess(preprocess, image)
    return PreparedImage(
        album=album,
        path=path,
        size=stat.st_size,
        mtime=stat.st_mtime,
        content_hash=content_hash,
        width=original_width,
        height=original_height,
        thumbnail=thumbnail,
        metadata_json=metadata_json,
        raw_metadata_json=raw_json,
        parser_version=parser_version,
        image=image,
        tensor=tensor,
    )


def _try_preprocess(preprocess: Callable[[Image.Image], Any] | None, image: Image.Image) -> Any:
    """Preprocessing early is an optimisation: without it the model thread does it later."""
    if preprocess is None:
        return None
    try:
        return preprocess(image)
    except Exception as error:  # e.g. the model config itself is unavailable
        log.debug("preprocessing deferred: %s", error)
        return None


def _thumbnail_for(path: Path, image: Image.Image, content_hash: str, thumbnails_dir: Path) -> str:
    """Reuse InvokeAI's own 256-px WebP when present, else write ours once per content."""
    invokeai_thumbnail = imaging.invokeai_thumbnail_path(path)
    if invokeai_thumbnail is not None:
        return str(invokeai_thumbnail)
    target = thumbnails_dir / content_hash[:2] / f"{content_hash}.webp"
    if not target.exists():
        write_file_atomically(target, imaging.make_thumbnail(image))
    return str(target)


def write_file_atomically(target: Path, data: bytes) -> None:
    """Temp file + rename: a crash or a full disk never leaves half a thumbnail behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique temp name: two copies of the same image share a thumbnail and may be written
    # by two decode threads at once.
    temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(target)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
