"""Prometheus metrics, served on localhost when ``metrics.port`` is set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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


def serve(host: str, port: int) -> None:
    start_http_server(port, addr=host, registry=REGISTRY)
