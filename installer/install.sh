#!/bin/sh
# Install (or upgrade in place) photomapd for the current user on Linux or macOS.
#
#   sh installer/install.sh [--source DIR] [--folder DIR] [--no-autostart] [--no-start]
#
# Creates an isolated environment in the user's data folder, links `photomapd` into
# ~/.local/bin, turns on start-at-login, starts the daemon and prints its URL.
# Everything placed outside the data folder is listed in <data folder>/install-manifest.txt,
# which installer/uninstall.sh reads to remove exactly that.
#
# Environment:
#   PHOTOMAPD_PYTHON        the Python (>= 3.11) to build the environment with
#   PHOTOMAPD_DATA_DIR      data folder (default: the platform's user data folder)
#   PHOTOMAPD_BIN_DIR       where the `photomapd` link goes (default: ~/.local/bin)
#   PHOTOMAPD_INSTALL_MIN_FREE_MB   free space required (default 6000 Linux, 3000 macOS)
#   PHOTOMAPD_INSTALL_NO_UV=1       use venv + pip even when uv is installed
#   PIP_* / UV_*            passed through to pip / uv (e.g. PIP_INDEX_URL for a CPU-only
#                           torch index: https://download.pytorch.org/whl/cpu)
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

while [ $# -gt 0 ]; do
    case "$1" in
        --source) [ $# -ge 2 ] || die "--source needs a folder"; source_dir=$2; shift 2 ;;
        --folder) [ $# -ge 2 ] || die "--folder needs a folder"; folder=$2; shift 2 ;;
        --no-autostart) autostart=0; shift ;;
        --no-start) start=0; shift ;;
        -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

find_python() {
    if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
        echo "$PHOTOMAPD_INSTALL_BASE_PYTHON"
        return
    fi
    if [ -n "${PHOTOMAPD_PYTHON:-}" ]; then
        echo "$PHOTOMAPD_PYTHON"
        return
    fi
    for candidate in python3.13 python3.12 python3.11 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return
        fi
    done
}

python=$(find_python)
if [ -z "$python" ]; then
    die "Python 3.11 or newer is needed, and no python3 was found on PATH.
  Install it (Debian/Ubuntu: sudo apt install python3 python3-venv; Fedora: sudo dnf install
  python3; macOS: brew install python@3.12, or the installer from python.org), then run this
  again, or point PHOTOMAPD_PYTHON at one."
fi
version=$(python_version "$python") || true
[ -n "$version" ] || die "$python does not run (set PHOTOMAPD_PYTHON to a working Python 3.11+)"
major=${version%%.*}
minor=${version#*.}
if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 11 ]; }; then
    die "photomapd needs Python 3.11 or newer, but $python is Python $version.
  Install a newer Python (Debian/Ubuntu: sudo apt install python3.11 python3.11-venv; macOS:
  brew install python@3.12) and run this again, or set PHOTOMAPD_PYTHON=/path/to/python3.12."
fi

# --- disk space -----------------------------------------------------------------------------
existing=$data_dir
while [ ! -d "$existing" ]; do existing=$(dirname -- "$existing"); done
if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ] || [ -x "$venv/bin/python" ]; then
    need_mb=500 # an upgrade, or packages reused from the base: no torch download
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

say "installing photomapd from $source_dir"
if [ "$use_uv" = 1 ]; then
    uv pip install --quiet --python "$venv/bin/python" --upgrade \
        --reinstall-package photomapd "$source_dir[tray]" || die "uv pip install failed (see above)"
else
    # pip always rebuilds a local folder, so an upgrade replaces photomapd's files even at the
    # same version; dependencies are fetched only when missing or too old (only-if-needed).
    venv_pip() {
        if [ -n "${PHOTOMAPD_INSTALL_BASE_PYTHON:-}" ]; then
            # The base's own pip serves the new environment (made --without-pip: ~15 s saved).
            "$python" -m pip --python "$venv/bin/python" "$@"
        else
            "$venv/bin/python" -m pip "$@"
        fi
    }
    venv_pip install --quiet --upgrade "$source_dir[tray]" \
        || die "pip install failed (see above). Behind a proxy or for another torch build,
  set PIP_INDEX_URL / PIP_EXTRA_INDEX_URL and run this again."
fi
[ -x "$venv/bin/photomapd" ] || die "the environment has no photomapd command after installing"
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
our_daemons() { # the pid file's, plus any started at login from this environment
    {
        [ -f "$pid_file" ] && cat "$pid_file"
        ps -eo pid=,args= 2>/dev/null \
            | awk -v py="$venv/bin/python" 'index($2, py) == 1 && /photomapd/ { print $1 }'
    } | sort -u
}

stop_previous() {
    for pid in $(our_daemons); do
        kill -0 "$pid" 2>/dev/null || continue
        ps -p "$pid" -o args= 2>/dev/null | grep -q photomapd || continue
        say "stopping the running photomapd (pid $pid) to start the new version"
        kill "$pid"
        waited=0
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
    done
    rm -f "$pid_file"
}

service_active() {
    [ "$os" = linux ] && command -v systemctl >/dev/null 2>&1 \
        && systemctl --user is-active --quiet photomapd.service 2>/dev/null
}

if [ "$start" = 1 ] && service_active; then
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
elif ! service_active; then
    say "installed; start it with: $link run"
fi
say "uninstall with: sh $script_dir/uninstall.sh (add --purge to delete the index and settings)"
