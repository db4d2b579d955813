"""Rows appended to one table batch after batch, with no Python object per value.

On PostgreSQL one ``COPY`` stays open across batches (until one fills a column all before left
empty), and a helper thread sends each batch while the next one is formatted: the server parses
one batch while the client prepares the next, instead of the two taking turns. While it is open
the connection can run nothing else, so a stream is a context manager that ends the ``COPY`` (or,
on an error, cancels it) before anything else happens on the connection.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

import polars as pl
from sqlalchemy import Connection

from importer.clock import SQLITE_TIMESTAMP, sqlite_timestamp
from importer.db.faults import driver_cursor, driver_errors
from importer.exceptions import DuplicateKeyError
from importer.frames import columns, constant

POSTGRES_UNIQUE_VIOLATION = "23505"
"""the SQLSTATE of a repeated key (checked by code, so that SQLite never imports psycopg)"""
SQLITE_KEY_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})
COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
"""the characters COPY's text form gives a meaning, written so that each stands for itself"""

Constants = Mapping[str, int | str | datetime]
"""columns with one value for every row (the partner, the job, the load's time)"""


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
    """executemany over driver-native values; the conversion itself is vectorized.

    SQLite's cost is per value bound, so constants are written into the statement once and a
    batch's all-empty columns are left to their default (NULL) instead of bound row by row.
    """

    def __init__(self, connection: Connection, table: str, constants: Constants) -> None:
        self._connection = connection
        self._table = table
        self._constants = {name: _sqlite_literal(value) for name, value in constants.items()}

    def write(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        filled = [name for name in frame.columns if frame[name].null_count() < frame.height]
        native = frame.select(_sqlite_native(name, frame.schema[name]) for name in filled)
        names = ", ".join([*self._constants, *filled])
        values = ", ".join([*self._constants.values(), *("?" * len(filled))])
        insert = f"INSERT INTO {self._table} ({names}) VALUES ({values})"
        with driver_cursor(self._connection) as cursor:
            try:
                cursor.executemany(insert, native.iter_rows())
            except sqlite3.IntegrityError as exc:
                if exc.sqlite_errorname in SQLITE_KEY_VIOLATIONS:
                    raise DuplicateKeyError(str(exc)) from exc
                raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Every batch was written when it came."""


BACKGROUND_SEND_ROWS = 5_000
"""a smaller batch is sent at once: a thread to send it beside the next one's formatting costs
more (some 0.1 ms a stream) than it overlaps"""


class PostgresRowStream:
    """``COPY ... FROM STDIN`` in PostgreSQL's text form, written by Polars, of the columns filled
    so far.

    At most one batch waits to be sent while the next is formatted, so memory stays bounded. A
    column empty in every row so far is left out (to its default, NULL), so the server parses
    nothing for it; a later batch that fills it ends the ``COPY`` and starts one that includes it.
    """

    def __init__(self, connection: Connection, table: str, constants: Constants) -> None:
        self._table = table
        self._constants = constants
        self._columns: list[str] | None = None
        """those of the open ``COPY``, constants aside"""
        self._scope = ExitStack()
        self._copying = ExitStack()
        self._sending: Future[None] | None = None
        self._copy_text = _CopyText()
        self._sender: ThreadPoolExecutor | None = None
        try:
            self._cursor = self._scope.enter_context(driver_cursor(connection))
            self._scope.enter_context(self._copying)
            self._scope.push(self._finish_sending)
        except BaseException:
            self._scope.close()
            raise

    def write(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        filled = {name for name in frame.columns if frame[name].null_count() < frame.height}
        if self._columns is None or not filled <= set(self._columns):
            self._start_copy(
                [c for c in frame.columns if c in filled or c in (self._columns or ())]
            )
        assert self._columns is not None
        complete = columns(
            frame,
            self._columns,
            *(constant(k, v, frame.height) for k, v in self._constants.items()),
        )
        data = self._copy_text(complete)
        self._wait_sent()
        if frame.height < BACKGROUND_SEND_ROWS:
            with _key_violations():
                self._copy.write(data)
            return
        self._sending = self._background_sender().submit(self._copy.write, data)

    def _background_sender(self) -> ThreadPoolExecutor:
        """Started for the first large batch; on leaving, it waits for its send before the
        ``COPY`` ends (exit runs in reverse order of entry)."""
        if self._sender is None:
            self._sender = self._scope.enter_context(
                ThreadPoolExecutor(1, thread_name_prefix="copy")
            )
        return self._sender

    def _start_copy(self, columns: list[str]) -> None:
        """End the open ``COPY``, if any, and open one of ``columns`` and the constants."""
        self._wait_sent()
        with _key_violations():
            self._copying.close()
        self._columns = columns
        self._copy = self._copying.enter_context(
            self._cursor.copy(
                f"COPY {self._table} ({', '.join([*columns, *self._constants])}) FROM STDIN"
            )
        )

    def _wait_sent(self) -> None:
        """Let the batch being sent finish, raising what sending it raised."""
        sending, self._sending = self._sending, None
        if sending is not None:
            with _key_violations():
                sending.result()

    def _finish_sending(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """The last batch is sent before the ``COPY`` ends; a failure to send it cancels the
        ``COPY`` unless something else already failed (the executor then waits for the send)."""
        if exc is None:
            self._wait_sent()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with _key_violations():
            self._scope.__exit__(exc_type, exc, traceback)


class _CopyText:
    """PostgreSQL's own text form: tab-separated, ``\\N`` for NULL, backslash escapes. The server
    parses it faster than CSV (no quotes to track).

    Most values hold none of :data:`COPY_ESCAPES`, and searching every text column for them cost a
    small file 0.3 ms: so a batch is written as it is, and the written text tells whether some
    value held one. Once a batch did, the later ones are searched first, and only the columns
    that hold one are rewritten.
    """

    def __init__(self) -> None:
        self._searching = False

    def __call__(self, frame: pl.DataFrame) -> bytes:
        text = frame.with_columns(
            pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        )
        if not self._searching:
            data = _tab_separated(text)
            if _nothing_escaped(data, text):
                return data
            self._searching = True
        return _tab_separated(_escaped(text))


def _nothing_escaped(data: bytes, frame: pl.DataFrame) -> bool:
    """Whether ``data``, ``frame`` written unescaped, holds no value with one of
    :data:`COPY_ESCAPES`: then it has one tab between fields, one line break a row, and a
    backslash only in each NULL's ``\\N``."""
    nulls = sum(frame.null_count().row(0))
    return (
        data.count(b"\n") == frame.height
        and data.count(b"\t") == frame.height * (frame.width - 1)
        and data.count(b"\\") == nulls
        and b"\r" not in data
    )


def _escaped(frame: pl.DataFrame) -> pl.DataFrame:
    """The text columns that hold one of :data:`COPY_ESCAPES` rewritten so that each character
    stands for itself."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    special = frame.select(
        pl.col(name).str.contains_any(list(COPY_ESCAPES)).any() for name in strings
    )
    return frame.with_columns(
        pl.col(name).str.replace_many(COPY_ESCAPES)
        for name in strings
        if special.get_column(name).item()
    )


def _tab_separated(frame: pl.DataFrame) -> bytes:
    data = io.BytesIO()  # as bytes: text would be decoded and encoded again
    frame.write_csv(
        data, include_header=False, separator="\t", quote_style="never", null_value="\\N"
    )
    return data.getvalue()


@contextmanager
def _key_violations() -> Iterator[None]:
    """PostgreSQL's refusal of a repeated key, as the stream reports it; other faults as the
    database boundary translates them."""
    try:
        with driver_errors():
            yield
    except Exception as error:
        if getattr(error, "sqlstate", None) != POSTGRES_UNIQUE_VIOLATION:
            raise
        raise DuplicateKeyError(str(error)) from error


def _sqlite_literal(value: int | str | datetime) -> str:
    """A constant as SQL text; strings quoted the standard way (SQLite has no backslash escapes)."""
    if isinstance(value, datetime):
        value = sqlite_timestamp(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def _sqlite_native(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if isinstance(dtype, pl.Decimal):
        return column.cast(pl.String)
    if isinstance(dtype, pl.Datetime):
        return column.dt.convert_time_zone("UTC").dt.strftime(SQLITE_TIMESTAMP)
    if isinstance(dtype, pl.Date):
        return column.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Boolean):
        return column.cast(pl.Int8)
    return column
