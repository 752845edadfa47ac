#!/bin/sh
# Install (or upgrade in place) photomapd for the current user on Linux or macOS.
#
#   sh installer/install.sh [--source DIR] [--folder DIR] [--no-autostart] [--no-start] [--dry-run]
#
# Creates an isolated environment in the user's data folder, installs photomapd with its `tray`
# extra, links `photomapd` into ~/.local/bin, turns on start-at-login, stops the daemon of this
# data folder (`photomapd stop`, only that one), starts the new one and prints its URL.
# Everything placed outside the data folder is listed in <data folder>/install-manifest.txt,
# which installer/uninstall.sh reads to remove exactly that.
#
#   --dry-run   choose the Python and the torch build, say why, and stop: nothing is written
#
# Python: PHOTOMAPD_PYTHON if set, else the first of python3.13, python3.12, python3.11,
# python3, python (each in every PATH folder) that runs and is 3.11 or newer; one that does not
# run (a broken pyenv shim) or is older is skipped with a note.
# torch (Linux): with no NVIDIA GPU (nvidia-smi does not answer) the CPU build from PyTorch's
# CPU wheel index (~200 MB instead of several GB with CUDA); when that index cannot be reached,
# the default wheel. The installer says which it used.
#
# Environment:
#   PHOTOMAPD_PYTHON        the Python (>= 3.11) to build the environment with
#   PHOTOMAPD_DATA_DIR      data folder (default: the platform's user data folder)
#   PHOTOMAPD_BIN_DIR       where the `photomapd` link goes (default: ~/.local/bin)
#   PHOTOMAPD_INSTALL_MIN_FREE_MB   free space required (default 6000 Linux, 3000 macOS)
#   PHOTOMAPD_INSTALL_NO_UV=1       use venv + pip even when uv is installed
#   PHOTOMAPD_INSTALL_TORCH_INDEX   the CPU wheel index (default
#                           https://download.pytorch.org/whl/cpu; empty: always the default wheel)
#   PIP_* / UV_*            passed through to pip / uv; with PIP_INDEX_URL or UV_INDEX_URL set,
#                           torch comes from that index (no CPU index is tried)
# Test/dev only:
#   PHOTOMAPD_INSTALL_BASE_PYTHON   a Python whose installed packages (torch, ...) the new
#                           environment reuses through a .pth file instead of downloading them

set -eu

say() { printf 'photomapd: %s\n' "$*"; }
die() {
    printf 'photomapd install: error: %s\n' "$*" >&2
    exit 1
}

script_dir=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
source_dir=$(dirname -- "$script_dir")
folder=""
autostart=1
start=1
dry_run=0

while [ $# -gt 0 ]; do
    case "$1" in
        --source) [ $# -ge 2 ] || die "--source needs a folder"; source_dir=$2; shift 2 ;;
        --folder) [ $# -ge 2 ] || die "--folder needs a folder"; folder=$2; shift 2 ;;
        --no-autostart) autostart=0; shift ;;
        --no-start) start=0; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ -n "${HOME:-}" ] || die "HOME is not set"
source_dir=$(CDPATH= cd -- "$source_dir" 2>/dev/null && pwd) || die "--source: no such folder"
grep -q '^name = "photomapd"' "$source_dir/pyproject.toml" 2>/dev/null \
    || die "$source_dir is not a photomapd checkout (no pyproject.toml for photomapd)"
if [ -n "$folder" ]; then
    folder=$(CDPATH= cd -- "$folder" 2>/dev/null && pwd) || die "--folder: no such folder: $folder"
fi

# --- where things go (must match photomapd.config.default_data_dir) -------------------------
case "$(uname -s)" in
    Darwin) os=macos; default_data="$HOME/Library/Application Support/photomapd"; need_mb=3000 ;;
    *) os=linux; default_data="${XDG_DATA_HOME:-$HOME/.local/share}/photomapd"; need_mb=6000 ;;
esac
data_dir=${PHOTOMAPD_DATA_DIR:-$default_data}
venv="$data_dir/venv"
bin_dir=${PHOTOMAPD_BIN_DIR:-$HOME/.local/bin}
link="$bin_dir/photomapd"
manifest="$data_dir/install-manifest.txt"
pid_file="$data_dir/daemon.pid"

# --- Python ---------------------------------------------------------------------------------
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

new_enough() { # "3.12" -> true when 3.11 or newer
    case "$1" in [0-9]*.[0-9]*) ;; *) return 1 ;; esac
    [ "${1%%.*}" -gt 3 ] || { [ "${1%%.*}" -eq 3 ] && [ "${1#*.}" -ge 11 ]; }
}

too_old_message() { # what-was-found
    printf '%s' "photomapd needs Python 3.11 or newer, but $1.
  Install a newer Python (Debian/Ubuntu: sudo apt install python3.11 python3.11-venv; macOS:
  brew install python@3.12) and run this again, or set PHOTOMAPD_PYTHON=/path/to/python3.12."
}

find_python() { # sets python and version, or says why none fits and stops
    if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}${PHOTOMAPD_PYTHON:-}" ]; then
        python=${PHOTOMAPD_INSTALL_BASE_PYTHON:-$PHOTOMAPD_PYTHON}
        version=$(python_version "$python") && [ -n "$version" ] \
            || die "$python does not run (set PHOTOMAPD_PYTHON to a working Python 3.11+)"
        new_enough "$version" || die "$(too_old_message "$python is Python $version")"
        return
    fi
    found=0
    old_ones=""
    set -f # PATH folders are not patterns
    for name in python3.13 python3.12 python3.11 python3 python; do
        saved_ifs=$IFS
        IFS=:
        for dir in $PATH; do
            IFS=$saved_ifs
            candidate="${dir:-.}/$name"
            [ -f "$candidate" ] && [ -x "$candidate" ] || continue
            found=1
            if ! version=$(python_version "$candidate") || [ -z "$version" ]; then
                say "skipping $candidate: it does not run (a broken pyenv shim or leftover link?)"
            elif ! new_enough "$version"; then
                say "skipping $candidate: Python $version is older than 3.11"
                old_ones="$old_ones $candidate"
            else
                python=$candidate
                set +f
                return
            fi
        done
        IFS=$saved_ifs
    done
    set +f
    [ "$found" = 1 ] || die "Python 3.11 or newer is needed, and no python3 was found on PATH.
  Install it (Debian/Ubuntu: sudo apt install python3 python3-venv; Fedora: sudo dnf install
  python3; macOS: brew install python@3.12, or the installer from python.org), then run this
  again, or point PHOTOMAPD_PYTHON at one."
    [ -z "$old_ones" ] || die "$(too_old_message "the Pythons on PATH are older:$old_ones")"
    die "none of the Pythons on PATH runs (see the notes above). Fix or remove the broken ones
  (for pyenv: pyenv global 3.12, or pyenv rehash), or set PHOTOMAPD_PYTHON to a working
  Python 3.11+."
}

python=""
version=""
find_python
say "using Python $version ($python)"

# --- which torch ----------------------------------------------------------------------------
# PyPI's torch for Linux bundles CUDA (several GB); with no NVIDIA GPU the CPU build does the
# same work. macOS and Windows wheels on PyPI have no CUDA, so this is for Linux only.
torch_index=${PHOTOMAPD_INSTALL_TORCH_INDEX-https://download.pytorch.org/whl/cpu}
torch_index=${torch_index%/}
reachable() { # url: does it answer within 10 s?
    "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' \
        "$1" >/dev/null 2>&1
}
installed_torch() { # torch's version in an environment this run keeps (no import: instant)
    [ -x "$venv/bin/python" ] && [ "$(python_version "$venv/bin/python")" = "$version" ] || return 1
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null
}
torch_from=default
if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
    torch_note="torch: reused from $PHOTOMAPD_INSTALL_BASE_PYTHON"
elif present=$(installed_torch); then
    torch_note="torch: $present is already installed and kept"
elif [ "$os" != linux ]; then
    torch_note="torch: the default wheel (on macOS it has no CUDA to skip)"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    torch_note="torch: an NVIDIA GPU answers (nvidia-smi), so the default wheel, with CUDA"
elif [ -n "${PIP_INDEX_URL:-}${UV_INDEX_URL:-}${UV_DEFAULT_INDEX:-}" ]; then
    torch_note="torch: from your package index (PIP_INDEX_URL / UV_INDEX_URL)"
elif [ -z "$torch_index" ]; then
    torch_note="torch: the default wheel (PHOTOMAPD_INSTALL_TORCH_INDEX is empty)"
elif reachable "$torch_index/torch/"; then
    torch_from=cpu
    torch_note="torch: no NVIDIA GPU (nvidia-smi does not answer), so the CPU build from $torch_index"
else
    torch_note="torch: no NVIDIA GPU, but PyTorch's CPU wheel index ($torch_index) cannot be"
    torch_note="$torch_note reached, so the default wheel from your package index (with CUDA)"
fi
say "$torch_note"
if [ "$dry_run" = 1 ]; then
    say "dry run: would install photomapd[tray] from $source_dir into $venv (nothing was changed)"
    exit 0
fi

# --- disk space -----------------------------------------------------------------------------
existing=$data_dir
while [ ! -d "$existing" ]; do existing=$(dirname -- "$existing"); done
if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ] || [ -x "$venv/bin/python" ]; then
    need_mb=500 # an upgrade, or packages reused from the base: no torch download
elif [ "$torch_from" = cpu ]; then
    need_mb=2500 # torch without CUDA
fi
need_mb=${PHOTOMAPD_INSTALL_MIN_FREE_MB:-$need_mb}
free_mb=$(df -Pk "$existing" | awk 'NR == 2 { print int($4 / 1024) }')
if [ "$free_mb" -lt "$need_mb" ]; then
    die "not enough disk space: the install needs about $need_mb MB in $existing, and only
  $free_mb MB are free. Free some space, or install onto another disk with
  PHOTOMAPD_DATA_DIR=/path/on/bigger/disk."
fi

# --- manifest: what we add outside the data folder ------------------------------------------
data_parent=$(dirname -- "$data_dir")
new_data_parents=""
while [ ! -e "$data_parent" ]; do # folders above the data folder that we are about to create
    new_data_parents="$data_parent
$new_data_parents"
    data_parent=$(dirname -- "$data_parent")
done
mkdir -p "$data_dir"
touch "$manifest"
remember() { # kind path: once per line, so re-running does not grow the file
    grep -qxF "$1 $2" "$manifest" || printf '%s %s\n' "$1" "$2" >>"$manifest"
}
remember_new_dirs() { # every folder on the way to $1 that does not exist yet, outermost first
    missing=""
    dir=$1
    while [ ! -e "$dir" ]; do
        missing="$dir
$missing"
        dir=$(dirname -- "$dir")
    done
    printf '%s' "$missing" | while IFS= read -r new_dir; do
        [ -n "$new_dir" ] && remember dir "$new_dir"
    done
    return 0
}

printf '%s' "$new_data_parents" | while IFS= read -r new_dir; do
    [ -n "$new_dir" ] && remember data-parent "$new_dir"
done

# --- the environment ------------------------------------------------------------------------
# Keep pip/uv caches from landing outside the data folder unless the user chose a cache.
if [ -z "${PIP_CACHE_DIR:-}" ] && [ -z "${PIP_NO_CACHE_DIR:-}" ]; then
    PIP_NO_CACHE_DIR=1
    export PIP_NO_CACHE_DIR
fi
PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_DISABLE_PIP_VERSION_CHECK

use_uv=0
if [ -z "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ] && [ -z "${PHOTOMAPD_INSTALL_NO_UV:-}" ] \
    && command -v uv >/dev/null 2>&1; then
    use_uv=1
    [ -n "${UV_CACHE_DIR:-}" ] || { UV_CACHE_DIR="$data_dir/cache/uv"; export UV_CACHE_DIR; }
fi

if [ -x "$venv/bin/python" ] && [ "$(python_version "$venv/bin/python")" = "$version" ]; then
    say "upgrading the environment in $venv"
else
    [ ! -e "$venv" ] || rm -rf "$venv" # broken, or built with another Python: rebuild
    say "creating an environment in $venv (Python $version)"
    if [ "$use_uv" = 1 ]; then
        uv venv --quiet --python "$python" "$venv" || die "uv venv failed (see above)"
    elif [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
        "$python" -m venv --without-pip "$venv" || die "$python -m venv failed (see above)"
    elif ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        die "$python -m venv failed. On Debian/Ubuntu install the venv module:
  sudo apt install python3-venv (or python$version-venv), then run this again."
    fi
fi

if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
    # Dev/test option: reuse the base interpreter's packages (torch is ~2 GB) via a .pth file;
    # `venv --system-site-packages` would not see them when the base is itself a venv.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    "$PHOTOMAPD_INSTALL_BASE_PYTHON" -c \
        'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])' \
        | sort -u >"$site/_photomapd_base.pth"
fi

# No --quiet: pip/uv print each package and their progress, so a long download shows.
venv_pip() { # install ARGS...
    if [ "$use_uv" = 1 ]; then
        shift
        uv pip install --python "$venv/bin/python" "$@"
    elif [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
        # The base's own pip serves the new environment (made --without-pip: ~15 s saved).
        "$python" -m pip --python "$venv/bin/python" "$@"
    else
        "$venv/bin/python" -m pip "$@"
    fi
}

if [ "$torch_from" = cpu ]; then
    say "installing torch and torchvision, CPU build, from $torch_index (a few minutes)..."
    venv_pip install --index-url "$torch_index" torch torchvision || {
        torch_from=default
        say "the CPU build could not be installed from $torch_index (see above); falling back
  to the default torch wheel from your package index"
    }
fi

how_long=""
installed_torch >/dev/null || how_long=" (torch is large: this takes several minutes)"
say "installing photomapd[tray] and its dependencies from $source_dir$how_long..."
if [ "$use_uv" = 1 ]; then
    venv_pip install --upgrade --reinstall-package photomapd "$source_dir[tray]" \
        || die "uv pip install failed (see above)"
else
    # pip always rebuilds a local folder, so an upgrade replaces photomapd's files even at the
    # same version; dependencies are fetched only when missing or too old (only-if-needed).
    venv_pip install --upgrade "$source_dir[tray]" \
        || die "pip install failed (see above). Behind a proxy or for another torch build,
  set PIP_INDEX_URL / PIP_EXTRA_INDEX_URL and run this again."
fi
[ -x "$venv/bin/photomapd" ] || die "the environment has no photomapd command after installing"
case "$torch_from" in
    cpu) say "torch $(installed_torch): the CPU build from $torch_index" ;;
    *) say "torch $(installed_torch || echo '(from the base Python)'): the default wheel" ;;
esac
touch "$venv/.photomapd-installer" # marks the environment as ours for the uninstaller

# --- photomapd on PATH ----------------------------------------------------------------------
if [ -e "$link" ] || [ -L "$link" ]; then
    [ -L "$link" ] && [ "$(readlink "$link")" = "$venv/bin/photomapd" ] \
        || die "$link exists and is not this installer's link; move it away and run this again"
else
    remember_new_dirs "$bin_dir"
    mkdir -p "$bin_dir"
    ln -s "$venv/bin/photomapd" "$link"
fi
remember file "$link"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "note: $bin_dir is not on your PATH; add it (e.g. in ~/.profile) to type photomapd" ;;
esac

# --- start at login -------------------------------------------------------------------------
# The desktop subcommands on their own: the full CLI loads the model code (seconds).
desktop() { "$venv/bin/python" -m photomapd.desktop.cli --data-dir "$data_dir" "$@"; }
if [ "$autostart" = 1 ]; then
    if [ "$os" = macos ]; then
        entry_dir="$HOME/Library/LaunchAgents"
    else
        entry_dir="${XDG_CONFIG_HOME:-$HOME/.config}/autostart"
    fi
    remember_new_dirs "$entry_dir"
    desktop autostart enable --executable "$venv/bin/photomapd"
    remember autostart "$entry_dir"
fi

# --- start (or restart) the daemon ----------------------------------------------------------
stop_previous() { # the daemon of this data folder only, found through its lock
    if stopped=$("$venv/bin/photomapd" --data-dir "$data_dir" stop 2>&1); then
        printf '%s\n' "$stopped"
    else
        case "$stopped" in
            *"is not running"*) ;;
            *) die "could not stop the photomapd running on $data_dir:
  $stopped" ;;
        esac
    fi
    rm -f "$pid_file"
}

service_active() {
    [ "$os" = linux ] && command -v systemctl >/dev/null 2>&1 \
        && systemctl --user is-active --quiet photomapd.service 2>/dev/null
}

service_runs_this_folder() { # the service's process holds this data folder's lock
    service_active || return 1
    main_pid=$(systemctl --user show --property=MainPID --value photomapd.service 2>/dev/null)
    [ -n "$main_pid" ] && [ "$main_pid" = "$(tail -c +2 "$data_dir/daemon.lock" 2>/dev/null)" ]
}

if [ "$start" = 1 ] && service_runs_this_folder; then
    # `photomapd service install` was used: let systemd run the new version.
    systemctl --user restart photomapd.service || die "systemctl --user restart photomapd failed"
    say "restarted the photomapd service (systemctl --user status photomapd)"
    start=0
fi

if [ "$start" = 1 ]; then
    stop_previous
    mkdir -p "$data_dir/logs"
    mode="--headless"
    if [ "$os" = macos ] || [ -n "${DISPLAY:-}" ]; then
        mode="" # `run` shows the tray icon when there is a display, else runs headless
    fi
    detach=""
    command -v setsid >/dev/null 2>&1 && detach=setsid
    # shellcheck disable=SC2086 # $mode and $detach are empty or one word
    $detach nohup "$venv/bin/photomapd" --data-dir "$data_dir" run $mode ${folder:+"$folder"} \
        </dev/null >>"$data_dir/logs/daemon-start.log" 2>&1 &
    echo $! >"$pid_file"
    say "starting the daemon (log: $data_dir/logs)"
    # One small Python polls /api/status until the daemon answers, exits or 2 minutes pass.
    url=$("$venv/bin/python" - "$data_dir" "$(cat "$pid_file")" <<'EOF'
import json, os, sys, time, urllib.request
from pathlib import Path
from photomapd.config import load_config
config = load_config(Path(sys.argv[1]))
host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
started = time.monotonic()
while time.monotonic() < started + 120:
    try:
        os.kill(int(sys.argv[2]), 0)
    except OSError:
        sys.exit("exited")
    try:
        with urllib.request.urlopen(f"http://{host}:{config.port}/api/status", timeout=2) as r:
            status = json.load(r)
        # Only the daemon just started counts, not another one holding the port.
        if status["uptime_seconds"] <= time.monotonic() - started + 5:
            print(status["url"])
            sys.exit(0)
    except (OSError, ValueError, KeyError):
        pass
    time.sleep(0.3)
sys.exit("timeout")
EOF
) || die "the daemon did not start; see $data_dir/logs/daemon-start.log"
    say "photomapd is running: open $url"
elif ! service_runs_this_folder; then
    say "installed; start it with: $link run"
fi
say "uninstall with: sh $script_dir/uninstall.sh (add --purge to delete the index and settings)"
