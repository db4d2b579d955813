"""What the status page's chart and grid are built from, on both backends."""

from __future__ import annotations

import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from importer import http_answers
from importer.clock import utc_now
from importer.db.ledger import new_job
from importer.lifecycle import Pipeline
from importer.web.chart import daily_chart
from importer.web.pages import CHART_DAYS, daily, grid, health
from importer.web.server import StatusPages, serve
from tests.conftest import process


def test_the_chart_counts_todays_rows_and_failures(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products.csv", "sku,name\nA1,x\nA2,y\n")
    process(pipeline, "acme", "products_bad.csv", "name\nno sku\n")

    days = daily(engine, utc_now())

    assert len(days) == CHART_DAYS and days[-1].day == utc_now().date()
    assert (days[-1].rows, days[-1].failed_files) == (2, 1)
    assert sum(day.rows for day in days[:-1]) == 0
    svg = daily_chart(days)
    assert svg.count("<rect") == CHART_DAYS and svg.count("<circle") == 1


def test_the_chart_puts_each_job_on_its_own_utc_day(pipeline: Pipeline, engine: Engine) -> None:
    jobs = (
        (datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), "COMPLETED", 5),
        (datetime(2026, 3, 10, 0, 0, 1, tzinfo=UTC), "COMPLETED", 7),
        (datetime(2026, 3, 10, 1, 0, tzinfo=UTC), "FAILED", 0),
        (datetime(2026, 2, 8, 23, 0, tzinfo=UTC), "COMPLETED", 100),  # before the 30 days
    )
    for created, status, processed in jobs:
        job = new_job("acme", "products.csv", "products.csv", "products")
        job.created_at = created
        pipeline.ledger.open_job(job)
        job.status, job.processed_count = status, processed
        pipeline.ledger.update(job)

    days = {
        day.day: (day.rows, day.failed_files)
        for day in daily(engine, datetime(2026, 3, 10, 12, tzinfo=UTC))
    }

    assert (days[date(2026, 3, 9)], days[date(2026, 3, 10)]) == ((5, 0), (7, 1))
    assert min(days) == date(2026, 2, 9) and sum(rows for rows, _ in days.values()) == 12


def test_a_cell_is_failing_after_a_failed_file_and_ok_after_a_good_one(
    pipeline: Pipeline, engine: Engine
) -> None:
    process(pipeline, "acme", "products_bad.csv", "name\nno sku\n")
    failing = grid(pipeline.settings, engine, utc_now()).cells[("acme", "products")]
    process(pipeline, "acme", "products.csv", "sku,name\nA1,x\n")
    ok = grid(pipeline.settings, engine, utc_now()).cells[("acme", "products")]

    assert (health(failing), health(ok), health(None)) == ("failing", "ok", "none")


def test_a_cell_shows_the_columns_its_last_file_lacked(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products.csv", "sku,name,price\nA1,x,1\n")
    process(pipeline, "acme", "products_2.csv", "sku,name\nA1,x\n")
    lane = grid(pipeline.settings, engine, utc_now()).cells[("acme", "products")]
    _, body, _ = StatusPages(lambda: pipeline.settings, engine).answer("/")

    assert lane.dropped_columns == ["price"]
    assert 'class="small drift">lacks price<' in body.decode()


def test_errors_csv_is_streamed_from_its_file_never_read_whole(
    pipeline: Pipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An errors.csv can be larger than the file it is about (several problems a row)."""
    rows = "".join(f"A{n},x,not-a-price\n" for n in range(300))
    outcome = process(pipeline, "acme", "products.csv", "sku,name,price\n" + rows)
    with Path(f"{outcome.path}.errors.csv").open("rb") as handle:
        expected = handle.read()

    def whole(_path: Path) -> bytes:
        raise AssertionError("errors.csv read whole into memory")

    monkeypatch.setattr(http_answers, "STREAM_CHUNK_BYTES", 1000)
    monkeypatch.setattr(Path, "read_bytes", whole)
    server = serve("127.0.0.1", 0, StatusPages(lambda: pipeline.settings, engine))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jobs/{outcome.job_id}/errors.csv"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.headers["Content-Length"] == str(len(expected))
            assert answer.read() == expected
    finally:
        server.shutdown()
        server.server_close()
    assert len(expected) > 10_000
