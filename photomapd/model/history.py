"""Which models produced the stored embeddings, so a model change can keep answering searches
with the previous model's vectors until the new model has caught up."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "models.json"


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    name: str
    pretrained: str
    last_used: float


def _read(data_dir: Path) -> dict[str, dict[str, object]]:
    try:
        document = json.loads((data_dir / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def remember(data_dir: Path, model_id: str, name: str, pretrained: str) -> None:
    document = _read(data_dir)
    document[model_id] = {"name": name, "pretrained": pretrained, "last_used": time.time()}
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / (FILE_NAME + ".tmp")
    temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
    os.replace(temporary, data_dir / FILE_NAME)


def previous(data_dir: Path, current_id: str) -> ModelRecord | None:
    """The most recently used model other than the current one."""
    records = [
        ModelRecord(
            model_id,
            str(entry.get("name")),
            str(entry.get("pretrained")),
            _seconds(entry.get("last_used")),
        )
        for model_id, entry in _read(data_dir).items()
        if model_id != current_id and isinstance(entry, dict)
    ]
    return max(records, key=lambda record: record.last_used, default=None)


def forget_all_but(data_dir: Path, current_id: str) -> None:
    document = _read(data_dir)
    kept = {key: value for key, value in document.items() if key == current_id}
    if kept != document:
        temporary = data_dir / (FILE_NAME + ".tmp")
        temporary.write_text(json.dumps(kept, indent=2), encoding="utf-8")
        os.replace(temporary, data_dir / FILE_NAME)


def _seconds(value: object) -> float:
    """A time stamp from the JSON file; anything else (hand-edited, corrupt) counts as oldest."""
    return float(value) if isinstance(value, int | float) else 0.0
