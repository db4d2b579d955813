"""The database boundary: the one place where a database library's errors become importer's own.

Everything that goes through SQLAlchemy is translated by the engine's ``handle_error`` hook
(:func:`translate_errors`); the paths that drive the database's own cursor for speed (COPY,
bulk fetches, executemany, a load's own statements) open it with :func:`driver_cursor`, which
translates the same way. Code above this layer sees
:class:`~importer.exceptions.DatabaseUnavailableError` for a database it cannot reach (retried
with backoff), :class:`~importer.exceptions.SchemaError` for tables that are not what the code
expects (the command stops), and never a library's exception class.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext

from importer.exceptions import DatabaseUnavailableError, ImporterError, SchemaError

POSTGRES_SCHEMA_CLASS = "42"
"""SQLSTATE class "syntax error or access rule violation": undefined tables and columns, ..."""
SQLITE_SCHEMA_FAULT = re.compile(
    r"^(no such (table|column|index)|table \S+ has no column named|"
    r"table \S+ has \d+ columns but|table \S+ already exists|"
    r"ON CONFLICT clause does not match)"
)
"""SQLite words these as an OperationalError, like a locked database"""


def importer_error(error: BaseException) -> ImporterError | None:
    """What a driver error means to importer; None for one that is a defect to report as such."""
    if _is_schema_fault(error):
        return SchemaError(
            f"the database schema does not match this release: {_first_line(error)}; "
            "`importer db status` lists the differences"
        )
    if _is_unavailable(error):
        return DatabaseUnavailableError(f"database unavailable: {_first_line(error)}")
    return None


def _is_schema_fault(error: BaseException) -> bool:
    driver = _psycopg()
    if driver is not None and isinstance(error, driver.Error):
        return str(getattr(error, "sqlstate", None) or "").startswith(POSTGRES_SCHEMA_CLASS)
    return isinstance(error, sqlite3.OperationalError) and bool(
        SQLITE_SCHEMA_FAULT.match(str(error))
    )


def _is_unavailable(error: BaseException) -> bool:
    """A database that cannot be reached, is shutting down or is locked."""
    driver = _psycopg()
    return isinstance(error, sqlite3.OperationalError) or (
        driver is not None and isinstance(error, driver.OperationalError)
    )


def _psycopg() -> ModuleType | None:
    """psycopg when it is loaded: an error can only be one of its own once it is, and a command
    on SQLite then starts without importing it."""
    return sys.modules.get("psycopg")


def translate_errors(engine: Engine) -> Engine:
    """Have every statement and connection attempt of ``engine`` raise importer's errors."""
    event.listen(engine, "handle_error", _on_error)
    return engine


def _on_error(context: ExceptionContext) -> ImporterError | None:
    return importer_error(context.original_exception)


@contextmanager
def driver_cursor(connection: Connection) -> Iterator[Any]:
    """The driver's own cursor on ``connection``'s transaction, closed after use; its errors are
    translated like SQLAlchemy's."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with driver_errors():
            yield cursor
    finally:
        cursor.close()


@contextmanager
def driver_errors() -> Iterator[None]:
    """Translate errors of a driver object used directly (a COPY, a cursor)."""
    try:
        yield
    except Exception as exc:
        translated = importer_error(exc)
        if translated is None:
            raise
        raise translated from exc


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
