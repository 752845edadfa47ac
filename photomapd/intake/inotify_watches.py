"""What Linux says about inotify: which folders this process watches, why a new watch can't be
added (the per-user limits), and how to raise those limits.

watchdog only logs a watch it could not add for a folder created while it runs, and goes on
without it; the kernel's own list of watches (/proc/self/fdinfo) is how the watcher finds out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys
from pathlib import Path

PROC_SELF = Path("/proc/self")
SYSCTL = Path("/proc/sys/fs/inotify")
USER_SYSCTL = Path("/proc/sys/user")
SUGGESTED_WATCHES = 524288  # what editors and file-sync tools commonly ask for
_IN_CLOEXEC = 0o2000000
_IN_CREATE = 0x100
_IN_ONLYDIR = 0x01000000


def available() -> bool:
    return sys.platform.startswith("linux") and (PROC_SELF / "fdinfo").is_dir()


def watched_folders() -> set[tuple[int, int]] | None:
    """(st_dev, st_ino) of every inode this process holds an inotify watch on, or None when
    this process has no inotify instance (another platform, or a non-inotify observer)."""
    if not available():
        return None
    found: set[tuple[int, int]] = set()
    instances = 0
    try:
        descriptors = os.listdir(PROC_SELF / "fd")
    except OSError:
        return None
    for descriptor in descriptors:
        try:
            if os.readlink(PROC_SELF / "fd" / descriptor) != "anon_inode:inotify":
                continue
            text = (PROC_SELF / "fdinfo" / descriptor).read_text()
        except OSError:
            continue  # closed since the listing
        instances += 1
        found.update(_parse_fdinfo(text))
    return found if instances else None


def _parse_fdinfo(text: str) -> set[tuple[int, int]]:
    """Lines like `inotify wd:3 ino:210452 sdev:fe00000 mask:...`; sdev is the kernel's dev_t
    (major << 20 | minor), not the st_dev that stat() gives."""
    watched = set()
    for line in text.splitlines():
        if not line.startswith("inotify "):
            continue
        fields = dict(part.split(":", 1) for part in line.split()[1:] if ":" in part)
        try:
            inode, kernel_dev = int(fields["ino"], 16), int(fields["sdev"], 16)
        except (KeyError, ValueError):
            continue
        device = os.makedev(kernel_dev >> 20, kernel_dev & 0xFFFFF)
        watched.add((device, inode))
    return watched


def is_watched(folder: Path, watched: set[tuple[int, int]]) -> bool:
    try:
        stat = folder.stat()
    except OSError:
        return True  # gone: nothing left to watch
    return (stat.st_dev, stat.st_ino) in watched


def probe(folder: Path) -> int:
    """Try to add one inotify watch on `folder` (released at once): 0 when it can be added now,
    else the errno (ENOSPC: the watch limit, EMFILE: the instance limit)."""
    libc = _libc()
    if libc is None:
        return 0
    descriptor = libc.inotify_init1(_IN_CLOEXEC)
    if descriptor < 0:
        return ctypes.get_errno()
    try:
        added = libc.inotify_add_watch(descriptor, os.fsencode(folder), _IN_CREATE | _IN_ONLYDIR)
        return 0 if added >= 0 else ctypes.get_errno()
    finally:
        os.close(descriptor)  # frees the watch with the instance


def _libc() -> ctypes.CDLL | None:
    if not available():
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


def read_limit(name: str) -> int | None:
    """The limit in force: fs.inotify.<name>, or the user namespace's own when lower (a
    container: /proc/sys/user/max_inotify_watches and _instances)."""
    own = USER_SYSCTL / name.replace("max_user_", "max_inotify_")
    values = []
    for path in (SYSCTL / name, own):
        try:
            values.append(int(path.read_text().strip()))
        except (OSError, ValueError):
            continue
    return min(values) if values else None


def why_not_watched(error_number: int) -> str:
    """The reason shown for a folder native watching could not take, from `probe`'s errno."""
    if error_number == errno.ENOSPC:
        return f"the inotify watch limit is used up (fs.inotify.max_user_watches = {_shown('max_user_watches')})"
    if error_number == errno.EMFILE:
        return (
            "the inotify instance limit is used up "
            f"(fs.inotify.max_user_instances = {_shown('max_user_instances')})"
        )
    if error_number:
        return f"inotify refused a watch: {os.strerror(error_number)}"
    return "native watching did not take it (the inotify watch limit was reached for a moment)"


def _shown(name: str) -> str:
    value = read_limit(name)
    return "unknown" if value is None else str(value)


def how_to_raise(error_number: int) -> str:
    """The commands that raise the limit now and after a reboot."""
    if error_number == errno.EMFILE:
        name, suggested = (
            "max_user_instances",
            max(1024, 2 * (read_limit("max_user_instances") or 0)),
        )
    else:
        name, suggested = (
            "max_user_watches",
            max(SUGGESTED_WATCHES, 2 * (read_limit("max_user_watches") or 0)),
        )
    setting = f"fs.inotify.{name}={suggested}"
    return (
        f"to raise the limit now: sudo sysctl {setting}; to keep it after a reboot: "
        f"echo {setting} | sudo tee /etc/sysctl.d/60-photomapd-inotify.conf; then restart "
        "photomapd to watch natively again"
    )
