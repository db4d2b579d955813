"""Rows appended to one table batch after batch, with no Python object per value.

On PostgreSQL one ``COPY`` stays open across batches: the server parses a batch while the next one
is being prepared, instead of the two taking turns at every statement's end. While it is open the
connection can run nothing else, so a stream is a context manager that ends the ``COPY`` (or,
on an error, cancels it) before anything else happens on the connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Protocol, Self

import polars as pl
import psycopg
from sqlalchemy import Connection

SQLITE_KEY_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


class DuplicateKeyError(Exception):
    """Rows copied into a table repeat a key it already holds (or repeat one among themselves)."""


class RowStream(Protocol):
    def write(self, frame: pl.DataFrame) -> None:
        """Append ``frame``, whose columns are those the stream was opened with."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """End the stream; :class:`DuplicateKeyError` when the table's key refused a row."""
        ...


class SqliteRowStream:
    """executemany over driver-native values; the conversion itself is vectorized."""

    def __init__(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        self._connection = connection
        placeholders = ", ".join("?" * len(columns))
        self._insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"

    def write(self, frame: pl.DataFrame) -> None:
        native = frame.with_columns(
            _sqlite_native(name, dtype) for name, dtype in frame.schema.items()
        )
        cursor = self._connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self._insert, native.iter_rows())
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname in SQLITE_KEY_VIOLATIONS:
                raise DuplicateKeyError(str(exc)) from exc
            raise
        finally:
            cursor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Every batch was written when it came."""


class PostgresRowStream:
    """One ``COPY ... FROM STDIN`` in CSV form, written by Polars."""

    def __init__(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        self._scope = ExitStack()
        try:
            cursor = self._scope.enter_context(
                connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            )
            self._copy = self._scope.enter_context(
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)")
            )
        except BaseException:
            self._scope.close()
            raise

    def write(self, frame: pl.DataFrame) -> None:
        text = frame.with_columns(
            pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        ).write_csv(include_header=False, null_value="")
        self._copy.write(text.encode("utf-8"))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._scope.__exit__(exc_type, exc, traceback)
        except psycopg.errors.UniqueViolation as error:
            raise DuplicateKeyError(str(error)) from error


def _sqlite_native(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.Decimal):
        return column.cast(pl.String)
    if isinstance(dtype, pl.Datetime):
        return column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
    if isinstance(dtype, pl.Date):
        return column.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Boolean):
        return column.cast(pl.Int8)
    return column
