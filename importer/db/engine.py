"""Engines for the two supported databases, with the settings each needs to be fast and safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import SQLModel

from importer.db.faults import translate_errors
from importer.db.ledger import ImportJob, RowChange
from importer.db.remote_files import RemoteFile
from importer.exceptions import ConfigError
from importer.feeds import FEEDS

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32 * 1024
"""the page cache lives in the importer's own memory, so it counts against its bound"""


def make_engine(url: str) -> Engine:
    """``postgresql://`` means psycopg 3; a SQLite file's folder is created if missing."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database.url: not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "postgresql":
        return translate_errors(
            create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
        )
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return translate_errors(engine)
    raise ConfigError(
        f"database.url: backend {parsed.get_backend_name()!r} is not supported; "
        "use sqlite:///path or postgresql://..."
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the file moves to done/. NORMAL would leave the last loads
    # to the next checkpoint, so a power cut could lose rows whose file says done; it costs one
    # fsync per commit, and big loads pay a checkpoint's anyway.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take the write lock up front, so a busy database waits instead of failing mid-file."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


SCHEMA_LOCK_KEY = 0x1A9_5C4E


def create_schema(bind: Engine | Connection) -> None:
    """Create every missing table; existing tables and their rows are left as they are.

    Daemons starting together on one PostgreSQL take turns, so none trips over another's tables.
    """
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            create_schema(connection)
        return
    if bind.dialect.name == "postgresql":
        bind.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    tables = [ImportJob, RowChange, RemoteFile, *(spec.model for spec in FEEDS.values())]
    SQLModel.metadata.create_all(bind, tables=[t.__table__ for t in tables])  # type: ignore[attr-defined]
    if bind.dialect.name == "postgresql":
        _add_load_time_defaults(bind)


def _add_load_time_defaults(connection: Connection) -> None:
    """Tables made before ``created_at``/``updated_at`` defaulted to ``now()`` get the default:
    first loads leave both to it instead of sending and parsing two timestamps a row."""
    missing = connection.execute(
        text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name IN :tables "
            "AND column_name IN ('created_at', 'updated_at') AND column_default IS NULL"
        ).bindparams(bindparam("tables", expanding=True)),
        {"tables": [spec.table_name for spec in FEEDS.values()]},
    ).all()
    for table, column in missing:
        connection.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT now()")
