"""Command line: run (tray or headless), stop and restart the daemon; index, search, status, albums.

Commands talk to a running daemon over its API when there is one, so changes take effect live;
otherwise they work on the data folder directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import photomapd
from photomapd.config import (
    AlbumConfig,
    AlbumError,
    ConfigError,
    key_from_name,
    load_config,
    port_number,
    resolve_data_dir,
    validate_album_key,
)
from photomapd.discovery import find_invokeai_root
from photomapd.lifecycle import DEFAULT_STOP_SECONDS
from photomapd.relaunch import DEFAULT_START_SECONDS

if TYPE_CHECKING:
    from types import ModuleType

    from photomapd.config import (
        Config,
    )

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photomapd", description=__doc__.splitlines()[0])
    add_global_options(parser, default=None)
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="start the daemon (tray when a display exists)")
    run.add_argument("--headless", action="store_true", help="no tray icon")
    run.add_argument(
        "--host", help="address to bind (default 127.0.0.1; 0.0.0.0 = LAN mode, needs a token)"
    )
    run.add_argument("--port", type=_port_argument, help="port (default 8050)")
    run.add_argument(
        "--root", help="InvokeAI root folder (default: INVOKEAI_ROOT, then ~/invokeai)"
    )
    run.add_argument(
        "--token", help="access token for LAN mode (default: PHOTOMAPD_TOKEN, else generated)"
    )
    run.add_argument(
        "--polling", action="store_true", help="poll folders instead of native watching"
    )
    run.add_argument(
        "folders", nargs="*", help="folders to index (default: InvokeAI's outputs/images)"
    )

    index = commands.add_parser("index", help="index a folder once, with a progress bar, and exit")
    index.add_argument("folder")
    index.add_argument("--album", help="album key (default: from the folder name)")

    search = commands.add_parser("search", help="search by text")
    search.add_argument("text")
    search.add_argument("--negative", default="")
    search.add_argument("--album")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("status", help="show the running daemon's status")
    stop = commands.add_parser(
        "stop", help="stop the daemon of this data folder (found through its lock, not a port)"
    )
    stop.add_argument(
        "--timeout",
        type=_seconds_argument,
        default=DEFAULT_STOP_SECONDS,
        help=f"seconds to wait for the clean stop (default {DEFAULT_STOP_SECONDS:.0f})",
    )
    restart = commands.add_parser(
        "restart", help="stop the daemon of this data folder and start it the way it was started"
    )
    restart.add_argument(
        "--timeout",
        type=_seconds_argument,
        default=DEFAULT_START_SECONDS,
        help="seconds to wait for each step: the stop, the start, the first answer "
        f"(default {DEFAULT_START_SECONDS:.0f})",
    )

    albums = commands.add_parser("albums", help="list, add or remove albums")
    album_commands = albums.add_subparsers(dest="album_command", required=True)
    album_commands.add_parser("list")
    add = album_commands.add_parser("add")
    add.add_argument("name")
    add.add_argument("folders", nargs="*")
    add.add_argument(
        "--board",
        action="append",
        default=[],
        dest="boards",
        help="an InvokeAI board (name or id; repeat for more): the album holds its images",
    )
    add.add_argument("--key")
    add.add_argument("--exclude", action="append", default=[])
    remove = album_commands.add_parser("remove")
    remove.add_argument("key")

    try:
        from photomapd.desktop import cli as cli_desktop
    except ImportError:
        cli_desktop = None  # type: ignore[assignment]
    if cli_desktop is not None:
        cli_desktop.add_subcommands(commands)
    accept_global_options_after_commands(parser)
    return parser


def add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """`--data-dir`, `--verbose`, `--version`; `default` is SUPPRESS on a command's own copy,
    so that the copy leaves a value given before the command alone."""
    parser.add_argument("--version", action="version", version=f"photomapd {photomapd.__version__}")
    parser.add_argument(
        "--data-dir",
        default=default,
        help="config, database, index and cache folder "
        "(default: PHOTOMAPD_DATA_DIR or the platform's user data folder)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if default is None else default,
        help="debug logging",
    )


def accept_global_options_after_commands(parser: argparse.ArgumentParser) -> None:
    """Users type `photomapd run --data-dir DIR`: every command, at every level, takes the
    global options too (argparse otherwise takes them only before the command)."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command in action.choices.values():
            if "--data-dir" not in command._option_string_actions:
                add_global_options(command, default=argparse.SUPPRESS)
            accept_global_options_after_commands(command)


def _seconds_argument(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {text!r}")
    return seconds


def _port_argument(text: str) -> int:
    try:
        return port_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def setup_logging(config: Config | None, verbose: bool) -> None:
    # Under the windowless launcher (photomapdw.exe) there is no stderr; the file log remains.
    handlers: list[logging.Handler] = [logging.StreamHandler()] if sys.stderr else []
    if config is not None:
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                config.logs_dir / "photomapd.log",
                maxBytes=5_000_000,
                backupCount=3,
                encoding="utf-8",
                errors="backslashreplace",  # a file name that is not UTF-8 must not lose the line
            )
        )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    for noisy in ("PIL", "watchdog", "urllib3", "asyncio", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "run"])
    try:
        config = load_config(resolve_data_dir(args.data_dir))
    except ConfigError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 2
    handler = getattr(args, "handler", None)
    if handler is not None:  # subcommands added by cli_desktop carry their own handler
        return int(handler(args, config) or 0)
    commands = {
        "run": command_run,
        "index": command_index,
        "search": command_search,
        "status": command_status,
        "stop": command_stop,
        "restart": command_restart,
        "albums": command_albums,
    }
    try:
        return commands[args.command](args, config)
    except KeyboardInterrupt:
        return 130


# --- run -----------------------------------------------------------------------------------


def command_run(args: argparse.Namespace, config: Config) -> int:
    from photomapd.api.security import is_lan_mode
    from photomapd.daemon import Daemon, StartupError

    if args.host:
        config.host = args.host
    if args.port is not None:
        config.port = args.port
    if args.token:
        config.token = args.token
    setup_logging(config, args.verbose)
    if is_lan_mode(config.host) and not config.token:
        import secrets

        config.token = secrets.token_urlsafe(24)
        log.warning("LAN mode: open http://<this machine>:%d/?token=%s", config.port, config.token)
    try:
        ensure_default_albums(config, args.folders, args.root)
    except AlbumError as error:
        print(f"photomapd: {error.message}", file=sys.stderr)
        return 2
    tray = None if args.headless else _tray_module()

    def make_daemon() -> Daemon:
        return Daemon(config, force_polling=args.polling)

    try:
        if tray is not None:
            available, reason = tray.tray_available()
            if available:
                return int(tray.run_with_tray(make_daemon))
            log.info("no tray (%s); running headless", reason)
        asyncio.run(make_daemon().run_until_stopped())
    except StartupError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    return 0


def _tray_module() -> ModuleType | None:
    """pystray is optional (the `tray` extra) and fails to import without a display."""
    try:
        from photomapd.desktop import tray
    except ImportError:
        return None
    return tray


def ensure_default_albums(config: Config, folders: list[str], root: str | None) -> None:
    """Folders from the command line become albums; with none, InvokeAI's images folder does."""
    changed = False
    known = {folder for album in config.albums for folder in album.folders}
    for folder in folders:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise AlbumError(
                "folder_missing",
                f"folder {folder} does not exist or is not a folder; check the path (and that "
                "its drive is mounted)",
            )
        if path in known:
            continue
        key = config.unique_key(key_from_name(path.name))
        config.albums.append(AlbumConfig(key, path.name, [path]))
        changed = True
    if config.invokeai_root is None or root:
        # Known even when albums exist already: boards and intermediates come from its DB.
        located = find_invokeai_root(root)
        if located is not None and located.root != config.invokeai_root:
            config.invokeai_root = located.root
            changed = True
    if not config.albums:
        found = find_invokeai_root(root)
        if found is None:
            log.warning(
                "no InvokeAI root found (--root, INVOKEAI_ROOT, ~/invokeai); add a folder "
                "with `photomapd albums add NAME FOLDER` or in the UI"
            )
        elif not found.images_dir.is_dir():
            log.warning(
                "InvokeAI root %s has no %s yet; it is added once it exists",
                found.root,
                found.images_dir,
            )
        else:
            config.albums.append(AlbumConfig("invokeai", "InvokeAI", [found.images_dir]))
            config.invokeai_root = found.root
            log.info(
                "indexing InvokeAI images in %s (root found by %s)",
                found.images_dir,
                found.how_found,
            )
            changed = True
    if changed:
        config.save()


# --- talking to a running daemon -----------------------------------------------------------


def api_call(
    config: Config, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30
) -> Any:
    """Raises ConnectionError when no daemon answers."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://{host}:{config.port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if config.token:
        request.add_header("Authorization", f"Bearer {config.token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            raise NotPhotomapdError(_not_photomapd(config, f"HTTP {error.code}")) from error
        raise RuntimeError(message) from error
    except (urllib.error.URLError, OSError) as error:
        raise ConnectionError(str(error)) from error
    try:
        return json.loads(raw or b"null")
    except ValueError as error:
        raise NotPhotomapdError(_not_photomapd(config, "an answer that is not JSON")) from error


class NotPhotomapdError(ConnectionError):
    """Something answers on the configured port, but it is not photomapd."""


def _not_photomapd(config: Config, what: str) -> str:
    return (
        f"another program answers on port {config.port} ({what}), not photomapd; start "
        "photomapd with --port N, or set PHOTOMAPD_PORT (or server.port in config.toml) to the "
        "port photomapd uses"
    )


def command_status(args: argparse.Namespace, config: Config) -> int:
    try:
        status = api_call(config, "GET", "/api/status", timeout=5)
    except ConnectionError as error:
        print(f"photomapd is not running on port {config.port} (data folder: {config.data_dir})")
        if isinstance(error, NotPhotomapdError):
            print(error)
        return 1
    except RuntimeError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    model, indexing = status["model"], status["indexing"]
    print(f"photomapd {status['version']} at {status['url']} — {status['total_images']} images")
    print(
        f"model: {model['name']} ({model['state']}{': ' + model['error'] if model['error'] else ''})"
    )
    print(
        f"indexing: {indexing['queued']} queued, {indexing['done']} done, {indexing['failed']} failed"
        f"{' (paused)' if indexing['paused'] else ''}"
    )
    for album in status["albums"]:
        problem = f" — {album['problem']}" if album.get("problem") else ""
        print(f"  {album['key']}: {album['count']} images, {album['failed']} failed{problem}")
    return 0


def command_stop(args: argparse.Namespace, config: Config) -> int:
    from photomapd.lifecycle import StopError, running_pid, stop_daemon

    try:
        pid = running_pid(config.data_dir)
        if pid is None:
            print(f"photomapd is not running (data folder: {config.data_dir})")
            return 1
        print(f"stopping photomapd (pid {pid})…", flush=True)
        stop_daemon(config.data_dir, pid, args.timeout)
    except StopError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    print(f"photomapd stopped (pid {pid}, data folder: {config.data_dir})")
    return 0


def command_restart(args: argparse.Namespace, config: Config) -> int:
    from photomapd.lifecycle import StopError
    from photomapd.relaunch import RelaunchError, restart_daemon

    try:
        restarted = restart_daemon(
            config, build_parser(), lambda line: print(line, flush=True), args.timeout
        )
    except (StopError, RelaunchError) as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    done = "restarted" if restarted.old_pid else "started"
    where = f", serving {restarted.url}" if restarted.url else ""
    print(f"photomapd {done}: pid {restarted.new_pid}{where}")
    return 0


def command_albums(args: argparse.Namespace, config: Config) -> int:
    if args.album_command == "add" and bool(args.folders) == bool(args.boards):
        print(
            "photomapd: give the album folders, or one or more --board BOARD, not both",
            file=sys.stderr,
        )
        return 2
    try:
        return _albums_via_api(args, config)
    except ConnectionError:
        return asyncio.run(_albums_offline(args, config))
    except RuntimeError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1


def _albums_via_api(args: argparse.Namespace, config: Config) -> int:
    if args.album_command == "list":
        for album in api_call(config, "GET", "/api/albums", timeout=5)["albums"]:
            folders = ", ".join(
                f["path"] + ("" if f["exists"] else " (missing)") for f in album["folders"]
            )
            print(f"{album['key']}\t{album['name']}\t{album['count']} images\t{folders}")
    elif args.album_command == "add":
        chosen = [str(Path(folder).expanduser().resolve()) for folder in args.folders]
        body = {"name": args.name, "folders": chosen, "key": args.key, "exclude": args.exclude}
        if args.boards:
            body["boards"] = args.boards
        album = api_call(config, "POST", "/api/albums", body)
        print(f"added album {album['key']}; indexing started")
    else:
        api_call(config, "DELETE", f"/api/albums/{quote(args.key, safe='')}")
        print(f"removed album {args.key}")
    return 0


async def _albums_offline(args: argparse.Namespace, config: Config) -> int:
    if args.album_command == "list":
        for album in config.albums:
            print(f"{album.key}\t{album.name}\t{', '.join(map(str, album.folders))}")
        if not config.albums:
            print(
                "photomapd: no albums yet; add one with `photomapd albums add NAME FOLDER`",
                file=sys.stderr,
            )
        return 0
    if args.album_command == "add":
        key = args.key or config.unique_key(key_from_name(args.name))
        try:
            validate_album_key(key)
        except ConfigError as error:
            print(f"photomapd: {error}", file=sys.stderr)
            return 1
        if args.boards:
            return _add_board_album_offline(args, config, key)
        folders = [Path(folder).expanduser().resolve() for folder in args.folders]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            print(f"photomapd: folder does not exist: {', '.join(missing)}", file=sys.stderr)
            return 1
        if config.album(key):
            print(f"photomapd: an album with key {key!r} already exists", file=sys.stderr)
            return 1
        config.albums.append(AlbumConfig(key, args.name, folders, list(args.exclude)))
        config.save()
        print(f"added album {key}; it is indexed when the daemon starts")
        return 0
    removed = config.album(args.key)
    if removed is None:
        print(f"photomapd: no album {args.key!r}", file=sys.stderr)
        return 1
    config.albums.remove(removed)
    config.save()
    print(f"removed album {args.key} (its index is dropped when the daemon next starts)")
    return 0


def _add_board_album_offline(args: argparse.Namespace, config: Config, key: str) -> int:
    from photomapd.invokeai.local_db import LocalDatabaseError
    from photomapd.invokeai.local_index import LocalIndex

    if config.invokeai_root is None:
        print(
            "photomapd: no InvokeAI root folder is known, so its boards cannot be read; start "
            "photomapd once with --root PATH (or set INVOKEAI_ROOT), or set invokeai_root in "
            f"{config.config_path}",
            file=sys.stderr,
        )
        return 1
    local = LocalIndex(Path(config.invokeai_root).expanduser().resolve())
    try:
        boards = local.resolve_boards(args.boards)
    except LocalDatabaseError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    if config.album(key):
        print(f"photomapd: an album with key {key!r} already exists", file=sys.stderr)
        return 1
    album = AlbumConfig(key, args.name, [local.images_dir.resolve()], list(args.exclude), boards)
    config.albums.append(album)
    config.save()
    print(f"added board album {key}; it is indexed when the daemon starts")
    return 0


# --- one-shot index and search ------------------------------------------------------------


def command_index(args: argparse.Namespace, config: Config) -> int:
    setup_logging(None, args.verbose)
    logging.getLogger().setLevel(logging.WARNING)
    folder = Path(args.folder).expanduser().resolve()
    if not folder.is_dir():
        print(
            f"photomapd: {args.folder} does not exist or is not a folder; give the folder "
            "that holds the images",
            file=sys.stderr,
        )
        return 1
    try:
        status = api_call(config, "GET", "/api/status", timeout=5)
    except ConnectionError:
        status = None
    except RuntimeError:  # photomapd answered, with an error (a LAN-mode token, say)
        status = {}
    if status is not None:
        # A second writer beside the daemon: its config would drop this album at its next save,
        # and its vector index would not see these images.
        print(
            f"photomapd: the daemon is running ({status.get('url') or config.port}) "
            "and indexes folders itself, live: add this one with `photomapd albums add NAME "
            f"{folder}`, or stop the daemon before `photomapd index`",
            file=sys.stderr,
        )
        return 1
    return asyncio.run(_index_once(config, folder, args.album))


async def _index_once(config: Config, folder: Path, key: str | None) -> int:
    from photomapd.daemon import Daemon
    from photomapd.one_shot import index_folder_once

    return await index_folder_once(Daemon(config), folder, key)


def command_search(args: argparse.Namespace, config: Config) -> int:
    from urllib.parse import urlencode

    query = urlencode(
        {
            "q": args.text,
            "negative": args.negative,
            "limit": args.limit,
            **({"album": args.album} if args.album else {}),
        }
    )
    try:
        results = api_call(config, "GET", f"/api/search?{query}", timeout=120)["results"]
    except ConnectionError:
        setup_logging(None, args.verbose)
        logging.getLogger().setLevel(logging.WARNING)
        from photomapd.one_shot import search_offline

        try:
            results = asyncio.run(
                search_offline(config, args.text, args.negative, args.album, args.limit)
            )
        except RuntimeError as error:
            print(f"photomapd: {error}", file=sys.stderr)
            return 1
    except RuntimeError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for hit in results:
            print(f"{hit['score']:.3f}\t{hit['image']['path']}")
        if not results:  # on stderr: stdout stays one result per line for scripts
            print(
                "photomapd: no matches; nothing indexed yet? `photomapd albums list` shows the "
                "albums and their counts",
                file=sys.stderr,
            )
    return 0
