"""A worker process never outlives the daemon that started it: called first thing in every
worker (the model worker, the map's fit worker).

Why: after a `kill -9` or a crash of the daemon, its workers used to live on, parented to init
(two ~355 MB workers were still there 37 minutes later). Two guards, because each has a gap:

- Linux: the parent-death signal (prctl PR_SET_PDEATHSIG). The kernel sends SIGKILL the moment
  the parent goes, even while the worker is deep in torch or numba code holding the GIL. It is
  tied to the *thread* that started the worker, so workers are started from threads that live as
  long as the daemon (the model thread, the event loop).
- Everywhere: a watchdog thread waits on multiprocessing's sentinel of the parent (a pipe the
  parent holds open on POSIX, a process handle on Windows) and ends the worker when it fires.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading

log = logging.getLogger(__name__)

_PR_SET_NAME = 15
_PR_SET_PDEATHSIG = 1
_PARENT_GONE_EXIT_CODE = 3


def end_with_parent(parent_pid: int, name: str) -> None:
    """In a worker started with multiprocessing "spawn": end this process as soon as the process
    `parent_pid` ends, and show it as `name` in ps/top (Linux, 15 characters at most)."""
    if sys.platform.startswith("linux"):
        _linux_prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]))
        _linux_prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(_PARENT_GONE_EXIT_CODE)
    watch_parent()


def watch_parent() -> None:
    """Everywhere: a watchdog thread ends this process when the parent that spawned it ends."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_when_gone, args=(parent,), name="parent-watch", daemon=True
        ).start()


def _exit_when_gone(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent's sentinel fires: it has ended
    # os._exit, not sys.exit: the main thread may be blocked in a request or a fit, and
    # nothing here is worth saving (the daemon's SQLite is the truth).
    os._exit(_PARENT_GONE_EXIT_CODE)


def _linux_prctl(option: int, argument: object) -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)  # the running program's libc symbols
        if libc.prctl(option, argument, 0, 0, 0) != 0:
            log.debug("prctl(%d) failed: errno %d", option, ctypes.get_errno())
