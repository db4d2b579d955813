"""The ledger is never pruned: what a file and ``importer status`` ask of it must not read more
of it as it grows. Each statement that names ``import_jobs`` is measured on a ledger that holds
a history of many jobs (the bench's, ``bench.run --ledger``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, text

from bench.ledger import PARTNERS, write_history
from importer.db.lanes import latest_per_lane
from importer.db.ledger import OUTCOMES
from importer.lifecycle import Pipeline
from importer.status import _WEEK, WINDOW
from tests.conftest import SettingsFactory, process

HISTORY = 60_000
"""3,000 jobs a partner: reading the partner's jobs, or the table, is far past the bounds"""
SPACING_S = 600
"""over a year of jobs, so that a week is a fiftieth of them"""
MOST_ROWS = 20
"""PostgreSQL: heap rows a statement may fetch from the ledger (a job's own row, a lane's top)"""
MOST_STEPS = 2_000
"""SQLite: virtual machine steps a statement may take (index probes and a job's row)"""


class LedgerReads:
    """The most any one statement naming ``import_jobs`` read, and which: on PostgreSQL the rows
    its scans fetched (from the transaction's own statistics), on SQLite the steps of its virtual
    machine, which a scan of the table multiplies."""

    def __init__(self, engine: Engine) -> None:
        self.postgres = engine.dialect.name == "postgresql"
        self.worst: tuple[int, str] = (0, "")
        self._before = 0
        self._steps = 0

    def start(self, raw: Any) -> None:
        if self.postgres:
            self._before = self._rows_read(raw)
        else:
            self._steps = 0
            raw.set_progress_handler(self._step, 100)

    def stop(self, raw: Any, statement: str) -> None:
        if self.postgres:
            used = self._rows_read(raw) - self._before
        else:
            raw.set_progress_handler(None, 100)
            used = self._steps * 100
        if "import_jobs" in statement and used > self.worst[0]:
            self.worst = (used, statement)

    def _step(self) -> int:
        self._steps += 1
        return 0

    @staticmethod
    def _rows_read(raw: Any) -> int:
        found = raw.execute(
            "SELECT COALESCE(SUM(seq_tup_read + COALESCE(idx_tup_fetch, 0)), 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'import_jobs'"
        ).fetchone()
        return int(found[0])

    @property
    def bound(self) -> int:
        return MOST_ROWS if self.postgres else MOST_STEPS


@contextmanager
def measured(engine: Engine) -> Iterator[LedgerReads]:
    reads = LedgerReads(engine)

    def before(conn: Any, cursor: Any, *_: Any) -> None:
        reads.start(cursor.connection if reads.postgres else conn.connection.driver_connection)

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        raw = cursor.connection if reads.postgres else conn.connection.driver_connection
        reads.stop(raw, statement)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@pytest.fixture
def ledger_pipeline(make_settings: SettingsFactory, engine: Engine) -> Pipeline:
    write_history(engine, HISTORY, SPACING_S)
    settings = make_settings(feeds={"products": {"on_dropped_column": "fail"}})
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    return pipeline


def test_a_file_reads_no_more_of_a_long_ledger_than_of_a_short_one(
    ledger_pipeline: Pipeline, engine: Engine
) -> None:
    partner = "p3"  # one of the history's partners, with thousands of jobs of its own
    catalog = "sku,name,price\nS1,Item 1,1.50\nS2,Item 2,2.50\n"
    with measured(engine) as reads:
        loaded = process(ledger_pipeline, partner, "products_1.csv", catalog)
        again = process(ledger_pipeline, partner, "products_2.csv", catalog)
        lost_name = process(ledger_pipeline, partner, "products_3.csv", "sku,price\nS1,1.75\n")
    assert (loaded.status, again.status, lost_name.status) == ("COMPLETED", "DUPLICATE", "FAILED")
    used, statement = reads.worst
    assert used <= reads.bound, f"{used} read by: {statement}"


def test_each_lanes_last_file_is_found_without_reading_every_job(
    ledger_pipeline: Pipeline, engine: Engine
) -> None:
    unrouted = process(ledger_pipeline, "p3", "no_such_feed.csv", "a,b\n1,2\n")
    assert unrouted.status == "FAILED"  # a lane without a feed
    statuses = {"statuses": [status.value for status in OUTCOMES]}
    every_job = text(
        "SELECT partner_id, feed, status FROM import_jobs WHERE id IN (SELECT MAX(id) "
        "FROM import_jobs WHERE status IN :statuses GROUP BY partner_id, feed)"
    ).bindparams(bindparam("statuses", expanding=True))
    with engine.connect() as connection:
        expected = sorted(connection.execute(every_job, statuses).all(), key=repr)
        with measured(engine) as reads:
            query = latest_per_lane("partner_id", "feed", "status")
            lanes = sorted(connection.execute(query, statuses).all(), key=repr)
    assert lanes == expected
    assert len(lanes) == PARTNERS * 3 + 1
    used, _ = reads.worst
    assert used <= reads.bound * len(lanes)


def test_the_last_week_is_read_without_the_weeks_before(
    ledger_pipeline: Pipeline, engine: Engine
) -> None:
    def read_since(since: datetime) -> tuple[int, int]:
        """The files counted since then, and what reading them cost."""
        parameters = {"since": since, "final": [status.value for status in OUTCOMES]}
        with measured(engine) as reads, engine.connect() as connection:
            files = sum(row.files for row in connection.execute(_WEEK, parameters))
        return files, reads.worst[0]

    week_files, week_cost = read_since(datetime.now(UTC) - WINDOW)
    all_files, all_cost = read_since(datetime(2000, 1, 1, tzinfo=UTC))
    assert 0 < week_files * 20 < all_files
    assert week_cost * 10 < all_cost
