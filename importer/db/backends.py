"""What differs between SQLite and PostgreSQL when staging rows and comparing values."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

import polars as pl
import psycopg
from sqlalchemy import Connection

STAGING_ROW = "_row"
FETCH_CHUNK_ROWS = 100_000
SQLITE_ANALYSIS_ROWS = 1000
SQLITE_KEY_VIOLATIONS = frozenset({"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"})


class DuplicateKeyError(Exception):
    """Rows copied into a table repeat a key it already holds (or repeat one among themselves)."""


class Backend(Protocol):
    differs: str
    """null-safe inequality operator"""

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None: ...

    def copy_rows(self, connection: Connection, staging: str, frame: pl.DataFrame) -> None:
        """Append ``frame`` to a table; :class:`DuplicateKeyError` when its primary key refuses."""
        ...

    def key_json(self, columns: Sequence[str]) -> str: ...

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        """Refresh the planner's statistics of ``table`` (sampled, so cheap on big tables);
        of ``columns`` only where the database allows it, all columns when empty."""
        ...

    def fetch_text(
        self, connection: Connection, query: str, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Run ``query`` (bound parameters already inlined) and return its rows as text columns."""
        ...

    def fetch_integers(self, connection: Connection, column: str, source: str) -> pl.Series:
        """``column`` of ``SELECT ... {source}`` (a FROM/WHERE clause) as one Int64 series.

        The server joins the numbers into one string, so a million of them cost one round trip
        and no Python object each.
        """
        ...

    def as_text(self, expression: str) -> str: ...


class SqliteBackend:
    differs = "IS NOT"

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{staging}")
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {staging} AS SELECT {columns}, CAST(NULL AS INTEGER) AS "
            f"{STAGING_ROW} FROM {target} WHERE 0"
        )

    def copy_rows(self, connection: Connection, staging: str, frame: pl.DataFrame) -> None:
        """executemany over driver-native values; the conversion itself is vectorized."""
        native = frame.with_columns(
            _sqlite_native(name, dtype) for name, dtype in frame.schema.items()
        )
        placeholders = ", ".join("?" * native.width)
        names = ", ".join(native.columns)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(
                f"INSERT INTO {staging} ({names}) VALUES ({placeholders})", native.iter_rows()
            )
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname in SQLITE_KEY_VIOLATIONS:
                raise DuplicateKeyError(str(exc)) from exc
            raise
        finally:
            cursor.close()

    def key_json(self, columns: Sequence[str]) -> str:
        return f"json_array({', '.join(columns)})"

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_ROWS}")
        connection.exec_driver_sql(f"ANALYZE {table}")

    def fetch_text(
        self, connection: Connection, query: str, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Fetched in slices, each turned into a frame at once, so few Python rows live at a time."""
        schema = dict.fromkeys(columns, pl.String)
        frames = [pl.DataFrame(schema=schema)]
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(query)
            while rows := cursor.fetchmany(FETCH_CHUNK_ROWS):
                frames.append(pl.DataFrame(rows, schema=schema, orient="row"))
        finally:
            cursor.close()
        return pl.concat(frames, rechunk=True)

    def fetch_integers(self, connection: Connection, column: str, source: str) -> pl.Series:
        joined = connection.exec_driver_sql(f"SELECT group_concat({column}, ',') {source}")
        return _integers(column, joined.scalar())

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"


def _integers(name: str, joined: str | None) -> pl.Series:
    """Comma-joined integers from the server, split and parsed by Polars."""
    if not joined:
        return pl.Series(name, [], dtype=pl.Int64)
    parts = pl.Series(name, [joined]).str.split(",").explode()
    return parts.cast(pl.Int64)


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


class PostgresBackend:
    differs = "IS DISTINCT FROM"

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{staging}")
        connection.exec_driver_sql(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {columns}, "
            f"CAST(NULL AS BIGINT) AS {STAGING_ROW} FROM {target} WITH NO DATA"
        )

    def copy_rows(self, connection: Connection, staging: str, frame: pl.DataFrame) -> None:
        """COPY in CSV form, written by Polars: no Python object per value."""
        text = frame.with_columns(
            pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f+00")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        ).write_csv(include_header=False, null_value="")
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(
                f"COPY {staging} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(text.encode("utf-8"))
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKeyError(str(exc)) from exc
        finally:
            cursor.close()

    def key_json(self, columns: Sequence[str]) -> str:
        return f"CAST(json_build_array({', '.join(columns)}) AS TEXT)"

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        listed = f" ({', '.join(columns)})" if columns else ""
        connection.exec_driver_sql(f"ANALYZE {table}{listed}")

    def fetch_text(
        self, connection: Connection, query: str, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Rows as CSV that the server assembles in large chunks, parsed by Polars.

        COPY TO STDOUT hands Python one message per row; ``string_agg`` hands it a few big strings.
        """
        names = [f"c{i}" for i in range(len(columns))]
        line = " || ',' || ".join(
            f"""coalesce('"' || replace({n}, '"', '""') || '"', '')""" for n in names
        )
        chunked = (
            f"SELECT string_agg(line, chr(10)) FROM (SELECT {line} AS line, "
            f"(row_number() OVER ()) / {FETCH_CHUNK_ROWS} AS chunk "
            f"FROM ({query}) AS q ({', '.join(names)})) AS lines GROUP BY chunk"
        )
        chunks = [row[0] for row in connection.exec_driver_sql(chunked)]
        schema = dict.fromkeys(columns, pl.String)
        if not chunks:
            return pl.DataFrame(schema=schema)
        return pl.read_csv("\n".join(chunks).encode(), has_header=False, schema=schema)

    def fetch_integers(self, connection: Connection, column: str, source: str) -> pl.Series:
        joined = connection.exec_driver_sql(
            f"SELECT string_agg(CAST({column} AS TEXT), ',') {source}"
        )
        return _integers(column, joined.scalar())

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"


def backend_for(connection: Connection) -> Backend:
    if connection.dialect.name == "postgresql":
        return PostgresBackend()
    return SqliteBackend()
