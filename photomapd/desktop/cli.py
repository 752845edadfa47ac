"""`photomapd autostart ...` and `photomapd service ...`: the desktop-integration subcommands.

cli.py calls `add_subcommands(subparsers)`; each leaf parser sets `handler(args, config)`,
which returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from photomapd.desktop.autostart import autostart_for_platform
from photomapd.desktop.executable import ExecutableNotFound, resolve_command
from photomapd.desktop.service import ServiceError, service_for_platform

if TYPE_CHECKING:
    from photomapd.config import Config


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    autostart = subparsers.add_parser("autostart", help="start photomapd when you log in")
    autostart_actions = autostart.add_subparsers(dest="autostart_action", required=True)
    for action, help_text in (
        ("enable", "add the login item (idempotent)"),
        ("disable", "remove the login item"),
        ("status", "say whether the login item exists and what it runs"),
    ):
        parser = autostart_actions.add_parser(action, help=help_text)
        _add_executable_option(parser)
        parser.set_defaults(handler=handle_autostart)

    service = subparsers.add_parser("service", help="run photomapd as a user service")
    service_actions = service.add_subparsers(dest="service_action", required=True)
    for action, help_text in (
        ("install", "write the systemd user unit / launchd agent and start it"),
        ("uninstall", "stop the service and remove its file"),
        ("status", "say whether the service is installed and running"),
    ):
        parser = service_actions.add_parser(action, help=help_text)
        _add_executable_option(parser)
        parser.add_argument(
            "--logs-dir", type=Path, default=None, help="where launchd writes stdout/stderr"
        )
        parser.set_defaults(handler=handle_service)


def _add_executable_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executable",
        default=None,
        help="path of the installed photomapd to run (default: photomapd on PATH)",
    )


def handle_autostart(args: argparse.Namespace, config: Config | None = None) -> int:
    try:
        command = resolve_command(args.executable)
    except ExecutableNotFound as error:
        # status and disable only read or remove the existing entry.
        if args.autostart_action == "enable":
            print(f"photomapd: {error}", file=sys.stderr)
            return 1
        command = ["photomapd"]
    backend = autostart_for_platform(command)
    result = getattr(backend, args.autostart_action)()
    print(result.describe())
    return 0


def handle_service(args: argparse.Namespace, config: Config | None = None) -> int:
    default_logs = config.logs_dir if config else Path(platformdirs.user_log_dir("photomapd"))
    logs_dir = args.logs_dir or default_logs
    try:
        executable = resolve_command(args.executable)[0]
    except ExecutableNotFound as error:
        if args.service_action == "install":
            print(f"photomapd: {error}", file=sys.stderr)
            return 1
        executable = "photomapd"
    try:
        service = service_for_platform(executable, logs_dir)
        result = getattr(service, args.service_action)()
    except ServiceError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m photomapd.desktop.cli autostart|service ...`: the installer's entry point.

    Imports no model code, so it answers in a fraction of a second, unlike the full CLI.
    """
    parser = argparse.ArgumentParser(prog="photomapd")
    parser.add_argument(
        "--data-dir", help="data folder (default: PHOTOMAPD_DATA_DIR or the platform's)"
    )
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    from photomapd.config import ConfigError, load_config, resolve_data_dir

    try:
        config = load_config(resolve_data_dir(args.data_dir))
    except ConfigError as error:
        print(f"photomapd: {error}", file=sys.stderr)
        return 2
    return int(args.handler(args, config))


if __name__ == "__main__":
    sys.exit(main())
