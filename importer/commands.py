"""What each ``importer`` command does; :mod:`importer.cli` parses the arguments and calls in.

The modules a command alone needs (the daemon, the pipeline, the loader) are imported by that
command, so ``importer jobs`` and ``importer status`` start without them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger
from sqlalchemy import Engine

from importer.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from importer.clock import as_utc, utc_now
from importer.config import Settings, config_path
from importer.db import schema
from importer.db.engine import make_engine
from importer.db.ledger import ImportJob, JobFilter, JobStatus, Ledger
from importer.exceptions import DatabaseUnavailableError, TerminalError
from importer.logs import printable
from importer.partner_ids import check_partner_id
from importer.slots import lane_threads

if TYPE_CHECKING:
    from importer.inbox import Inbox
    from importer.lifecycle import Pipeline
    from importer.scanning import Candidate
    from importer.status import LaneStatus, SourceHolder


# What each command imports beyond the ledger, in its body so that the others start without it.
WORK_MODULES: dict[str, tuple[str, ...]] = {
    "run": ("importer.daemon",),
    "process": ("importer.dispatch", "importer.locks", "importer.scanning"),
    "retry": ("importer.lifecycle",),
    "validate": ("importer.attempt", "importer.loading", "importer.report", "importer.routing"),
    "status": ("importer.status",),
    "history": ("importer.feeds", "importer.history"),
    "feeds": ("importer.feed_docs", "importer.feeds"),
}


def import_work_modules(handler: str) -> None:
    """Import a command's modules ahead of it, while start-up keeps the collector off."""
    for name in WORK_MODULES.get(handler, ()):
        importlib.import_module(name)


@contextmanager
def _database(settings: Settings, wait: bool = False) -> Iterator[Engine]:
    """An engine on an up-to-date schema, closed again when the command is done.

    With ``wait`` (the daemon) an unreachable database is retried with backoff instead of failing.
    """
    with _engine(settings) as engine:
        pause = settings.daemon.poll_interval_s
        while True:
            try:
                _prepare_schema(engine, settings)
                break
            except DatabaseUnavailableError as exc:
                if not wait:
                    raise
                pause = min(pause * 2, settings.daemon.max_backoff_s)
                logger.warning("{}; trying again in {:.0f} s", exc, pause)
                time.sleep(pause)
        yield engine


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the database as it is (no schema check), closed again after use.

    Its pool keeps two connections per lane thread (a lane's lock and its load; as many threads as
    PostgreSQL runs, the most of either backend) and two for the daemon's own loop and pages.
    """
    threads = lane_threads(settings.daemon.workers, "postgresql")
    engine = make_engine(
        settings.database.url,
        connect_timeout_s=settings.database.connect_timeout_s,
        pool_size=2 * threads + 2,
    )
    try:
        yield engine
    finally:
        engine.dispose()


def _prepare_schema(engine: Engine, settings: Settings) -> None:
    found = schema.prepare(engine, auto_upgrade=settings.database.auto_upgrade)
    if found.standing != "current":
        logger.info("database schema upgraded from {} to {}", found.database or "empty", found.head)


@contextmanager
def _pipeline(settings: Settings) -> Iterator[Pipeline]:
    from importer.lifecycle import Pipeline

    with _database(settings) as engine:
        pipeline = Pipeline(settings, engine)
        pipeline.inbox.ensure()
        yield pipeline


def run(args: argparse.Namespace, settings: Settings) -> int:
    from importer.daemon import Daemon

    with _single_daemon(settings), _database(settings, wait=True) as engine:
        daemon = Daemon(config_path(args.config), settings, engine)
        daemon.install_signal_handlers()
        daemon.run()
    return EXIT_OK


@contextmanager
def _single_daemon(settings: Settings) -> Iterator[None]:
    from importer.locks import SingleDaemonLock

    lock = SingleDaemonLock(settings.database.url)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def process(args: argparse.Namespace, settings: Settings) -> int:
    from importer.dispatch import Dispatcher, reconcile
    from importer.locks import lane_locks_for
    from importer.scanning import waiting

    with _single_daemon(settings), _pipeline(settings) as pipeline:
        locks = lane_locks_for(pipeline.engine)
        try:
            work = (
                _named_files(pipeline.inbox, args.paths, args.partner)
                if args.paths
                else waiting(settings, pipeline.inbox)
            )
        except TerminalError as exc:
            print(f"importer: {exc}", file=sys.stderr)
            return EXIT_USAGE
        reconcile(pipeline, locks)
        dispatcher = Dispatcher(pipeline, locks, settings.daemon.workers, threading.Event())
        dispatcher.submit(work)
        dispatcher.drain()
        dispatcher.shutdown()
    if dispatcher.fatal is not None:
        raise dispatcher.fatal
    if dispatcher.fault is not None:
        logger.error("{}; the files are back in incoming/ for another attempt", dispatcher.fault)
        return EXIT_FAILED
    return EXIT_FAILED if dispatcher.failed_files else EXIT_OK


def _named_files(inbox: Inbox, paths: list[Path], partner: str | None) -> list[Candidate]:
    """Files already in ``incoming/<partner>/`` are taken there; others are copied in first."""
    from importer.scanning import Candidate

    files = [
        f
        for p in paths
        for f in (sorted(x for x in p.iterdir() if x.is_file()) if p.is_dir() else [p])
    ]
    work: list[Candidate] = []
    for file in files:
        if not file.is_file():
            raise TerminalError(f"{file}: no such file")
        owner = inbox.partner_of(file)
        if owner is not None:
            work.append(Candidate(owner, file, len(work), 0, require_marker=False))
        elif partner is None:
            raise TerminalError(
                f"{file} is outside {inbox.incoming}/<partner>/: name the partner with --partner"
            )
        else:
            delivered = inbox.deliver(file, check_partner_id(partner))
            work.append(Candidate(partner, delivered, len(work), 0, require_marker=False))
    return work


def retry(args: argparse.Namespace, settings: Settings) -> int:
    with _pipeline(settings) as pipeline:
        return _put_back(pipeline, args.id, force=args.force)


def _put_back(pipeline: Pipeline, job_id: int, *, force: bool) -> int:
    job = pipeline.ledger.get(job_id)
    if job is None:
        print(f"importer: no job {job_id}", file=sys.stderr)
        return EXIT_FAILED
    stored = Path(job.stored_path) if job.stored_path else None
    if job.status != JobStatus.FAILED or stored is None or not stored.is_file():
        print(
            f"importer: job {job_id} is {job.status}; only a FAILED job whose file is still in "
            "failed/ can be retried",
            file=sys.stderr,
        )
        return EXIT_FAILED
    target = pipeline.inbox.put_back(stored, job.partner_id, job.file_name)
    job.retried_at, job.retry_forced = utc_now(), force
    pipeline.ledger.update(job)
    forced = "; it passes the export guards" if force else ""
    print(
        f"job {job.id}: {job.file_name} is back in {target.parent}; its next job notes "
        f"retry_of={job.id}{forced}"
    )
    return EXIT_OK


def validate(args: argparse.Namespace, settings: Settings) -> int:
    with _database(settings) as engine:
        return _dry_run(args, settings, engine)


def _dry_run(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    from importer.attempt import FileAttempt
    from importer.loading import load_file
    from importer.problem_log import ProblemLog
    from importer.problems import problems_frame
    from importer.report import apply_counts, build_report
    from importer.routing import route

    partner_id = check_partner_id(args.partner)
    started = utc_now()
    job = ImportJob(partner_id=partner_id, file_name=args.file.name, source_path=str(args.file))
    job.started_at = started
    try:
        spec = route(args.file.name, settings, args.feed)
        job.feed = spec.name
        attempt = FileAttempt.plan(settings, job=job, path=args.file, spec=spec)
        result = load_file(attempt, engine)
    except TerminalError as exc:
        job.status, job.message, job.completed_at = JobStatus.FAILED, str(exc), utc_now()
        report = build_report(
            job,
            ProblemLog.of(problems_frame(exc.problems)),
            None,
            settings.reports.max_errors_listed,
        )
    else:
        job.status = JobStatus.FAILED if result.rejection else JobStatus.COMPLETED
        job.message, job.completed_at = result.rejection, utc_now()
        apply_counts(job, result)
        try:
            report = build_report(job, result.problems, result, settings.reports.max_errors_listed)
        finally:
            result.problems.close()
    report.job_id, report.dry_run = None, True
    if args.report:
        args.report.write_text(report.to_json(), encoding="utf-8")
    else:
        sys.stdout.write(report.to_json())
    print(
        f"{args.file.name}: {report.status} (dry run) rows={report.row_count} would insert "
        f"{report.inserted_count}, update {report.updated_count}, leave {report.unchanged_count}; "
        f"{report.failed_count} rows with errors"
        + (f"; {report.message}" if report.message else ""),
        file=sys.stderr,
    )
    return EXIT_FAILED if report.status == JobStatus.FAILED or report.failed_count else EXIT_OK


def jobs(args: argparse.Namespace, settings: Settings) -> int:
    wanted = JobFilter(
        status=args.status,
        partner_id=args.partner,
        feed=args.feed,
        file_glob=args.file,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    with _database(settings) as engine:
        jobs = Ledger(engine).jobs(wanted)
    print(
        f"{'id':>6}  {'status':<10} {'partner':<12} {'feed':<18} {'received':<20} "
        f"{'completed':<20} {'rows':>8} {'ins':>7} {'upd':>7} {'fail':>6}  file"
    )
    for job in jobs:
        print(
            f"{job.id:>6}  {job.status:<10} {job.partner_id:<12} {job.feed or '-':<18} "
            f"{_when(job.created_at):<20} {_when(job.completed_at):<20} {job.row_count:>8} "
            f"{job.inserted_count:>7} {job.updated_count:>7} {job.failed_count:>6}  {job.file_name}"
        )
    return EXIT_OK


def status(args: argparse.Namespace, settings: Settings) -> int:
    from importer.status import feed_status, source_holders

    with _database(settings) as engine:
        holders = source_holders(settings, engine)
        lanes = feed_status(settings, engine, utc_now(), holders)
    if args.json:
        print(json.dumps([lane.as_json() for lane in lanes], indent=2))
    else:
        print(
            f"{'partner':<12} {'feed':<18} {'health':<8} {'last file':<28} {'received':<20} "
            f"{'outcome':<10} {'rows':>8} {'files 7d':>8} {'failed':>6} {'errors':>7} "
            f"{'waiting':>7} {'in hand':>7}  {'expected':<16} dropped columns"
        )
        for lane in lanes:
            print(
                f"{lane.partner:<12} {lane.feed:<18} {lane.health:<8} {lane.last_file or '-':<28} "
                f"{_when(lane.last_received):<20} {lane.last_status or '-':<10} "
                f"{lane.last_rows if lane.last_rows is not None else '-':>8} "
                f"{lane.files_7d:>8} {lane.failed_files_7d:>6} {lane.error_rate_7d:>7.1%} "
                f"{lane.waiting:>7} {lane.in_hand:>7}  {lane.expected_by or '-':<16} "
                f"{', '.join(lane.dropped_columns) or '-'}"
            )
        _print_fleet(holders, lanes)
    return EXIT_OK if all(lane.healthy for lane in lanes) else EXIT_FAILED


def _print_fleet(holders: list[SourceHolder], lanes: list[LaneStatus]) -> None:
    """Which host polls each SFTP source, and which fetched files each host has in hand."""
    if holders:
        print(f"\n{'sftp source':<40} {'polled by':<24} until")
        now = utc_now()
        for holder in holders:
            lapsed = holder.until is not None and as_utc(holder.until) < now
            until = f"{_when(holder.until)}{' (lapsed)' if lapsed else ''}"
            print(f"{holder.source:<40} {holder.held_by or '-':<24} {until}")
    remote = [(lane, file) for lane in lanes for file in lane.remote_in_hand]
    if remote:
        print(f"\n{'fetched by':<24} {'partner':<12} {'feed':<18} {'state':<8} remote file")
        for lane, file in remote:
            print(
                f"{file.host or '-':<24} {lane.partner:<12} {lane.feed:<18} {file.state:<8} "
                f"{printable(file.remote_path)}"
            )


def _when(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def history(args: argparse.Namespace, settings: Settings) -> int:
    from importer.feeds import FEEDS
    from importer.history import row_history

    spec = FEEDS[args.feed]
    with _database(settings) as engine, engine.connect() as connection:
        changes = row_history(connection, spec, args.partner, args.key, args.since)
    if not changes:
        print(f"no recorded changes of {args.feed} {' '.join(args.key)} for {args.partner}")
        return EXIT_OK
    for change in changes:
        print(
            f"{_when(change.changed_at)}  {change.column}: {change.old} -> {change.new}  "
            f"(job {change.job_id}, {change.file_name or '-'})"
        )
    return EXIT_OK


def job(args: argparse.Namespace, settings: Settings) -> int:
    with _database(settings) as engine:
        ledger = Ledger(engine)
        job, changes = ledger.get(args.id), ledger.changes(args.id)
    if job is None:
        print(f"importer: no job {args.id}", file=sys.stderr)
        return EXIT_FAILED
    values = job.model_dump()
    for name in ImportJob.model_fields:
        print(f"{name:>16}: {values[name]}")
    print(f"{'file now':>16}: {_where(job.stored_path)}")
    for suffix in (".report.json", ".errors.csv"):
        report = f"{job.stored_path}{suffix}" if job.stored_path else None
        if report and Path(report).exists():
            print(f"{suffix.strip('.'):>16}: {report}")
    if changes:
        print("\nchanges:")
        for change in changes:
            print(
                f"  {change.table_name} {change.row_key} {change.column_name}: {change.old_value} -> {change.new_value}"
            )
    return EXIT_OK


def _where(stored_path: str | None) -> str:
    """Where the job's file is now; retention or an operator may have removed it since."""
    if not stored_path:
        return "-"
    return stored_path if Path(stored_path).exists() else f"{stored_path} (no longer there)"


def feeds(args: argparse.Namespace, settings: Settings) -> int:
    from importer.feed_docs import feeds_markdown
    from importer.feed_names import feed_patterns
    from importer.feeds import FEEDS

    if args.markdown:
        sys.stdout.write(feeds_markdown(settings))
        return EXIT_OK
    for name, patterns in feed_patterns(settings).items():
        spec = FEEDS[name]
        print(f"{name:<22} key={','.join(spec.key[1:]):<38} files={' '.join(patterns)}")
    return EXIT_OK


def db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 when the tables still differ from the code: no migration mends a hand-made change."""
    with _engine(settings) as engine:
        found = schema.upgrade(engine)
        drift = schema.differences(engine)
    if found.standing == "current":
        print(f"database schema already at {found.head}")
    else:
        print(f"database schema upgraded from {found.database or 'empty'} to {found.head}")
    for difference in drift:
        print(f"  differs from the code: {difference}")
    if drift:
        print(
            "the tables differ from the code, which no migration changes back: restore the "
            "database from a backup, or change them back by hand"
        )
    return EXIT_FAILED if drift else EXIT_OK


def db_status(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 unless the database is at head and its tables match the code."""
    with _engine(settings) as engine:
        found = schema.revision_of(engine)
        drift = schema.differences(engine) if found.standing == "current" else []
    print(found.describe())
    if found.standing != "current":
        print("run `importer db upgrade` (back the database up first)")
        return EXIT_FAILED
    for difference in drift:
        print(f"  differs from the code: {difference}")
    print("the tables differ from the code" if drift else "the tables match the code")
    return EXIT_FAILED if drift else EXIT_OK
