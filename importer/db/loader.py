"""Load one file in one transaction: stage its rows, then merge them set-based into each table.

Unchanged rows are not written; changed tracked fields are appended to ``row_changes``; in
``snapshot`` mode rows missing from the file are marked deleted. All SQL is built from the feed
specs' own identifiers, never from anything a partner sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Connection, DateTime, TextClause, bindparam, text

from importer.db.backends import STAGING_ROW, Backend, backend_for
from importer.feeds import FeedSpec
from importer.feeds.base import PARTNER_COLUMN
from importer.reading import ROW

DELETE_CHUNK = 500


@dataclass(frozen=True)
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


class FileLoad:
    """Staging and merging for one file, on a connection whose transaction the caller owns."""

    def __init__(self, connection: Connection, job_id: int, now: datetime) -> None:
        self.connection = connection
        self.backend: Backend = backend_for(connection)
        self.job_id = job_id
        self.now = now
        self._staged: set[str] = set()

    def stage(self, spec: FeedSpec, rows: pl.DataFrame) -> None:
        if rows.is_empty():
            return
        staging = _staging(spec)
        if spec.name not in self._staged:
            self.backend.create_staging(
                self.connection, staging, spec.table_name, ", ".join(spec.data_columns)
            )
            self._staged.add(spec.name)
        frame = rows.select(*spec.data_columns, pl.col(ROW).alias(STAGING_ROW))
        self.backend.copy_rows(self.connection, staging, frame)

    def unstage(self, spec: FeedSpec, rows: Iterable[int]) -> None:
        """Take back rows staged from an earlier batch (a later one showed them invalid)."""
        if spec.name not in self._staged:
            return
        pending = sorted(set(rows))
        for start in range(0, len(pending), DELETE_CHUNK):
            chunk = ", ".join(str(int(r)) for r in pending[start : start + DELETE_CHUNK])
            self.connection.exec_driver_sql(
                f"DELETE FROM {_staging(spec)} WHERE {STAGING_ROW} IN ({chunk})"
            )

    def merge(self, spec: FeedSpec, partner_id: str, snapshot: bool) -> MergeCounts:
        """Apply the staged rows of ``spec``; returns what happened to them."""
        if spec.name not in self._staged:
            deleted = self._mark_missing_deleted(spec, partner_id) if snapshot else 0
            return MergeCounts(deleted=deleted)
        staging = _staging(spec)
        self.connection.exec_driver_sql(f"ANALYZE {staging}")
        staged = self._count(f"SELECT COUNT(*) FROM {staging}")
        join = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
        changed = self._differs(spec, "t", "s")
        inserted = self._count(
            f"SELECT COUNT(*) FROM {staging} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {spec.table_name} t WHERE {join})"
        )
        updated = self._count(
            f"SELECT COUNT(*) FROM {staging} s JOIN {spec.table_name} t ON {join} WHERE {changed}"
        )
        self._record_changes(spec, staging, join)
        self._upsert(spec, staging)
        deleted = self._mark_missing_deleted(spec, partner_id) if snapshot else 0
        self.connection.exec_driver_sql(f"DROP TABLE {staging}")
        self._staged.discard(spec.name)
        return MergeCounts(inserted, updated, staged - inserted - updated, deleted)

    def _differs(self, spec: FeedSpec, old: str, new: str) -> str:
        values = [c for c in spec.data_columns if c not in spec.key]
        terms = [f"{old}.{c} {self.backend.differs} {new}.{c}" for c in values]
        terms.append(f"{old}.deleted_at IS NOT NULL")
        return "(" + " OR ".join(terms) + ")"

    def _record_changes(self, spec: FeedSpec, staging: str, join: str) -> None:
        key = self.backend.key_json([f"s.{k}" for k in spec.key])
        for column in spec.tracked:
            self.connection.execute(
                _sql(
                    "INSERT INTO row_changes (job_id, table_name, partner_id, row_key, "
                    "column_name, old_value, new_value, changed_at) "
                    f"SELECT :job, :table, s.{PARTNER_COLUMN}, {key}, :column, "
                    f"{self.backend.as_text(f't.{column}')}, {self.backend.as_text(f's.{column}')}, :now "
                    f"FROM {staging} s JOIN {spec.table_name} t ON {join} "
                    f"WHERE t.{column} {self.backend.differs} s.{column}"
                ),
                {"job": self.job_id, "table": spec.table_name, "column": column, "now": self.now},
            )

    def _upsert(self, spec: FeedSpec, staging: str) -> None:
        columns = ", ".join(spec.data_columns)
        values = [c for c in spec.data_columns if c not in spec.key]
        assignments = ", ".join(
            [f"{c} = excluded.{c}" for c in values]
            + [
                "last_job_id = excluded.last_job_id",
                "updated_at = excluded.updated_at",
                "deleted_at = NULL",
            ]
        )
        self.connection.execute(
            _sql(
                f"INSERT INTO {spec.table_name} ({columns}, first_job_id, last_job_id, created_at, "
                f"updated_at, deleted_at) SELECT {columns}, :job, :job, :now, :now, NULL "
                f"FROM {staging} WHERE true "
                f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET {assignments} "
                f"WHERE {self._differs(spec, spec.table_name, 'excluded')}"
            ),
            {"job": self.job_id, "now": self.now},
        )

    def _mark_missing_deleted(self, spec: FeedSpec, partner_id: str) -> int:
        staging = _staging(spec)
        absent = (
            f"AND NOT EXISTS (SELECT 1 FROM {staging} s WHERE "
            + " AND ".join(f"s.{k} = {spec.table_name}.{k}" for k in spec.key)
            + ")"
            if spec.name in self._staged
            else ""
        )
        result = self.connection.execute(
            _sql(
                f"UPDATE {spec.table_name} SET deleted_at = :now, last_job_id = :job "
                f"WHERE {PARTNER_COLUMN} = :partner AND deleted_at IS NULL {absent}"
            ),
            {"now": self.now, "job": self.job_id, "partner": partner_id},
        )
        return int(result.rowcount)

    def _count(self, sql: str) -> int:
        return int(self.connection.exec_driver_sql(sql).scalar_one())


def _sql(statement: str) -> TextClause:
    """``:now`` goes through the column type, so SQLite stores it like every other timestamp."""
    return text(statement).bindparams(bindparam("now", type_=DateTime(timezone=True)))


def _staging(spec: FeedSpec) -> str:
    return f"stg_{spec.table_name}"
