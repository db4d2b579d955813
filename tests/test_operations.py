"""Retention, expected-feed checks, retry and the SQLite single-daemon lock."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from importer import metrics
from importer.cli import main
from importer.config import ExpectedFeed, Settings
from importer.db.ledger import JobFilter, JobStatus, new_job
from importer.exceptions import ConfigError
from importer.lifecycle import Pipeline
from importer.locks import SingleDaemonLock
from importer.retention import purge_old_days
from importer.schedules import check_expected, start_scheduler
from tests.conftest import SettingsFactory, drop_file, process


def test_retention_removes_old_day_folders_only(tmp_path: Path) -> None:
    for outcome, day in (("done", "2026-01-01"), ("failed", "2026-01-02"), ("done", "2026-03-01")):
        folder = tmp_path / outcome / "acme" / day
        folder.mkdir(parents=True)
        (folder / "products.csv").write_text("x")
    (tmp_path / "done" / "acme" / "notes").mkdir()
    removed = purge_old_days(tmp_path, 30, date(2026, 3, 15))
    assert sorted(p.name for p in removed) == ["2026-01-01", "2026-01-02"]
    assert (tmp_path / "done" / "acme" / "2026-03-01" / "products.csv").exists()
    assert (tmp_path / "done" / "acme" / "notes").exists()
    assert purge_old_days(tmp_path, 0, date(2030, 1, 1)) == []


def test_expected_feed_missing_is_an_error_and_a_metric(
    pipeline: Pipeline, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    expected = ExpectedFeed(partner="acme", feed="products", by="07:00")
    missed = metrics.EXPECTED_MISSED.labels("acme", "products")
    before = missed._value.get()
    assert not check_expected(engine, expected)
    assert missed._value.get() == before + 1
    process(pipeline, "acme", "products.csv", "sku\nA1\n")
    assert check_expected(engine, expected)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert not check_expected(engine, expected, now=tomorrow)


def test_retry_puts_a_failed_file_back_and_links_the_next_job(
    pipeline: Pipeline, settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "importer.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n[inbox]\nroot = "{settings.inbox.root}"\n'
    )
    failed = process(pipeline, "acme", "inventory.csv", "sku,quantity_on_hand\nA1,5\n")
    assert main(["--config", str(config), "retry", str(failed.job_id)]) == 0
    back = pipeline.inbox.incoming / "acme" / "inventory.csv"
    assert back.exists() and not failed.path.exists()
    assert main(["--config", str(config), "retry", str(failed.job_id)]) == 1
    again = pipeline.process(back, "acme")
    assert again is not None
    assert json.loads(Path(f"{again.path}.report.json").read_text())["job_id"] == again.job_id
    job = pipeline.ledger.get(again.job_id)
    assert job is not None and job.retry_of == failed.job_id
    listed = pipeline.ledger.jobs(
        JobFilter(status="failed", since=datetime.now(UTC) - timedelta(minutes=5))
    )
    assert {j.id for j in listed} == {failed.job_id, again.job_id}
    assert (
        pipeline.ledger.jobs(
            JobFilter(status="failed", since=datetime.now(UTC) + timedelta(minutes=5))
        )
        == []
    )


def test_second_sqlite_daemon_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'importer.db'}"
    first, second = SingleDaemonLock(url), SingleDaemonLock(url)
    first.acquire()
    try:
        with pytest.raises(ConfigError, match="allows one daemon"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


def _cut_short(pipeline: Pipeline, partner: str, name: str) -> Path:
    """Claim the file in incoming/ as a load would, and leave it there as a crash would."""
    job = new_job(partner, name, name)
    pipeline.ledger.open_job(job)
    assert job.id is not None
    claimed = pipeline.inbox.claim(pipeline.inbox.incoming / partner / name, partner, job.id)
    job.status, job.stored_path = JobStatus.PROCESSING, str(claimed)
    job.started_at = datetime.now(UTC)
    pipeline.ledger.update(job)
    pipeline.recover(claimed, partner, job.id, name)
    return claimed


def test_a_file_whose_loads_keep_being_cut_short_waits_in_failed_until_retried(
    make_settings: SettingsFactory, engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(limits={"max_interruptions": 3})
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    content = "sku,name\nA1,One\n"
    incoming = drop_file(pipeline, "acme", "products.csv", content)
    process(pipeline, "acme", "products.csv", content.replace("One", "Uno"))
    drop_file(pipeline, "acme", "products.csv", content)
    for _ in range(2):
        _cut_short(pipeline, "acme", "products.csv")
        assert incoming.exists(), "an interruption puts the file back"
    _cut_short(pipeline, "acme", "products.csv")
    assert not incoming.exists()
    set_aside = [
        j for j in pipeline.ledger.jobs(JobFilter(status="failed")) if j.file_name == incoming.name
    ]
    assert len(set_aside) == 1 and set_aside[0].id is not None
    assert set_aside[0].stored_path is not None
    report = json.loads(Path(f"{set_aside[0].stored_path}.report.json").read_text())
    assert report["status"] == "FAILED" and "cut short 3 times" in report["message"]
    assert report["sha256"] == hashlib.sha256(content.encode()).hexdigest()

    config = tmp_path / "importer.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n[inbox]\nroot = "{settings.inbox.root}"\n'
    )
    assert main(["--config", str(config), "retry", str(set_aside[0].id)]) == 0
    _cut_short(pipeline, "acme", "products.csv")
    assert incoming.exists(), "a retry starts the count again"
    loaded = pipeline.process(incoming, "acme")
    assert loaded is not None and loaded.status == JobStatus.COMPLETED


def test_a_run_skipped_while_the_last_still_runs_is_not_a_warning(
    make_settings: SettingsFactory, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A rescan slower than its interval, as an SFTP poll can be: coalesced runs are expected."""
    caplog.set_level(logging.DEBUG, logger="apscheduler")
    settings = make_settings(daemon={"poll_interval_s": 0.2})
    rescans = threading.Event()

    def slow_rescan() -> None:
        rescans.set()
        time.sleep(0.7)

    scheduler = start_scheduler(settings, engine, threading.Event(), slow_rescan, [])
    try:
        assert rescans.wait(5)
        time.sleep(1.0)
    finally:
        scheduler.shutdown(wait=True)
    scheduled = [r for r in caplog.records if r.name.startswith("apscheduler")]
    assert any("skipped" in r.getMessage() for r in scheduled)
    assert [r.getMessage() for r in scheduled if r.levelno >= logging.WARNING] == []
