#!/bin/sh
# Remove what installer/install.sh added, and nothing else.
#
#   sh installer/uninstall.sh [--purge]
#
# Stops the daemon, removes the login item, the service (if `photomapd service install` was
# used), the `photomapd` link and the environment. The index, thumbnails, settings and logs in
# the data folder stay unless --purge is given.

set -eu

say() { printf 'photomapd: %s\n' "$*"; }
die() {
    printf 'photomapd uninstall: error: %s\n' "$*" >&2
    exit 1
}

purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --purge) purge=1; shift ;;
        -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ -n "${HOME:-}" ] || die "HOME is not set"
case "$(uname -s)" in
    Darwin) default_data="$HOME/Library/Application Support/photomapd" ;;
    *) default_data="${XDG_DATA_HOME:-$HOME/.local/share}/photomapd" ;;
esac
data_dir=${PHOTOMAPD_DATA_DIR:-$default_data}
venv="$data_dir/venv"
manifest="$data_dir/install-manifest.txt"
pid_file="$data_dir/daemon.pid"

if [ ! -f "$manifest" ] && [ ! -d "$venv" ] && { [ "$purge" = 0 ] || [ ! -d "$data_dir" ]; }; then
    die "photomapd is not installed in $data_dir"
fi

# --- stop what runs -------------------------------------------------------------------------
if [ -x "$venv/bin/python" ]; then
    # Each is a no-op when absent; a missing systemctl/launchctl only means no service.
    desktop() { "$venv/bin/python" -m photomapd.desktop.cli --data-dir "$data_dir" "$@"; }
    desktop service uninstall >/dev/null 2>&1 || true
    desktop autostart disable || true
fi
# The pid file's daemon, plus any started at login from this environment.
pids=$({
    [ -f "$pid_file" ] && cat "$pid_file"
    ps -eo pid=,args= 2>/dev/null \
        | awk -v py="$venv/bin/python" 'index($2, py) == 1 && /photomapd/ { print $1 }'
} | sort -u)
for pid in $pids; do
    kill -0 "$pid" 2>/dev/null || continue
    ps -p "$pid" -o args= 2>/dev/null | grep -q photomapd || continue
    say "stopping photomapd (pid $pid)"
    kill "$pid"
    waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 60 ]; do
        sleep 0.5
        waited=$((waited + 1))
    done
done
rm -f "$pid_file"

# --- files outside the data folder, newest folders last in the manifest ---------------------
if [ -f "$manifest" ]; then
    while IFS=' ' read -r kind path; do
        case "$kind" in
            file)
                if [ -L "$path" ] && [ "$(readlink "$path")" = "$venv/bin/photomapd" ]; then
                    rm -f "$path" && say "removed $path"
                fi
                ;;
        esac
    done <"$manifest"
    # Folders the installer created go only if empty, innermost first.
    sed -n 's/^dir //p' "$manifest" | awk '{ lines[NR] = $0 } END { for (i = NR; i > 0; i--) print lines[i] }' \
        | while IFS= read -r dir; do
            rmdir "$dir" 2>/dev/null && say "removed empty folder $dir" || true
        done
fi

# --- the environment and the data folder ----------------------------------------------------
if [ -f "$venv/.photomapd-installer" ] || [ -x "$venv/bin/photomapd" ]; then
    rm -rf "$venv"
    say "removed the environment $venv"
fi
# Folders made above the data folder are removed along with it (--purge), so remember them.
data_parents=$(sed -n 's/^data-parent //p' "$manifest" 2>/dev/null || true)
if [ -n "$data_parents" ]; then
    grep '^data-parent ' "$manifest" >"$manifest.tmp" && mv "$manifest.tmp" "$manifest"
else
    rm -f "$manifest"
fi
if [ "$purge" = 1 ]; then
    rm -rf "$data_dir"
    say "removed the data folder $data_dir (index, thumbnails, settings, logs)"
    printf '%s\n' "$data_parents" | awk '{ l[NR] = $0 } END { for (i = NR; i > 0; i--) print l[i] }' \
        | while IFS= read -r dir; do
            [ -n "$dir" ] && rmdir "$dir" 2>/dev/null || true
        done
else
    say "kept your index, settings and logs in $data_dir (delete with --purge)"
fi
