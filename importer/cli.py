"""The ``importer`` command. Exit codes: 0 all good, 1 a file failed or was invalid, 2 usage/config.

Only the argument parser is built here, from names that import nothing heavy, so ``--help`` and
``--version`` answer at once; the command itself runs in :mod:`importer.commands`.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from importer.clock import as_utc
from importer.feed_names import FEED_NAMES, JOB_STATUSES

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def program() -> int:
    """The installed command: :func:`main`, with the cyclic garbage collector kept out of the
    start-up and the exit.

    Importing SQLAlchemy, pydantic and Polars builds some hundred thousand objects and no garbage,
    and the collector's full sweeps of them made up a third of a short command's time: one while
    importing, one more as the interpreter exits. Everything built so far is frozen (never swept
    again) before the command runs, and again before the exit.
    """
    gc.disable()
    try:
        return main(before_command=_freeze_and_collect)
    finally:
        gc.freeze()


def _freeze_and_collect() -> None:
    gc.freeze()
    gc.enable()


def main(
    argv: Sequence[str] | None = None, before_command: Callable[[], None] | None = None
) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from loguru import logger  # after --help, which needs none of this

    from importer import commands
    from importer.config import load_settings
    from importer.exceptions import ConfigError, ImporterError, SchemaError
    from importer.logs import configure_logging

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"importer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.logging)
    commands.import_work_modules(args.handler)
    if before_command is not None:
        before_command()
    try:
        return int(getattr(commands, args.handler)(args, settings))
    except (ConfigError, SchemaError) as exc:
        print(f"importer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImporterError as exc:
        logger.error("{}", exc)
        return EXIT_FAILED


CONFIG_HELP = (
    "TOML file (default: $IMPORTER_CONFIG, else config/importer.toml, else "
    "/etc/importer/importer.toml); accepted before or after the command"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="importer", description=__doc__)
    parser.add_argument("--config", help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"importer {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    commands = _Commands(parser.add_subparsers(dest="command", required=True), common)

    _add_file_commands(commands)
    _add_ledger_commands(commands)
    feeds = commands.add_parser("feeds", help="describe the feeds partners can send")
    feeds.add_argument("--markdown", action="store_true", help="the full partner guide as Markdown")
    feeds.set_defaults(handler="feeds")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = _Commands(db.add_subparsers(dest="db_command", required=True), common)
    upgrade = db_commands.add_parser(
        "upgrade", help="run the schema migrations the database lacks (back it up first)"
    )
    upgrade.set_defaults(handler="db_upgrade")
    status = db_commands.add_parser(
        "status", help="the database's schema revision, the code's, and any difference"
    )
    status.set_defaults(handler="db_status")
    return parser


def _add_file_commands(commands: _Commands) -> None:
    """The commands that take files: the daemon, a one-off run, a dry run, a retry."""
    run = commands.add_parser("run", help="run as a daemon: process files as they arrive")
    run.set_defaults(handler="run")

    retry = commands.add_parser("retry", help="put a failed job's file back into incoming/")
    retry.add_argument("id", type=int, help="the FAILED job whose file goes back")
    retry.add_argument(
        "--force",
        action="store_true",
        help="its next load passes the export guards (a drop, a lost column or a change the "
        "partner really meant); recorded in the ledger",
    )
    retry.set_defaults(handler="retry")

    process = commands.add_parser(
        "process", help="process waiting files, or the named ones, then exit"
    )
    process.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: all of incoming/)"
    )
    process.add_argument("--partner", help="partner of files named outside incoming/<partner>/")
    process.set_defaults(handler="process")

    validate = commands.add_parser("validate", help="check a file without writing anything")
    validate.add_argument("file", type=Path, help="the file to check, anywhere on disk")
    validate.add_argument("--feed", help="feed name (default: from the file name)")
    validate.add_argument("--partner", default="validate", help="partner whose settings apply")
    validate.add_argument(
        "--report", type=Path, help="write the report JSON here (default: stdout)"
    )
    validate.set_defaults(handler="validate")


def _add_ledger_commands(commands: _Commands) -> None:
    """The commands that answer from the ledger: status, jobs, one job, one row's history."""
    status = commands.add_parser(
        "status",
        help="how every partner's feeds are doing; exit 1 when one is late or its last file failed",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per feed, for scripts")
    status.set_defaults(handler="status")

    jobs = commands.add_parser("jobs", help="list recent jobs, newest first")
    jobs.add_argument(
        "--status",
        choices=[s.lower() for s in JOB_STATUSES] + list(JOB_STATUSES),
        help="only jobs that ended so",
    )
    jobs.add_argument("--partner", help="only this partner's jobs")
    jobs.add_argument("--feed", help="only this feed's jobs")
    jobs.add_argument("--file", help="only files whose name matches this glob, e.g. 'orders_*'")
    jobs.add_argument("--since", type=_timestamp, help="received at or after (ISO date or time)")
    jobs.add_argument("--until", type=_timestamp, help="received before (ISO date or time)")
    jobs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    jobs.set_defaults(handler="jobs")

    job = commands.add_parser(
        "job", help="one job: its fields, where its file and reports are now, its first changes"
    )
    job.add_argument("id", type=int, help="the job id (importer jobs lists them)")
    job.set_defaults(handler="job")

    history = commands.add_parser(
        "history", help="what changed for one row: its recorded changes, oldest first"
    )
    history.add_argument("feed", choices=sorted(FEED_NAMES), help="the feed the row belongs to")
    history.add_argument("key", nargs="+", help="the row's key values, in the feed's key order")
    history.add_argument("--partner", required=True, help="the partner whose row it is")
    history.add_argument("--since", type=_timestamp, help="changes at or after this time")
    history.set_defaults(handler="history")


class _Commands:
    """Subcommands that all take ``--config`` after their name too."""

    def __init__(self, actions: Any, common: argparse.ArgumentParser) -> None:
        self._actions = actions
        self._common = common

    def add_parser(self, name: str, *, help: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._actions.add_parser(
            name, help=help, description=help, parents=[self._common]
        )
        return parser


def _version() -> str:
    try:
        return metadata.version("importer")
    except metadata.PackageNotFoundError:
        return "unknown"


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from exc
    return as_utc(value)
