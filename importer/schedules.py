"""Timed work (APScheduler): rescans, retention, and checks that expected feeds arrived."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger
from sqlalchemy import Engine

from importer import metrics
from importer.config import ExpectedFeed, Settings
from importer.db.ledger import Ledger
from importer.retention import purge_old_days
from importer.sftp_poller import SftpPoller

SCHEDULER_LOGGERS = ("apscheduler.scheduler", "apscheduler.executors.default")


class _CoalescedRuns(logging.Filter):
    """A run skipped while the last one still runs, or started late, is what ``max_instances=1``
    and ``coalesce`` ask for: an SFTP poll slower than its interval warned at every interval.
    Such lines are demoted to DEBUG; any other stays as it is."""

    EXPECTED = ("Execution of job", "Run time of job")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith(self.EXPECTED):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _quiet_coalesced_runs() -> None:
    for name in SCHEDULER_LOGGERS:
        named = logging.getLogger(name)
        if not any(isinstance(f, _CoalescedRuns) for f in named.filters):
            named.addFilter(_CoalescedRuns())


def check_expected(engine: Engine, expected: ExpectedFeed, now: datetime | None = None) -> bool:
    """Log an ERROR and count a miss when the feed has not arrived since midnight of its day."""
    zone = ZoneInfo(expected.timezone)
    current = (now or datetime.now(zone)).astimezone(zone)
    midnight = datetime.combine(current.date(), time(), tzinfo=zone)
    if Ledger(engine).arrived_since(expected.partner, expected.feed, midnight):
        return True
    metrics.EXPECTED_MISSED.labels(expected.partner, expected.feed).inc()
    logger.error(
        "expected feed missing: {} from {} had not arrived by {} {}",
        expected.feed,
        expected.partner,
        expected.by,
        expected.timezone,
    )
    return False


def start_scheduler(
    settings: Settings,
    engine: Engine,
    wake: threading.Event,
    on_rescan: Callable[[], None],
    pollers: list[SftpPoller],
) -> BackgroundScheduler:
    _quiet_coalesced_runs()
    scheduler = BackgroundScheduler(timezone="UTC")
    for poller in pollers:
        source = poller.source
        trigger = (
            CronTrigger.from_crontab(source.cron, timezone="UTC")
            if source.cron
            else IntervalTrigger(seconds=source.poll_interval_s)
        )
        scheduler.add_job(
            poller.poll,
            trigger,
            id=f"sftp-{source.id}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def rescan() -> None:
        on_rescan()
        wake.set()

    scheduler.add_job(
        rescan,
        IntervalTrigger(seconds=settings.daemon.poll_interval_s),
        id="rescan",
        max_instances=1,
        coalesce=True,
    )
    hour, minute = (int(part) for part in settings.retention.at.split(":"))
    scheduler.add_job(
        lambda: purge_old_days(settings.inbox.root, settings.retention.days, datetime.now().date()),
        CronTrigger(hour=hour, minute=minute),
        id="retention",
    )
    for index, expected in enumerate(settings.expected_feeds):
        hour, minute = (int(part) for part in expected.by.split(":"))
        scheduler.add_job(
            check_expected,
            CronTrigger(
                hour=hour, minute=minute, day_of_week=expected.days, timezone=expected.timezone
            ),
            args=(engine, expected),
            id=f"expected-{index}",
        )
    scheduler.start()
    return scheduler
