"""The JSON shape of one image, shared by the API and the event stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from photomapd.file_paths import shown


def image_json(row: dict[str, Any]) -> dict[str, Any]:
    image_id = row["id"]
    summary = None
    if row.get("metadata_json"):
        try:
            summary = json.loads(row["metadata_json"])
        except ValueError:
            summary = None
    # Shown as valid UTF-8 (U+FFFD for a byte of a name that is not); files go by id anyway.
    path = Path(shown(row["path"]))
    return {
        "id": image_id,
        "album": row["album"],
        "path": str(path),
        "name": path.name,
        "folder": str(path.parent),
        "width": row.get("width"),
        "height": row.get("height"),
        "size": row.get("size"),
        "mtime": row.get("mtime"),
        "created_at": row.get("created_at"),
        "status": row.get("status"),
        "error": row.get("error"),
        "favourite": bool(row.get("favourite")),
        "embedded": bool(row.get("embedded")),
        "thumbnail_url": f"/api/images/{image_id}/thumbnail",
        "file_url": f"/api/images/{image_id}/file",
        "metadata_summary": summary,
        # InvokeAI board name ("Uncategorized" for none); None outside InvokeAI's folder
        "board": row.get("board"),
    }
