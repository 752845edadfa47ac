"""Finds the command line that starts the installed photomapd, for login items and services.

A login item that points into a temporary or cache folder (a `uvx` run, a pip build dir) breaks
at the next reboot or cache clean, so such paths are refused with an explanation.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Folders that tools create for one-off runs; a login item must not point into them.
_EPHEMERAL_MARKERS = ("/.cache/uv/", "/.cache/pipx/", "/pip-build-env-", "/archive-v0/")


class ExecutableNotFound(RuntimeError):
    """No stable photomapd executable could be found."""


def is_ephemeral(path: Path, env: Mapping[str, str] | None = None) -> bool:
    """True for paths under a tool cache, or under the temp folder but outside HOME."""
    env = os.environ if env is None else env
    text = path.as_posix()
    if any(marker in text for marker in _EPHEMERAL_MARKERS):
        return True
    temp = Path(tempfile.gettempdir()).resolve()
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home()).resolve()
    return path.is_relative_to(temp) and not path.is_relative_to(home)


def resolve_command(
    explicit: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The argv prefix that runs photomapd, e.g. `['/home/u/.local/bin/photomapd']`.

    Order: an explicit path (trusted: the installer knows where it put things), `photomapd` on
    PATH, the script this process was started from. Relative paths are made absolute.
    """
    if explicit is not None:
        path = Path(os.path.abspath(Path(explicit).expanduser()))
        if not path.is_file():
            raise ExecutableNotFound(
                f"{path} does not exist; pass the path of the installed photomapd executable"
            )
        return [str(path)]
    candidates = []
    on_path = shutil.which("photomapd", path=(env or os.environ).get("PATH"))
    if on_path:
        candidates.append(Path(os.path.abspath(on_path)))
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name.lower().startswith("photomapd") and argv0.is_file():
        candidates.append(Path(os.path.abspath(argv0)))
    for candidate in candidates:
        if not is_ephemeral(candidate.resolve(), env):
            return [str(candidate)]
    found = ", ".join(str(c) for c in candidates) or "nothing on PATH"
    raise ExecutableNotFound(
        f"no installed photomapd executable found (saw: {found}); install photomapd with "
        "installer/install.sh (or pip install), or pass --executable PATH"
    )


def windowless_variant(command: Sequence[str]) -> list[str]:
    """On Windows, `photomapdw.exe` (the GUI-subsystem launcher pip writes for the gui-script)
    beside `photomapd.exe`: a login item started through it opens no console window. Any other
    command is returned unchanged."""
    if not command:
        return list(command)
    executable = Path(command[0])
    if executable.name.lower() != "photomapd.exe":
        return list(command)
    windowless = executable.with_name("photomapdw.exe")
    return [str(windowless), *command[1:]] if windowless.is_file() else list(command)
