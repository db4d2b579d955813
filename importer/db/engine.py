"""Engines for the two supported databases, with the settings each needs to be fast and safe."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from importer.db.faults import translate_errors
from importer.exceptions import ConfigError

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_CONNECT_TIMEOUT_S = 10.0

DEFAULT_POOL_SIZE = 5
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 32 * 1024
"""the page cache lives in the importer's own memory, so it counts against its bound"""
PING_AFTER_IDLE_S = 1.0
"""a pooled PostgreSQL connection unused this long is tried with a round trip before it is lent"""
IDLE_SINCE = "importer_idle_since"


def make_engine(
    url: str,
    *,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> Engine:
    """``postgres://`` and ``postgresql://`` mean psycopg 3, giving up on a server that does not
    answer within ``connect_timeout_s``; a SQLite file's folder is created if missing.

    ``pool_size`` connections are kept open once used (more are opened for a moment when needed).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database.url: not a database URL: {exc}") from exc
    if parsed.get_backend_name() in POSTGRES_SCHEMES:
        engine = create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_size=pool_size,
            connect_args={"connect_timeout": math.ceil(connect_timeout_s)},
        )
        _ping_after_idle(engine)
        return translate_errors(engine)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_size=pool_size)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return translate_errors(engine)
    raise ConfigError(
        f"database.url: backend {parsed.get_backend_name()!r} is not supported; "
        "use sqlite:///path or postgresql://..."
    )


def _ping_after_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for a connection that sat unused: a small file checks out two
    connections in quick succession, and pinging both cost it 6 % of its CPU. A connection the
    server dropped less than ``PING_AFTER_IDLE_S`` ago fails its first statement instead, a
    transient fault like a drop in the middle of a load: the file goes back to ``incoming/`` and
    the pool is renewed."""

    def stamp(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool's own answer to this error: drop the connection and lend a new one.
            raise DisconnectionError(f"an idle connection was lost: {exc}") from exc

    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", ping)


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
    # Staging tables in a temporary file past a small cache, not in memory, where a file staged
    # whole (repeated keys send it the careful way) held every one of its rows.
    cursor.execute("PRAGMA temp_store=FILE")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """Take the write lock up front, so a busy database waits instead of failing mid-file."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")
