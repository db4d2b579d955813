"""Prometheus metrics and a health check, served on localhost when ``metrics.port`` is set.

``/metrics`` for Prometheus; ``/healthz`` answers 200 only while the database answers and the
watcher runs, 503 otherwise (for a load balancer or a probe); any other path is 404. The
last-success gauge is seeded from the ledger at start, so a staleness alert does not fire because
the daemon restarted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import DateTime, Engine

from importer.clock import as_utc
from importer.db.lanes import latest_per_lane
from importer.http_answers import answer

TEXT = "text/plain; charset=utf-8"

REGISTRY = CollectorRegistry()

FILES = Counter(
    "importer_files",
    "Files finished, by outcome",
    ["partner", "feed", "outcome"],
    registry=REGISTRY,
)
ROWS = Counter(
    "importer_rows",
    "Rows by what happened to them",
    ["partner", "feed", "outcome"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "importer_last_success_timestamp_seconds",
    "When a file of this partner and feed last loaded",
    ["partner", "feed"],
    registry=REGISTRY,
)
BACKLOG = Gauge(
    "importer_backlog_files", "Files waiting in the inbox and sources", registry=REGISTRY
)
JOB_SECONDS = Histogram(
    "importer_job_duration_seconds",
    "Time from claim to filed away",
    ["feed"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
EXPECTED_MISSED = Counter(
    "importer_expected_feed_missed",
    "Expected feeds that had not arrived by their deadline",
    ["partner", "feed"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Tally:
    """What one finished file adds to the metrics: counted where the metrics are served, which
    for a file loaded in a worker process is not where it was loaded."""

    partner: str
    feed: str
    outcome: str
    rows: dict[str, int]
    """rows by what happened to them: inserted, updated, unchanged, failed"""
    seconds: float | None
    completed_at: float
    """when it finished, seconds since the epoch"""


def count(tally: Tally) -> None:
    FILES.labels(tally.partner, tally.feed, tally.outcome).inc()
    for outcome, rows in tally.rows.items():
        ROWS.labels(tally.partner, tally.feed, outcome).inc(rows)
    if tally.outcome == "COMPLETED":
        LAST_SUCCESS.labels(tally.partner, tally.feed).set(tally.completed_at)
    if tally.seconds is not None:
        JOB_SECONDS.labels(tally.feed).observe(tally.seconds)


def seed_last_success(engine: Engine) -> None:
    """Each lane's last completed load, from the ledger."""
    query = latest_per_lane("partner_id", "feed", "completed_at").columns(
        completed_at=DateTime(timezone=True)
    )
    with engine.connect() as connection:
        for partner, feed, completed in connection.execute(query, {"statuses": ["COMPLETED"]}):
            if feed is not None and completed is not None:
                LAST_SUCCESS.labels(partner, feed).set(as_utc(completed).timestamp())


def serve(host: str, port: int, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve in a thread of its own until the process ends (or ``shutdown()``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                answer(self, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok = healthy()
                answer(self, 200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", TEXT)
            else:
                answer(self, 404, b"not found\n", TEXT)

        def log_message(self, *_: object) -> None:
            """Requests are not logged: a scrape every few seconds is no news."""

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
