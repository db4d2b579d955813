"""``importer run``: watch, wait for files to be complete, process them, repeat until stopped.

Start-up settles what a crash left in ``processing/``. Events wake the loop early; a periodic
rescan (APScheduler) finds what events missed and settles files orphaned by another daemon. A
transient fault pauses the scanning with a doubling backoff; the files stay where they are.
SIGTERM/SIGINT stop taking files and wait ``stop_timeout_s`` for those in hand; SIGHUP reloads
the configuration (all but the database and the inbox root, which need a restart).
"""

from __future__ import annotations

import signal
import threading
import time
from functools import partial
from pathlib import Path
from types import FrameType

from loguru import logger
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from importer import metrics
from importer.config import Settings, load_settings
from importer.dispatch import Dispatcher, lane_of, reconcile
from importer.exceptions import ConfigError, ImporterError, TransientError
from importer.lifecycle import Pipeline
from importer.locks import lane_locks_for
from importer.logs import configure_logging
from importer.notify import sd_notify, watchdog_interval_s
from importer.ordering import OrderBy, order_of
from importer.progress import in_progress
from importer.scanning import Candidate, waiting
from importer.schedules import start_scheduler
from importer.sftp_poller import SftpPoller
from importer.stability import StabilityGate
from importer.watcher import watch
from importer.web import server as web
from importer.web.server import StatusPages
from importer.worker_processes import WorkerProcesses, processes_for

RESTART_ONLY = ("database", "inbox", "metrics", "web")
"""settings a running daemon cannot change: its connections, its folders, its listening port"""
FIXED_AT_START = ("workers", "processes")
"""``daemon`` settings a running daemon cannot change: its slots and its worker processes"""


class Daemon:
    def __init__(self, config_path: Path, settings: Settings, engine: Engine) -> None:
        self.config_path = config_path
        self.settings = settings
        self.engine = engine
        self.pipeline = Pipeline(settings, engine)
        self.pipeline.inbox.ensure()
        self.locks = lane_locks_for(engine)
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._reload = threading.Event()
        self._reconcile_due = threading.Event()
        self.gate = StabilityGate()
        self._pollers: dict[str, SftpPoller] = {}
        self.dispatcher = Dispatcher(
            self.pipeline, self.locks, settings.daemon.workers, self.stopping, self.wake
        )
        count = processes_for(settings, engine.dialect.name)
        self.processes = WorkerProcesses(settings, count) if count else None
        if self.processes is not None:
            self.dispatcher.small_files = self.processes.process

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._request_reload)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info(
            "{} received: finishing files in hand, then stopping", signal.Signals(signum).name
        )
        self.stopping.set()
        self.wake.set()

    def _request_reload(self, _signum: int, _frame: FrameType | None) -> None:
        self._reload.set()
        self.wake.set()

    def _start_background(self) -> None:
        folders = [self.pipeline.inbox.incoming, *(s.path for s in self.settings.local_sources)]
        self._observer = watch(folders, self.wake, self.gate)
        self._pollers = {
            source.id: self._pollers[source.id]
            if source.id in self._pollers and self._pollers[source.id].source == source
            else SftpPoller(
                source,
                self.pipeline.inbox,
                self.engine,
                lanes=partial(self._lane_order, source.partner),
            )
            for source in self.settings.sftp_sources
        }
        self._scheduler = start_scheduler(
            self.settings,
            self.engine,
            self.wake,
            self._reconcile_due.set,
            list(self._pollers.values()),
        )

    def healthy(self) -> bool:
        """The database answers and the watcher runs."""
        if not self._observer.is_alive():
            return False
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (ImporterError, SQLAlchemyError):
            return False
        return True

    def _lane_order(self, partner_id: str, file_name: str) -> tuple[OrderBy, str | None]:
        """How the file's lane orders its files, and its feed."""
        lane = lane_of(self.pipeline, partner_id, file_name)
        return order_of(self.settings, *lane), lane[1]

    def _stop_background(self) -> None:
        self._scheduler.shutdown(wait=False)
        self._observer.stop()

    def run(self) -> None:
        self._reconcile_due.set()
        self._start_background()
        if self.settings.metrics.port:
            metrics.seed_last_success(self.engine)
            metrics.serve(self.settings.metrics.host, self.settings.metrics.port, self.healthy)
        if self.settings.web.port:
            pages = StatusPages(lambda: self.settings, self.engine)
            web.serve(self.settings.web.host, self.settings.web.port, pages)
        database = make_url(self.settings.database.url).render_as_string(hide_password=True)
        logger.info(
            "watching {} with {} lane thread(s), {} for large files, {} worker process(es) "
            "for small files; database {}",
            self.pipeline.inbox.incoming,
            self.dispatcher.threads,
            self.settings.daemon.workers,
            self.processes.count if self.processes is not None else 0,
            database,
        )
        sd_notify("READY=1", "STATUS=watching for files")
        try:
            self._loop()
            if self.dispatcher.fatal is not None:
                raise self.dispatcher.fatal
        finally:
            sd_notify("STOPPING=1")
            self._stop_background()
            if not self.dispatcher.drain(self.settings.daemon.stop_timeout_s):
                logger.warning("stop timeout: files still in hand are settled at the next start")
            self.dispatcher.shutdown()
            if self.processes is not None:
                self.processes.close()
            logger.info("stopped")

    def _loop(self) -> None:
        watchdog = watchdog_interval_s()
        backoff, paused_until = self.settings.daemon.poll_interval_s, 0.0
        while not self.stopping.is_set():
            self.wake.wait(min(self.settings.daemon.poll_interval_s, watchdog or float("inf")))
            self.wake.clear()
            if watchdog:
                sd_notify("WATCHDOG=1")
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            if self.stopping.is_set() or time.monotonic() < paused_until:
                continue
            fault = self._scan()
            if fault is None:
                backoff = self.settings.daemon.poll_interval_s
                continue
            backoff = min(backoff * 2, self.settings.daemon.max_backoff_s)
            paused_until = time.monotonic() + backoff
            logger.warning(
                "{}; files stay where they are, next attempt in {:.0f} s", fault, backoff
            )
            sd_notify(f"STATUS=waiting for the database: {fault}")

    def _scan(self) -> TransientError | None:
        try:
            if self._reconcile_due.is_set():
                reconcile(self.pipeline, self.locks)
                self._reconcile_due.clear()
            ready = self.ready()
        except TransientError as exc:
            return exc
        self.dispatcher.submit(ready)
        fault, self.dispatcher.fault = self.dispatcher.fault, None
        if fault is None:
            loading = in_progress()
            sd_notify(
                f"STATUS=watching; {len(ready)} file(s) ready{f'; {loading}' if loading else ''}"
            )
        return fault

    def ready(self) -> list[Candidate]:
        candidates = waiting(self.settings, self.pipeline.inbox)
        metrics.BACKLOG.set(len(candidates))
        self.gate.forget_missing(c.path for c in candidates)
        return [
            c
            for c in candidates
            if self.gate.ready(c.path, c.stable_seconds, c.require_marker, c.seen)
        ]

    def reload(self) -> None:
        """Apply a changed configuration file; the database, inbox root and metrics endpoint stay."""
        try:
            new = load_settings(self.config_path)
        except ConfigError as exc:
            logger.error("configuration not reloaded, the running one stays: {}", exc)
            return
        fixed = [
            name for name in RESTART_ONLY if getattr(new, name) != getattr(self.settings, name)
        ]
        if fixed:
            logger.warning("{} changed: restart importer to apply", ", ".join(fixed))
            new = new.model_copy(update={name: getattr(self.settings, name) for name in fixed})
        kept = {
            name: getattr(self.settings.daemon, name)
            for name in FIXED_AT_START
            if getattr(new.daemon, name) != getattr(self.settings.daemon, name)
        }
        if kept:
            logger.warning(
                "{} changed: restart importer to apply", ", ".join(f"daemon.{n}" for n in kept)
            )
            new = new.model_copy(update={"daemon": new.daemon.model_copy(update=kept)})
        self.settings = new
        self.pipeline.settings = new
        if self.processes is not None:
            self.processes.settings = new
        configure_logging(new.logging)
        self._stop_background()
        self._start_background()
        logger.info("configuration reloaded from {}", self.config_path)
