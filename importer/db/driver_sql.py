"""SQLAlchemy Core statements run on the driver's cursor, for the few every file sends.

Writing a file's job, reading its lane's latest load and settling its outcome each cost about
0.065 ms more CPU in SQLAlchemy's execution path (parameter processing, the execution context,
the result) than on the driver's cursor. Such a statement is compiled once for its dialect, and
its parameters go to the driver as SQLAlchemy would bind them; the engine's cursor events still
fire, so what listens to them (the tests of what each statement reads) sees these statements
too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.expression import Executable

from importer.clock import sqlite_value
from importer.db.faults import driver_cursor

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    defaults: dict[str, Any]
    """the statement's own values, a ``LIMIT``'s number"""
    order: tuple[str, ...] | None
    """the parameters in the order of SQLite's ``?``; None where they go by name"""


def run_statement(
    connection: Connection, statement: Executable, params: Mapping[str, object]
) -> Rows:
    """``statement``'s rows (none for one that returns nothing), run in ``connection``'s
    transaction."""
    compiled = _compiled(statement, connection.dialect)
    values = {**compiled.defaults, **params}
    bound: Any = values
    if compiled.order is not None:  # SQLite, whose times SQLAlchemy stores as text
        bound = tuple(sqlite_value(values[name]) for name in compiled.order)
    dispatch = connection.dispatch
    with driver_cursor(connection) as cursor:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, compiled.sql, bound, None, False)
        cursor.execute(compiled.sql, bound)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, compiled.sql, bound, None, False)
        return list(cursor.fetchall()) if cursor.description is not None else []


@lru_cache(maxsize=64)
def _compiled(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    own = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    order = compiled.positiontup
    return _Compiled(compiled.string, own, None if order is None else tuple(order))
