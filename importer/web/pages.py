"""What each page shows, read from the ledger, the reports and the inbox; nothing here writes."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.types import DateTime, Integer, String

from importer.clock import as_utc
from importer.config import Settings
from importer.db.ledger import ImportJob, JobFilter, Ledger
from importer.status import LaneStatus, feed_status, source_holders
from importer.web.chart import Day

CHART_DAYS = 30


@dataclass(frozen=True)
class Grid:
    partners: list[str]
    feeds: list[str]
    cells: dict[tuple[str, str], LaneStatus]


def health(lane: LaneStatus | None) -> str:
    """A cell's colour: its lane's health, ``none`` where the partner has no such feed."""
    return "none" if lane is None else lane.health


def grid(settings: Settings, engine: Engine, now: datetime) -> Grid:
    lanes = feed_status(settings, engine, now, source_holders(settings, engine))
    cells = {(lane.partner, lane.feed): lane for lane in lanes}
    return Grid(
        partners=sorted({lane.partner for lane in lanes}),
        feeds=sorted({lane.feed for lane in lanes}),
        cells=cells,
    )


def recent_jobs(engine: Engine, partner_id: str) -> list[ImportJob]:
    return Ledger(engine).jobs(JobFilter(partner_id=partner_id, limit=100))


@dataclass(frozen=True)
class JobPage:
    job: ImportJob
    report: dict[str, Any] | None
    errors_csv: Path | None


def job_page(engine: Engine, job_id: int) -> JobPage | None:
    job = Ledger(engine).get(job_id)
    if job is None:
        return None
    stored = Path(job.stored_path) if job.stored_path else None
    report_path = Path(f"{stored}.report.json") if stored else None
    errors = Path(f"{stored}.errors.csv") if stored else None
    report = (
        json.loads(report_path.read_text(encoding="utf-8"))
        if report_path is not None and report_path.is_file()
        else None
    )
    return JobPage(job, report, errors if errors is not None and errors.is_file() else None)


def daily(engine: Engine, now: datetime) -> list[Day]:
    """Rows loaded and files failed on each of the last 30 days (UTC), today included."""
    first = (now - timedelta(days=CHART_DAYS - 1)).date()
    since = datetime.combine(first, time(), tzinfo=UTC)
    query = text(
        "SELECT created_at, status, processed_count FROM import_jobs WHERE created_at >= :since"
    ).columns(created_at=DateTime(timezone=True), status=String, processed_count=Integer)
    rows: dict[date, int] = defaultdict(int)
    failed: dict[date, int] = defaultdict(int)
    with engine.connect() as connection:
        for created, status, processed in connection.execute(query, {"since": since}):
            day = as_utc(created).date()
            if status == "COMPLETED":
                rows[day] += processed or 0
            elif status == "FAILED":
                failed[day] += 1
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    return [Day(day, rows[day], failed[day]) for day in days]
