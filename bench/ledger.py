"""A year of history in the ledger before a scenario: a long-running daemon's ``import_jobs``.

The ledger is never pruned (it is the duplicate guard), so whatever a file or a command asks of
it must not grow with it. ``fill_ledger`` writes ``jobs`` finished jobs, 30 s apart and ending
now, across 20 partners (the small-file scenarios' ``p0``-``p9`` among them) and three feeds,
with the columns the scenarios' files fill, so that the export guards compare alike with alike.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from importer.db.engine import make_engine

PARTNERS = 20
SPACING_S = 30
FILLED = {
    "products": '["name", "price", "sku"]',
    "inventory": '["location_id", "quantity_on_hand", "sku"]',
    "customers": '["customer_id", "email"]',
}

_FILL = """
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :jobs)
INSERT INTO import_jobs (partner_id, feed, file_name, source_path, stored_path, sha256,
    size_bytes, status, row_count, processed_count, inserted_count, updated_count,
    unchanged_count, failed_count, deleted_count, created_at, started_at, completed_at,
    duration_ms, host, filled_columns, retry_forced)
SELECT 'p' || (n % {partners}), {feed}, 'history_' || n || '.csv', 'history_' || n || '.csv',
    'done/history_' || n || '.csv', {sha256}, 5000 + n % 1000,
    CASE WHEN n % 97 = 0 THEN 'FAILED' WHEN n % 89 = 0 THEN 'DUPLICATE' ELSE 'COMPLETED' END,
    100, 100, 1, 4, 95, 0, 0, {at}, {at}, {at}, 40, 'history', {filled}, {false}
FROM g
"""
_DIALECT = {
    "postgresql": {
        "sha256": "lpad(n::text, 64, '0')",
        "at": "now() - make_interval(secs => (:jobs - n) * {spacing})",
        "false": "false",
    },
    "sqlite": {
        "sha256": "printf('%064d', n)",
        "at": "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || ((:jobs - n) * {spacing}) || ' seconds')",
        "false": "0",
    },
}


def fill_ledger(url: str, config: Path, jobs: int) -> None:
    """Create the schema with ``importer db upgrade``, then write the history."""
    if jobs <= 0:
        return
    command = [sys.executable, "-m", "importer", "--config", str(config), "db", "upgrade"]
    subprocess.run(command, check=True, capture_output=True)
    engine = make_engine(url)
    write_history(engine, jobs)
    engine.dispose()


def write_history(engine: Engine, jobs: int, spacing_s: int = SPACING_S) -> None:
    """``jobs`` finished jobs ``spacing_s`` apart in one statement, then PostgreSQL's
    statistics, which autovacuum keeps (SQLite's ledger has none)."""
    turn = f"(n / {PARTNERS}) % {len(FILLED)}"
    feed, filled = _case(turn, list(FILLED)), _case(turn, list(FILLED.values()))
    parts = {k: v.format(spacing=spacing_s) for k, v in _DIALECT[engine.dialect.name].items()}
    statement = _FILL.format(partners=PARTNERS, feed=feed, filled=filled, **parts)
    with engine.begin() as connection:
        connection.execute(text(statement), {"jobs": jobs})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE import_jobs"))


def _case(selector: str, values: list[str]) -> str:
    arms = " ".join(f"WHEN {i} THEN '{value}'" for i, value in enumerate(values))
    return f"CASE {selector} {arms} END"
