"""Load one file in one transaction: ship only new and changed rows, then merge them set-based.

Before the first batch of a table, the text hashes of the partner's live rows are read in one
bulk query (a column of integers, cheap to send and to match); rows the file sent exactly as before
arrive marked unchanged (see :mod:`importer.unchanged`) and are only counted. The rest is streamed
into staging (COPY on PostgreSQL, executemany on SQLite) and merged with one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE <differs>``, which compares real values, so the
counts and ``row_changes`` stay exact whatever the hash says. A partner's first load of a table
goes straight into it.
In ``snapshot`` mode, keys the partner has but the file lacks are marked deleted. The statements
themselves are built in :mod:`importer.db.statements`; this module decides which run when.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Self

import polars as pl
from sqlalchemy import (
    Connection,
    DateTime,
    TextClause,
    bindparam,
    text,
)

from importer import frames
from importer.db import statements
from importer.db.backends import STAGING_ROW, Backend, OneOf, backend_for, copy_rows
from importer.db.streams import Constants, RowStream
from importer.exceptions import DuplicateKeyError, RetryCarefullyError
from importer.feeds import FeedSpec
from importer.feeds.base import HASH_COLUMN, PARTNER_COLUMN
from importer.file_keys import FileKeys, key_digests
from importer.guards import TooManyDeletesError
from importer.raw import LINE_COUNT, ROW
from importer.unchanged import UNCHANGED, is_in_sorted, partition

DELETE_CHUNK = 500
DeleteCheck = Callable[[int, int], bool]
"""(rows a snapshot would mark deleted, live rows) -> whether it may"""


@dataclass(frozen=True)
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


@dataclass
class _Table:
    """What is known about one target table during this file's load."""

    direct: bool
    """the partner had no rows here: batches go straight into the table, no staging"""
    staged: bool = False
    staged_rows: int = 0
    """rows in the staging table (counted here, not by the server)"""
    merged: bool = False
    """the staging table holds rows already merged: it is emptied before the next batch, not
    after each one, so a one-batch file's table is only let go of"""
    skipped: list[pl.Series] = field(default_factory=list)
    """``_row`` of rows skipped as unchanged"""
    applied: list[pl.Series] = field(default_factory=list)
    """``_row`` of rows already merged into the table (fast path)"""
    counts: MergeCounts = field(default_factory=MergeCounts)
    """of the rows merged so far"""
    known: pl.Series | None = None
    """text hashes of all the partner's live rows before this file, sorted, once read"""


class FileLoad:
    """Staging and merging for one file, on a connection whose transaction the caller owns."""

    def __init__(
        self,
        connection: Connection,
        partner_id: str,
        job_id: int | None,
        now: datetime,
        *,
        fast: bool = True,
    ) -> None:
        self.connection = connection
        self.backend: Backend = backend_for(connection)
        self.partner_id = partner_id
        self.job_id = job_id
        self._now = None if self.backend.load_time_defaults else now
        self.fast = fast
        """first loads go straight into the table, later ones merge batch by batch"""
        self._tables: dict[str, _Table] = {}
        self._stream_scope = ExitStack()
        self._stream: RowStream | None = None
        self._streaming: str | None = None
        """the table the open stream writes to"""
        self._first_loads: set[str] = set()
        """tables the partner had no row in before this file: nothing there to delete"""

    def __enter__(self) -> Self:
        return self

    @property
    def now(self) -> datetime:
        """The time this load stamps its rows with. On PostgreSQL it is the transaction's start,
        the timestamp columns' default, read with the load's first question (:meth:`_table`)."""
        if self._now is None:
            self._end_stream()
            ((self._now,),) = self.backend.run(self.connection, "SELECT now()")
        return self._now

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """An open stream is ended, or cancelled when the load failed, before the transaction."""
        if exc_type is None:
            self._end_stream()
        else:
            self._stream = self._streaming = None
            self._stream_scope.__exit__(exc_type, exc, traceback)

    def known_hashes(self, spec: FeedSpec) -> pl.Series:
        """The text hashes of the partner's live rows in ``spec``'s table, sorted."""
        table = self._table(spec)
        if table.known is None:
            table.known = _no_hashes() if table.direct else self._live_hashes(spec)
        return table.known

    def known_hashes_where(self, spec: FeedSpec, column: str, values: OneOf) -> pl.Series:
        """The sorted text hashes of the partner's live rows whose ``column`` is one of
        ``values``, looked up through the primary key, which ``column`` leads."""
        table = self._table(spec)
        if table.direct or not values.distinct:
            return _no_hashes()
        self._end_stream()
        one_of = self.backend.one_of(column)
        source = statements.keyed_hashes_source(spec, self.partner_id, one_of)
        return self.backend.fetch_integers(self.connection, HASH_COLUMN, source, values).sort()

    def stage(self, spec: FeedSpec, rows: pl.DataFrame) -> None:
        """Send the new and changed rows of a batch; unchanged rows (``__unchanged``) are only
        counted. ``rows`` carry their text hash in ``row_hash``."""
        table = self._table(spec)
        if table.direct:
            self._insert_direct(spec, table, rows)
            return
        unchanged, changed = partition(rows, rows.get_column(UNCHANGED))
        table.skipped.append(unchanged.get_column(ROW))
        shipped = _in_key_order(spec, changed)
        if shipped.is_empty():
            return
        staging = statements.staging_table(spec)
        columns = (*spec.data_columns, HASH_COLUMN)
        if not table.staged:
            self._end_stream()
            self.backend.open_staging(self.connection, staging, spec.table_name, ", ".join(columns))
            table.staged = True
        elif table.merged:
            self._end_stream()
            self.backend.empty(self.connection, staging)
            table.merged, table.staged_rows = False, 0
        frame = frames.columns(shipped, columns[1:], shipped.get_column(ROW).alias(STAGING_ROW))
        self._write(staging, frame, {PARTNER_COLUMN: self.partner_id})
        table.staged_rows += frame.height
        if self.fast:
            # Merged now, while the next batch is being read: a key the file repeats later
            # (rare) makes the whole file go again the careful way.
            self._end_stream()
            self._apply(spec, table)
            table.applied.append(shipped.get_column(ROW))

    def _insert_direct(self, spec: FeedSpec, table: _Table, rows: pl.DataFrame) -> None:
        """First load of this table for the partner: every row is new, so skip staging and merging.

        The table's primary key stops a key the file repeats; the caller then goes the careful way.
        """
        constants: dict[str, int | str | datetime] = {PARTNER_COLUMN: self.partner_id}
        if self.job_id is not None:  # a dry run's rows, rolled back, belong to no job
            constants |= {"first_job_id": self.job_id, "last_job_id": self.job_id}
        if not self.backend.load_time_defaults:
            constants |= {"created_at": self.now, "updated_at": self.now}
        self._write(
            spec.table_name,
            frames.columns(_in_key_order(spec, rows), (*spec.data_columns[1:], HASH_COLUMN)),
            constants,
        )
        table.counts = replace(table.counts, inserted=table.counts.inserted + rows.height)

    def _write(self, table: str, frame: pl.DataFrame, constants: Constants) -> None:
        """Append to ``table`` through one stream that stays open while batches keep coming."""
        if self._stream is None or self._streaming != table:
            self._end_stream()
            self._stream = self._stream_scope.enter_context(
                self.backend.open_stream(self.connection, table, constants)
            )
            self._streaming = table
        try:
            self._stream.write(frame)
        except DuplicateKeyError as exc:
            raise RetryCarefullyError(table) from exc

    def _end_stream(self) -> None:
        """Finish the open stream, if any: the connection runs nothing else while one is open."""
        self._stream = self._streaming = None
        try:
            self._stream_scope.close()
        except DuplicateKeyError as exc:  # only direct loads write into a keyed table
            raise RetryCarefullyError(str(exc)) from exc

    def unstage(self, spec: FeedSpec, rows: pl.Series) -> None:
        """Take back rows of an earlier batch that a later one showed invalid (duplicate keys)."""
        table = self._tables.get(spec.name)
        if table is None:
            return
        pending = rows.unique().sort()
        dropped = pending.implode()
        if table.direct or any(s.is_in(dropped).any() for s in table.applied):
            raise RetryCarefullyError(spec.name)
        self._end_stream()
        table.skipped = [s.filter(~s.is_in(dropped)) for s in table.skipped]
        if not table.staged:
            return
        if len(pending) > DELETE_CHUNK:  # else each chunk's DELETE scans the whole staging table
            self.connection.exec_driver_sql(statements.index_staged_rows(spec))
        for start in range(0, len(pending), DELETE_CHUNK):
            chunk = pending.slice(start, DELETE_CHUNK).to_list()
            deleted = self.connection.exec_driver_sql(statements.delete_staged(spec, chunk))
            table.staged_rows -= deleted.rowcount

    def merge(
        self, spec: FeedSpec, file_keys: FileKeys | None, may_delete: DeleteCheck | None = None
    ) -> MergeCounts:
        """Apply the staged rows; with ``file_keys`` (snapshot) mark the partner's other keys
        deleted, unless ``may_delete(deleting, live)`` says no (:class:`TooManyDeletesError`,
        raised before any is marked)."""
        self._end_stream()
        table = self._tables.get(spec.name)
        skipped = sum(len(s) for s in table.skipped) if table else 0
        if table is not None and table.direct:
            self._tables.pop(spec.name)
            # Fresh statistics, or the next file's merge is planned for an empty table.
            self.backend.analyze(self.connection, spec.table_name, spec.key)
            return table.counts
        counts = MergeCounts()
        if table is not None and table.staged:
            if not self.fast:
                self.backend.analyze(self.connection, statements.staging_table(spec), spec.key)
                self._apply(spec, table)
            self.backend.drop_staging(self.connection, statements.staging_table(spec))
            counts = table.counts
        deleted = (
            self._mark_missing_deleted(spec, file_keys, may_delete=may_delete)
            if file_keys is not None
            else 0
        )
        self._tables.pop(spec.name, None)
        return replace(counts, unchanged=counts.unchanged + skipped, deleted=deleted)

    def _apply(self, spec: FeedSpec, table: _Table) -> None:
        """Merge what is staged into the table and count it."""
        upsert = statements.upsert(self.backend, spec)
        params = {"job": self.job_id, "now": self.now}
        counted = self.backend.counted_upsert(upsert, "first_job_id = :job", "last_job_id = :job")
        if counted is None:
            merge_counts = statements.merge_counts(self.backend, spec)
            ((staged, inserted, updated),) = self.backend.run(self.connection, merge_counts)
            self._record_changes(spec)
            self.backend.run(self.connection, upsert, params)
        else:
            staged = table.staged_rows
            self._record_changes(spec)
            ((inserted, updated),) = self.backend.run(self.connection, counted, params)
        table.merged = True
        table.counts = MergeCounts(
            table.counts.inserted + int(inserted),
            table.counts.updated + int(updated),
            table.counts.unchanged + int(staged - inserted - updated),
        )

    def _table(self, spec: FeedSpec) -> _Table:
        if spec.name not in self._tables:
            self._end_stream()
            direct = self.fast and not self._partner_has_rows(spec)
            self._tables[spec.name] = _Table(direct)
            if direct:
                self._first_loads.add(spec.name)
        return self._tables[spec.name]

    def _partner_has_rows(self, spec: FeedSpec) -> bool:
        """Any row at all, deleted ones included: they hold the key a direct insert would need."""
        query = statements.any_row(spec, self.partner_id)
        if self._now is not None:
            return bool(self.backend.run(self.connection, query))
        ((self._now, found),) = self.backend.run(self.connection, f"SELECT now(), EXISTS ({query})")
        return bool(found)

    def _live_hashes(self, spec: FeedSpec) -> pl.Series:
        """The text hashes of the partner's live rows, sorted."""
        source = statements.live_hashes_source(spec, self.partner_id)
        return self.backend.fetch_integers(self.connection, HASH_COLUMN, source).sort()

    def idle_connection(self) -> Connection:
        """The load's connection with no stream open on it, for a query of the caller's own."""
        self._end_stream()
        return self.connection

    def live_rows(self, spec: FeedSpec) -> int:
        """How many live rows the partner has in ``spec``'s table (before this file, when asked
        before the first batch)."""
        self._end_stream()
        query = statements.live_count(spec, self.partner_id)
        return int(self.connection.exec_driver_sql(query).scalar_one())

    def changes_sample(self, limit: int) -> list[dict[str, object]]:
        """The first changes this load recorded in ``row_changes``: key, column, old, new."""
        found = self.connection.execute(
            text(
                "SELECT row_key, column_name, old_value, new_value FROM row_changes "
                "WHERE job_id = :job ORDER BY id LIMIT :limit"
            ),
            {"job": self.job_id, "limit": limit},
        )
        return [
            {"key": key, "column": column, "old": old, "new": new}
            for key, column, old, new in found
        ]

    def _live_keys(
        self, spec: FeedSpec, schema: pl.Schema, within: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """The keys of the partner's live rows (of the carried parents, ``within`` those
        columns), typed like the file's rows."""
        query = statements.live_keys(spec, self.partner_id, within)
        text_frame = self.backend.fetch_text(self.connection, query, list(spec.key))
        # A file with no row of this table gives no types, and no key of it can match.
        return text_frame.with_columns(_from_text(k, schema[k]) for k in spec.key if k in schema)

    def _key_table(
        self,
        name: str,
        spec: FeedSpec,
        keys: pl.DataFrame,
        counts: tuple[str, ...] = (),
        *,
        indexed: bool = True,
    ) -> None:
        """A temporary table of ``keys`` (columns of ``spec``'s table, and ``counts``, integers);
        ``indexed`` where rows are looked up in it, which without an index SQLite does by
        scanning it for every row."""
        columns = [c for c in keys.columns if c not in counts]
        selected = [*columns, *(f"CAST(0 AS BIGINT) AS {c}" for c in counts)]
        self.backend.create_staging(self.connection, name, spec.table_name, ", ".join(selected))
        copy_rows(
            self.backend, self.connection, name, keys.with_columns(pl.lit(0).alias(STAGING_ROW))
        )
        if indexed:
            self.connection.exec_driver_sql(
                f"CREATE INDEX {name}_keys ON {name} ({', '.join(columns)})"
            )

    def _record_changes(self, spec: FeedSpec) -> None:
        if spec.tracked:
            self.backend.run(
                self.connection,
                statements.record_changes(self.backend, spec, self.partner_id),
                {"job": self.job_id, "table": spec.table_name, "now": self.now},
            )

    def drop_missing_children(
        self, spec: FeedSpec, parents: pl.DataFrame, file_keys: FileKeys
    ) -> int:
        """Lines of the ``parents`` (their key columns as the child table names them) whose
        nested list the file sent, that the list no longer holds, get ``deleted_at``."""
        self._end_stream()
        if parents.is_empty() or spec.name in self._first_loads:
            return 0
        within = tuple(c for c in parents.columns if c != LINE_COUNT)
        carried = statements.carried_table(spec)
        self._key_table(carried, spec, parents.unique(), (LINE_COUNT,), indexed=False)
        self.backend.analyze(self.connection, carried, within)  # else PostgreSQL guesses a few rows
        query = statements.shrunk_parents(spec, self.partner_id, within)
        shrunk = self.backend.fetch_text(self.connection, query, list(within))
        self.connection.exec_driver_sql(f"DROP TABLE {carried}")
        if shrunk.is_empty():
            return 0
        self._key_table(carried, spec, shrunk, indexed=False)
        deleted = self._mark_missing_deleted(spec, file_keys, within)
        self.connection.exec_driver_sql(f"DROP TABLE {carried}")
        return deleted

    def _mark_missing_deleted(
        self,
        spec: FeedSpec,
        file_keys: FileKeys,
        within: tuple[str, ...] = (),
        *,
        may_delete: DeleteCheck | None = None,
    ) -> int:
        """The partner's live keys (``within`` the carried parents) that this file does not
        contain get ``deleted_at``, and a ``row_changes`` entry saying so."""
        live = self._live_keys(spec, file_keys.schema, within)
        in_file = is_in_sorted(key_digests(live, spec.key), file_keys.sorted_digests())
        missing = live.filter(~in_file)
        if missing.is_empty():
            return 0
        if may_delete is not None and not may_delete(missing.height, live.height):
            raise TooManyDeletesError(missing.height, live.height)
        gone = statements.gone_table(spec)
        self._key_table(gone, spec, missing)
        self.connection.execute(
            _sql(statements.record_deletes(self.backend, spec)),
            {
                "job": self.job_id,
                "table": spec.table_name,
                "now": self.now,
                "now_text": self.now.isoformat(),
            },
        )
        result = self.connection.execute(
            _sql(statements.mark_deleted(spec)), {"now": self.now, "job": self.job_id}
        )
        self.connection.exec_driver_sql(f"DROP TABLE {gone}")
        return int(result.rowcount)


def _no_hashes() -> pl.Series:
    return pl.Series(HASH_COLUMN, [], dtype=pl.Int64)


def _in_key_order(spec: FeedSpec, rows: pl.DataFrame) -> pl.DataFrame:
    """A batch sorted by its key: its rows then reach neighbouring pages of the key index one
    after another instead of pages all over it (a shuffled million-row catalog: ~0.7 s less
    work for PostgreSQL). The partner, the same for every row, is left out of the sort."""
    return rows.sort(spec.key[1:])


def _from_text(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Date:
        return pl.col(column).str.to_date("%Y-%m-%d")
    return pl.col(column).cast(dtype)


@lru_cache(maxsize=256)
def _sql(statement: str) -> TextClause:
    """``:now`` goes through the column type, so SQLite stores it like every other timestamp.
    Built once a statement: parsing one again for every file cost a small one 0.15 ms."""
    return text(statement).bindparams(bindparam("now", type_=DateTime(timezone=True)))
