"""What differs between SQLite and PostgreSQL when staging rows and comparing values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple, Protocol

import polars as pl
from sqlalchemy import Connection

from importer.clock import sqlite_value
from importer.db.driver_sql import Rows
from importer.db.faults import driver_cursor
from importer.db.streams import (
    Constants,
    PostgresRowStream,
    RowStream,
    SqliteRowStream,
)

STAGING_ROW = "_row"
FETCH_CHUNK_ROWS = 100_000
SMALL_TEXT_CHARS = 1 << 20
"""below this, numbers joined as text are split in Python (some 50,000 strings at most; 10 us for
a hundred): starting Polars' CSV parser costs 0.6 ms, whatever the size"""
STATISTICS_TARGET = 10
"""PostgreSQL samples 300 rows per unit of target"""
BOUND_NAME = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
"""a ``:name`` parameter, as SQLAlchemy's ``text()`` finds one"""


class OneOf(NamedTuple):
    """Values a query looks rows up by, as the one parameter the backend binds them as."""

    distinct: int
    text: str


class Backend(Protocol):
    differs: str
    """null-safe inequality operator"""
    load_time_defaults: bool
    """``created_at``/``updated_at`` default to the transaction's start, the load's own time"""

    def run(
        self, connection: Connection, statement: str, params: Mapping[str, object] | None = None
    ) -> Rows:
        """One of a load's statements, its parameters named ``:name``, straight to the driver:
        through SQLAlchemy each cost a small file some 0.1 ms of Python."""
        ...

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None:
        """A temporary table of ``columns`` of ``target``, made anew: a file's own keys."""
        ...

    def open_staging(self, connection: Connection, staging: str, target: str, columns: str) -> None:
        """An empty staging table of ``target``'s rows, kept by the connection from one file to
        the next: creating and dropping one cost PostgreSQL about 1 ms a file in catalog rows.
        ``columns`` must be the same each time for the same ``staging``."""
        ...

    def drop_staging(self, connection: Connection, staging: str) -> None:
        """Let go of a staging table's rows once they are merged; a file stages each table once."""
        ...

    def open_stream(self, connection: Connection, table: str, constants: Constants) -> RowStream:
        """Rows for ``table``, batch after batch, every frame with the same columns and every row
        ``constants`` besides; a column no row fills is left to its default (NULL), and nothing
        else runs on ``connection`` meanwhile."""
        ...

    def key_json(self, columns: Sequence[str]) -> str: ...

    def empty(self, connection: Connection, table: str) -> None:
        """Remove every row of a staging table, leaving nothing for later scans to step over."""
        ...

    def counted_upsert(self, upsert: str, inserted: str, changed: str) -> str | None:
        """``upsert`` made to return how many rows it inserted and changed (``inserted`` and
        ``changed`` tell, of a written row), where the database can; ``None`` where it cannot."""
        ...

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        """Refresh the planner's statistics of ``table`` (sampled, so cheap on big tables), of the
        ``columns`` merges join on only where the database allows it."""
        ...

    def fetch_text(
        self, connection: Connection, query: str, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Run ``query`` (bound parameters already inlined) and return its rows as text columns."""
        ...

    def fetch_integers(
        self, connection: Connection, column: str, source: str, values: OneOf | None = None
    ) -> pl.Series:
        """``column`` of ``SELECT ... {source}`` (a FROM/WHERE clause) as one Int64 series;
        ``values`` are what the source's :meth:`one_of` is bound to.

        The server joins the numbers into one string, so a million of them cost one round trip
        and no Python object each. The statement goes to the driver as it is: through
        SQLAlchemy, a small file's lookup cost 0.3 ms more.
        """
        ...

    def as_text(self, expression: str) -> str: ...

    def one_of(self, column: str) -> str:
        """``column`` equals one of the text values :meth:`fetch_integers` binds as ``:values``,
        all sent as one parameter: one a value cost a small file 0.1 ms."""
        ...

    def bound_values(self, frame: pl.DataFrame, values: pl.Expr) -> OneOf:
        """The text ``values`` (an expression over ``frame``) as :meth:`one_of` binds them."""
        ...


class SqliteBackend:
    differs = "IS NOT"
    load_time_defaults = False

    def run(
        self, connection: Connection, statement: str, params: Mapping[str, object] | None = None
    ) -> Rows:
        """sqlite3 reads ``:name`` itself; a time goes as SQLAlchemy stores one, in UTC."""
        bound = {name: sqlite_value(value) for name, value in (params or {}).items()}
        with driver_cursor(connection) as cursor:
            cursor.execute(statement, bound)
            return list(cursor.fetchall())

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None:
        self.run(connection, f"DROP TABLE IF EXISTS temp.{staging}")
        self.run(
            connection,
            f"CREATE TEMP TABLE {staging} AS SELECT {columns}, CAST(NULL AS INTEGER) AS "
            f"{STAGING_ROW} FROM {target} WHERE 0",
        )

    def open_staging(self, connection: Connection, staging: str, target: str, columns: str) -> None:
        """Emptied here too: a load that ended without :meth:`drop_staging` may have left rows."""
        self.run(
            connection,
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {columns}, "
            f"CAST(NULL AS INTEGER) AS {STAGING_ROW} FROM {target} WHERE 0",
        )
        self.empty(connection, f"temp.{staging}")

    def drop_staging(self, connection: Connection, staging: str) -> None:
        """A temporary table's rows outlive the transaction on SQLite, held till deleted."""
        self.empty(connection, f"temp.{staging}")

    def open_stream(self, connection: Connection, table: str, constants: Constants) -> RowStream:
        return SqliteRowStream(connection, table, constants)

    def key_json(self, columns: Sequence[str]) -> str:
        return f"json_array({', '.join(columns)})"

    def empty(self, connection: Connection, table: str) -> None:
        """Without a WHERE clause SQLite drops the pages at once."""
        self.run(connection, f"DELETE FROM {table}")

    def counted_upsert(self, upsert: str, inserted: str, changed: str) -> str | None:
        """SQLite has no data-modifying common table expressions to count in."""
        return None

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        """Every entry of the key index is read (about 0.15 s a million rows). A sampled ANALYZE
        counts a partner's rows only up to its sample, and the planner then reads all of them
        through the key index, a random lookup each, instead of scanning the table."""
        connection.exec_driver_sql(f"ANALYZE {table}")

    def fetch_text(
        self, connection: Connection, query: str, columns: Sequence[str]
    ) -> pl.DataFrame:
        """Fetched in slices, each turned into a frame at once, so few Python rows live at a time."""
        schema = dict.fromkeys(columns, pl.String)
        frames = [pl.DataFrame(schema=schema)]
        with driver_cursor(connection) as cursor:
            cursor.execute(query)
            while rows := cursor.fetchmany(FETCH_CHUNK_ROWS):
                frames.append(pl.DataFrame(rows, schema=schema, orient="row"))
        return pl.concat(frames, rechunk=True)

    def fetch_integers(
        self, connection: Connection, column: str, source: str, values: OneOf | None = None
    ) -> pl.Series:
        """One number per line, read by Polars' CSV parser: no list of strings in between."""
        bound = {} if values is None else {"values": values.text}
        ((joined,),) = self.run(
            connection, f"SELECT group_concat({column}, char(10)) {source}", bound
        )
        if not joined:
            return pl.Series(column, [], dtype=pl.Int64)
        if len(joined) <= SMALL_TEXT_CHARS:
            return pl.Series(column, joined.split("\n"), dtype=pl.String).cast(pl.Int64)
        numbers = pl.read_csv(joined.encode(), has_header=False, schema={column: pl.Int64})
        return numbers.to_series()

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"

    def one_of(self, column: str) -> str:
        """The values as one JSON array."""
        return f"{column} IN (SELECT value FROM json_each(:values))"

    def bound_values(self, frame: pl.DataFrame, values: pl.Expr) -> OneOf:
        listed = frame.select(values).to_series().to_list()
        return OneOf(len(listed), json.dumps(listed, ensure_ascii=False))


class PostgresBackend:
    differs = "IS DISTINCT FROM"
    load_time_defaults = True

    def run(
        self, connection: Connection, statement: str, params: Mapping[str, object] | None = None
    ) -> Rows:
        with driver_cursor(connection) as cursor:
            if params:
                cursor.execute(_pyformat(statement), params)
            else:
                cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def create_staging(
        self, connection: Connection, staging: str, target: str, columns: str
    ) -> None:
        """No table is left from an earlier transaction: commit drops it, rollback undoes it."""
        self.run(
            connection,
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {columns}, "
            f"CAST(NULL AS BIGINT) AS {STAGING_ROW} FROM {target} WITH NO DATA",
        )

    def open_staging(self, connection: Connection, staging: str, target: str, columns: str) -> None:
        """The commit or rollback that ended the connection's last transaction emptied it
        (``ON COMMIT DELETE ROWS``); a rollback of the transaction that created it removes it."""
        self.run(
            connection,
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS SELECT "
            f"{columns}, CAST(NULL AS BIGINT) AS {STAGING_ROW} FROM {target} WITH NO DATA",
        )

    def drop_staging(self, connection: Connection, staging: str) -> None:
        """Nothing to send: the end of the transaction empties it (``ON COMMIT DELETE ROWS``)."""

    def open_stream(self, connection: Connection, table: str, constants: Constants) -> RowStream:
        return PostgresRowStream(connection, table, constants)

    def key_json(self, columns: Sequence[str]) -> str:
        return f"CAST(json_build_array({', '.join(columns)}) AS TEXT)"

    def empty(self, connection: Connection, table: str) -> None:
        """DELETE would leave dead rows that the next batches' joins scan again."""
        self.run(connection, f"TRUNCATE {table}")

    def counted_upsert(self, upsert: str, inserted: str, changed: str) -> str | None:
        """Counting from what the upsert wrote spares joining staging to the table once more."""
        return (
            f"WITH written AS ({upsert} RETURNING {inserted} AS new, {changed} AS changed) "
            "SELECT COUNT(*) FILTER (WHERE new), COUNT(*) FILTER (WHERE changed AND NOT new) "
            "FROM written"
        )

    def analyze(self, connection: Connection, table: str, columns: Sequence[str]) -> None:
        """A sample of 3,000 rows rather than 30,000 (a tenth of the time on a million rows) tells
        the merges what they need: how many rows there are and which partners own them.
        Autovacuum's own ANALYZE refines the rest later; the setting ends with the transaction."""
        connection.exec_driver_sql(f"SET LOCAL default_statistics_target = {STATISTICS_TARGET}")
        connection.exec_driver_sql(f"ANALYZE {table} ({', '.join(columns)})")

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

    def fetch_integers(
        self, connection: Connection, column: str, source: str, values: OneOf | None = None
    ) -> pl.Series:
        """As one binary string of 8-byte big-endian numbers: no text to format or parse."""
        query = f"SELECT string_agg(int8send(CAST({column} AS BIGINT)), ''::bytea) {source}"
        with driver_cursor(connection) as cursor:
            if values is None:
                cursor.execute(query, binary=True)
            else:
                cursor.execute(_pyformat(query), {"values": values.text}, binary=True)
            row = cursor.fetchone()
        packed = bytes(row[0]) if row and row[0] else b""
        if not packed:
            return pl.Series(column, [], dtype=pl.Int64)
        numbers = pl.Series(column, [packed], dtype=pl.Binary).bin.reinterpret(
            dtype=pl.Array(pl.Int64, len(packed) // 8), endianness="big"
        )
        return numbers.explode()

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS TEXT)"

    def one_of(self, column: str) -> str:
        """The values as one array literal, written by Polars: a list dumped value by value
        cost a small file 0.1 ms."""
        return f"{column} = ANY(CAST(:values AS TEXT[]))"

    def bound_values(self, frame: pl.DataFrame, values: pl.Expr) -> OneOf:
        """Found and written in one query: a query to find them and one to write them cost a
        small file 0.25 ms more."""
        distinct, text = frame.select(
            values.len().alias("distinct"), _array_literal(values).alias("text")
        ).row(0)
        return OneOf(distinct, text)


def backend_for(connection: Connection) -> Backend:
    if connection.dialect.name == "postgresql":
        return PostgresBackend()
    return SqliteBackend()


def copy_rows(backend: Backend, connection: Connection, table: str, frame: pl.DataFrame) -> None:
    """Append one frame to ``table`` in a stream of its own."""
    with backend.open_stream(connection, table, {}) as stream:
        stream.write(frame)


def _array_literal(values: pl.Expr) -> pl.Expr:
    """PostgreSQL's text form of a ``TEXT[]``: each value quoted, its backslashes and quotes
    escaped."""
    escaped = values.str.replace_all("\\", "\\\\", literal=True)
    escaped = escaped.str.replace_all('"', '\\"', literal=True)
    quoted = pl.concat_str(pl.lit('"'), escaped, pl.lit('"')).str.join(",")
    return pl.concat_str(pl.lit("{"), quoted, pl.lit("}"))


@lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    """``:name`` as psycopg names a parameter, ``%(name)s``, and a literal ``%`` doubled."""
    return BOUND_NAME.sub(r"%(\1)s", statement.replace("%", "%%"))
