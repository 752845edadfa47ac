"""Midjourney / niji: prompt plus `--flags` and `Job ID: <uuid>` in the PNG `Description`
chunk (or EXIF ImageDescription), user name in `Author`. No model, steps or sampler exist.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from photomapd.metadata.record import Generator, empty_summary
from photomapd.metadata.values import as_int

if TYPE_CHECKING:
    from photomapd.metadata.source import Source

_JOB_ID = re.compile(r"\s*Job ID:\s*([0-9a-fA-F-]{8,})\s*$")
_FLAG = re.compile(r"(?:^|\s)--([a-z]+)(?:\s+([^-\s][^\s]*))?")


def parse(source: Source) -> dict[str, Any] | None:
    description = source.text_ci("Description") or source.exif.get("ImageDescription")
    if not description:
        return None
    job = _JOB_ID.search(description)
    if job is None and " --v " not in description and " --niji" not in description:
        return None
    text = description[: job.start()] if job else description
    flag_start = re.search(r"(?:^|\s)--[a-z]", text)
    prompt = text[: flag_start.start()] if flag_start else text
    params = text[flag_start.start() :].strip() if flag_start else ""
    flags = {match.group(1): match.group(2) for match in _FLAG.finditer(params)}
    summary = empty_summary()
    summary["generator"] = Generator.MIDJOURNEY
    niji = f"niji {flags['niji'] or ''}".strip() if "niji" in flags else None
    summary["generator_version"] = flags.get("v") or niji
    summary["positive_prompt"] = prompt.strip()
    summary["negative_prompt"] = flags.get("no")
    summary["seed"] = as_int(flags.get("seed"))
    summary["extra"] = {
        "midjourney_params": params or None,
        "job_id": job.group(1) if job else None,
        "author": source.text_ci("Author") or source.exif.get("Artist"),
        "creation_time": source.text_ci("Creation Time"),
    }
    return summary
