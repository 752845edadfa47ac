"""Why a file could not be indexed, as the Failed files list shows it; and the one failure that
is not the file's fault, a full disk."""

from __future__ import annotations

import errno
import sqlite3

from photomapd import imaging
from photomapd.sentences import clause


def failure_reason(error: Exception) -> tuple[str, str]:
    """(reason, stored message) for a file that could not be decoded: the message says what to
    do once (ImageError reasons already end with the retry hint), without the path the row has."""
    reason = str(error.reason) if isinstance(error, imaging.ImageError) else str(error)
    if "retried" in reason:
        return reason, reason
    return reason, f"{clause(reason)}. Fix or re-export the file; it is retried when it changes"


def write_failure_reason(error: Exception) -> tuple[str, str]:
    """(reason, stored message) for a file that was read but whose row could not be written:
    not the file's fault, so the message asks for a report."""
    reason = f"its row could not be written ({type(error).__name__}: {error})"
    return reason, (
        f"{reason}. This is a photomapd bug: please report it with the file name; "
        "the file is retried when it changes"
    )


def is_disk_full(error: BaseException) -> bool:
    return (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or (
        isinstance(error, sqlite3.OperationalError) and "full" in str(error)
    )


def disk_full_message(error: BaseException, retry_seconds: float) -> str:
    where = getattr(error, "filename", None) or "the data folder"
    return (
        f"disk full while writing {where} ({error}); free some space — waiting images "
        f"are retried every {retry_seconds:g} s and nothing is lost"
    )
