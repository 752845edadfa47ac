"""Finding the InvokeAI root and its images folder, the default album's source."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvokeAIRoot:
    root: Path
    images_dir: Path
    how_found: str


def find_invokeai_root(explicit: str | Path | None = None) -> InvokeAIRoot | None:
    """`--root`, then INVOKEAI_ROOT, then ~/invokeai; None when none of them exists."""
    candidates: list[tuple[Path, str]] = []
    if explicit:
        candidates.append((Path(explicit).expanduser(), "--root"))
    if os.environ.get("INVOKEAI_ROOT"):
        candidates.append((Path(os.environ["INVOKEAI_ROOT"]).expanduser(), "INVOKEAI_ROOT"))
    candidates.append((Path.home() / "invokeai", "~/invokeai"))
    for root, how_found in candidates:
        if root.is_dir():
            return InvokeAIRoot(root.resolve(), images_dir_of(root.resolve()), how_found)
        if how_found != "~/invokeai":
            log.warning("InvokeAI root %s (from %s) is not a folder", root, how_found)
    return None


def images_dir_of(root: Path) -> Path:
    """InvokeAI keeps images in `<outputs_dir>/images`; outputs_dir may be set in invokeai.yaml."""
    outputs = root / "outputs"
    config_file = root / "invokeai.yaml"
    if config_file.is_file():
        try:
            document = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
            log.warning(
                "could not read %s (%s); assuming outputs/ under the root", config_file, error
            )
            document = {}
        configured = _find_outputs_dir(document)
        if configured:
            path = Path(configured).expanduser()
            outputs = path if path.is_absolute() else root / path
    return outputs / "images"


def _find_outputs_dir(document: object) -> str | None:
    # invokeai.yaml is flat since 4.0 (`outputs_dir: ...`); 3.x nested it under InvokeAI.Paths.
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("outputs_dir"), str):
        return document["outputs_dir"]
    for value in document.values():
        found = _find_outputs_dir(value)
        if found:
            return found
    return None
