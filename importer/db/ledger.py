"""The ledger: one ``import_jobs`` row per file attempt, and the history of changed values."""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Executable,
    Index,
    Integer,
    ScalarSelect,
    Text,
    bindparam,
    func,
    insert,
    or_,
    text,
    update,
)
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel, col, select

from importer.clock import utc_now
from importer.db.driver_sql import run_statement


class JobStatus(enum.StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    DUPLICATE = "DUPLICATE"
    """the bytes repeat the latest load of the same tables for this partner; nothing was written"""
    ABANDONED = "ABANDONED"
    """interrupted by a stop or crash before it finished; its file was processed again"""


UNFINISHED = (JobStatus.PENDING, JobStatus.PROCESSING)
OUTCOMES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DUPLICATE)
"""how a file's job ends (an ABANDONED job's file was processed again by another)"""
ENDED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DUPLICATE)
"""a file's load that reached an outcome"""


def _partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of the rows ``where`` holds for, which a query finds only when it states the
    same condition in the same words (a bound parameter in its place would not do)."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


COMPLETED_ONLY = "status = 'COMPLETED'"


class ImportJob(SQLModel, table=True):
    """Every question a file asks of the ledger goes through an index, as the ledger is never
    pruned: none of them may take longer as it grows (``bench.run --ledger``)."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        Index("ix_import_jobs_checksum", "partner_id", "sha256"),
        Index("ix_import_jobs_lane", "partner_id", "feed", "id"),
        _partial_index("ix_import_jobs_loads", "partner_id", "feed", "id", where=COMPLETED_ONLY),
        _partial_index("ix_import_jobs_forced", "partner_id", where="retry_forced"),
        _partial_index("ix_import_jobs_retries", "retry_of", where="retry_of IS NOT NULL"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: str = Field(max_length=64, index=True)
    feed: str | None = Field(default=None, max_length=64)
    file_name: str = Field(max_length=255)
    source_path: str = Field(sa_type=Text)
    stored_path: str | None = Field(default=None, sa_type=Text)
    sha256: str | None = Field(default=None, max_length=64)
    size_bytes: int | None = Field(default=None, sa_type=BigInteger)
    status: str = Field(default=JobStatus.PENDING, max_length=16, index=True)
    message: str | None = Field(default=None, sa_type=Text)
    row_count: int = 0
    processed_count: int = 0
    inserted_count: int = 0
    updated_count: int = 0
    unchanged_count: int = 0
    failed_count: int = 0
    deleted_count: int = 0
    duplicate_of: int | None = None
    retry_of: int | None = None
    retried_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(
        default_factory=utc_now, sa_type=DateTime(timezone=True), index=True
    )
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    completed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    duration_ms: int | None = None
    host: str | None = Field(default=None, max_length=255)
    """the ``inbox.host`` whose inbox holds the file (empty for jobs from before fleets)"""
    filled_columns: str | None = Field(default=None, sa_type=Text)
    """JSON list of the feed's columns the file filled: what the partner's next file is
    compared with"""
    dropped_columns: str | None = Field(default=None, sa_type=Text)
    """JSON list of the columns the file lacked that the partner's previous file filled"""
    retry_forced: bool = False
    """sent back with ``importer retry --force``: its next load passes the export guards"""


class RowChange(SQLModel, table=True):
    """Old and new value of a tracked field, one row per changed field of a changed row."""

    __tablename__ = "row_changes"
    __table_args__ = (
        Index("ix_row_changes_row", "table_name", "partner_id", "row_key", "changed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(index=True)
    table_name: str = Field(max_length=64)
    partner_id: str = Field(max_length=64)
    row_key: str = Field(sa_type=Text, description="natural key as a JSON array, partner first")
    column_name: str = Field(max_length=64)
    old_value: str | None = Field(default=None, sa_type=Text)
    new_value: str | None = Field(default=None, sa_type=Text)
    changed_at: datetime = Field(sa_type=DateTime(timezone=True))


@dataclass(frozen=True)
class JobFilter:
    """Which jobs ``importer jobs`` lists; every part optional."""

    status: str | None = None
    partner_id: str | None = None
    feed: str | None = None
    file_glob: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


def glob_as_like(glob: str) -> str:
    """``orders_*.csv`` -> ``orders\\_%.csv``: a shell glob as a LIKE pattern (escape ``\\``)."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


@dataclass(frozen=True)
class LoadedBytes:
    """What a file's duplicate check and export guard need of the latest load (a whole job costs
    0.3 ms to build)."""

    id: int
    feed: str | None
    size_bytes: int | None
    sha256: str | None
    filled_columns: str | None

    def shape(self) -> list[str] | None:
        """The columns the load filled (None for a job from before shapes were recorded)."""
        return _shape(self.filled_columns)


def new_job(
    partner_id: str,
    file_name: str,
    source_path: str,
    feed: str | None = None,
    host: str | None = None,
) -> ImportJob:
    """A job for a file about to be claimed and worked on: PROCESSING from the start."""
    job = ImportJob(
        partner_id=partner_id,
        file_name=file_name,
        source_path=source_path,
        feed=feed,
        status=JobStatus.PROCESSING,
        host=host,
    )
    job.started_at = job.created_at
    return job


class Ledger:
    """Short transactions on ``import_jobs``; the load itself updates its job in its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open_job(self, job: ImportJob, *, latest_of: Collection[str] = ()) -> LoadedBytes | None:
        """Write ``job`` (:func:`new_job`), which gets its id, and in the same transaction read
        the latest load of the feeds ``latest_of`` (:func:`latest_load`), which the file's
        duplicate check needs: a transaction of its own cost a small file three more round trips
        to PostgreSQL."""
        with self.engine.begin() as connection:
            ((job.id,),) = run_statement(connection, _INSERT_JOB, job.model_dump(exclude={"id"}))
            return latest_load(connection, job.partner_id, latest_of) if latest_of else None

    def get(self, job_id: int) -> ImportJob | None:
        with Session(self.engine) as session:
            return session.get(ImportJob, job_id)

    def forget(self, job_id: int) -> None:
        """Drop a job that never claimed its file (another worker was faster)."""
        with Session(self.engine) as session:
            job = session.get(ImportJob, job_id)
            if job is not None:
                session.delete(job)
                session.commit()

    def update(self, job: ImportJob) -> None:
        with self.engine.begin() as connection:
            save_job(connection, job)

    def interruptions(self, partner_id: str, file_name: str) -> int:
        """ABANDONED jobs of this partner's file name since one last reached an outcome."""
        same_file = (ImportJob.partner_id == partner_id, ImportJob.file_name == file_name)
        with Session(self.engine) as session:
            last_outcome = (
                select(func.max(ImportJob.id))
                .where(*same_file, col(ImportJob.status).in_(ENDED))
                .scalar_subquery()
            )
            statement = select(func.count()).where(
                *same_file,
                ImportJob.status == JobStatus.ABANDONED,
                col(ImportJob.id) > func.coalesce(last_outcome, 0),
            )
            return session.exec(statement).one()

    def unfinished(self, host: str) -> list[ImportJob]:
        """Unfinished jobs of files in ``host``'s inbox (and of jobs from before fleets): only
        that inbox can tell whether their files were claimed."""
        with Session(self.engine) as session:
            statement = select(ImportJob).where(
                col(ImportJob.status).in_(UNFINISHED),
                or_(col(ImportJob.host) == host, col(ImportJob.host).is_(None)),
            )
            return list(session.exec(statement.order_by(col(ImportJob.id))))

    def jobs(self, wanted: JobFilter | None = None) -> list[ImportJob]:
        """The newest jobs that match ``wanted``."""
        wanted = wanted or JobFilter()
        statement = select(ImportJob).order_by(col(ImportJob.id).desc()).limit(wanted.limit)
        if wanted.status:
            statement = statement.where(func.upper(ImportJob.status) == wanted.status.upper())
        if wanted.partner_id:
            statement = statement.where(ImportJob.partner_id == wanted.partner_id)
        if wanted.feed:
            statement = statement.where(ImportJob.feed == wanted.feed)
        if wanted.file_glob:
            pattern = glob_as_like(wanted.file_glob)
            statement = statement.where(col(ImportJob.file_name).like(pattern, escape="\\"))
        if wanted.since:
            statement = statement.where(col(ImportJob.created_at) >= wanted.since)
        if wanted.until:
            statement = statement.where(col(ImportJob.created_at) < wanted.until)
        with Session(self.engine) as session:
            return list(session.exec(statement))

    def arrived_since(self, partner_id: str, feed: str, since: datetime) -> bool:
        """Whether a file of this partner and feed was loaded (or was a duplicate) since then."""
        with Session(self.engine) as session:
            statement = select(func.count()).where(
                ImportJob.partner_id == partner_id,
                ImportJob.feed == feed,
                col(ImportJob.status).in_((JobStatus.COMPLETED, JobStatus.DUPLICATE)),
                col(ImportJob.created_at) >= since,
            )
            return bool(session.exec(statement).one())

    def changes(self, job_id: int, limit: int = 20) -> list[RowChange]:
        with Session(self.engine) as session:
            statement = (
                select(RowChange)
                .where(RowChange.job_id == job_id)
                .order_by(col(RowChange.id))
                .limit(limit)
            )
            return list(session.exec(statement))


_JOB_COLUMNS = tuple(name for name in ImportJob.model_fields if name != "id")
# Built once: a statement built for every call costs more than running it.
_INSERT_JOB = (
    insert(ImportJob)
    .values({name: bindparam(name) for name in _JOB_COLUMNS})
    .returning(col(ImportJob.id))
)
_UPDATE_JOB = (
    update(ImportJob)
    .where(col(ImportJob.id) == bindparam("job_id"))
    .values({name: bindparam(name) for name in _JOB_COLUMNS})
)
_RETRIED = aliased(ImportJob, name="retried")
_RETRY_FOLLOWED = (
    select(_RETRIED.id)
    .where(
        _RETRIED.partner_id == bindparam("partner_id"),
        _RETRIED.sha256 == bindparam("sha256"),
        col(_RETRIED.retried_at).is_not(None),
    )
    .order_by(col(_RETRIED.id).desc())
    .limit(1)
    .scalar_subquery()
)
"""the latest failed job with the same bytes that an operator sent back with ``importer retry``"""
_SETTLE_JOB = _UPDATE_JOB.values(
    retry_of=func.coalesce(bindparam("retry_of", type_=Integer), _RETRY_FOLLOWED)
).returning(col(ImportJob.retry_of))
"""``_UPDATE_JOB`` whose ``retry_of``, when the job names none, is the retry it follows"""


def _lanes_latest_load(feed: str) -> ScalarSelect[int]:
    """The id of the lane's latest completed job: the top of its loads index, read from the
    index alone (a plan that fetched rows too would walk back through every later job)."""
    lane = aliased(ImportJob, name="lane")
    return (
        select(lane.id)
        .where(
            lane.partner_id == bindparam("partner_id"),
            lane.feed == bindparam(feed),
            text(f"lane.{COMPLETED_ONLY}"),
        )
        .order_by(col(lane.id).desc())
        .limit(1)
        .scalar_subquery()
    )


@functools.cache
def _latest_load_of(feed_count: int) -> Executable:
    """The newest of each feed's latest load: ``feed IN (...)`` would gather and sort every
    load of the lanes to find it."""
    latest = [_lanes_latest_load(f"feed_{n}") for n in range(feed_count)]
    return (
        select(ImportJob.id, ImportJob.feed, ImportJob.size_bytes, ImportJob.sha256)
        .add_columns(col(ImportJob.filled_columns))
        .where(col(ImportJob.id).in_(latest))
        .order_by(col(ImportJob.id).desc())
        .limit(1)
    )


_FORCED_RETRIES = text(
    "SELECT f.id, f.sha256 FROM import_jobs f WHERE f.partner_id = :partner_id "
    "AND f.retry_forced AND NOT EXISTS (SELECT 1 FROM import_jobs n "
    "WHERE n.retry_of = f.id AND n.status = 'COMPLETED')"
)
_LAST_SHAPE = select(ImportJob.filled_columns).where(ImportJob.id == _lanes_latest_load("feed"))


def forced_retries(connection: Connection, partner_id: str) -> dict[str, int]:
    """sha256 -> job, of the partner's failed files an operator sent back with ``--force``
    whose retry has not completed yet: few or none, so the checksum is waited for only then."""
    found = connection.execute(_FORCED_RETRIES, {"partner_id": partner_id})
    return {str(sha256): int(job_id) for job_id, sha256 in found}


def latest_load(
    connection: Connection, partner_id: str, feeds: Collection[str]
) -> LoadedBytes | None:
    """The partner's last COMPLETED job of any of ``feeds``: what the tables they write say now
    comes from it (or from jobs before it that it left alone)."""
    found = {"partner_id": partner_id} | {f"feed_{n}": f for n, f in enumerate(feeds)}
    rows = run_statement(connection, _latest_load_of(len(feeds)), found)
    return LoadedBytes(*rows[0]) if rows else None


def last_shape(connection: Connection, partner_id: str, feed: str) -> list[str] | None:
    """The columns the partner's last completed file of the feed filled (None for a job from
    before shapes were recorded)."""
    found = connection.execute(_LAST_SHAPE, {"partner_id": partner_id, "feed": feed}).scalar()
    return _shape(found)


def _shape(filled_columns: str | None) -> list[str] | None:
    return None if filled_columns is None else list(json.loads(filled_columns))


def save_job(connection: Connection, job: ImportJob) -> None:
    """Write a job's fields in the caller's transaction: a load stamps its job with its rows."""
    run_statement(connection, _UPDATE_JOB, _job_fields(job))


def settle_job(connection: Connection, job: ImportJob) -> int | None:
    """Write a job's outcome, and link it to the retry it follows, in one statement: the failed
    job with the same bytes an operator sent back with ``importer retry``, unless it already
    names one. Returns the job's ``retry_of``."""
    ((linked,),) = run_statement(connection, _SETTLE_JOB, _job_fields(job))
    return cast(int | None, linked)


def _job_fields(job: ImportJob) -> dict[str, object]:
    """The parameters of ``_UPDATE_JOB`` and ``_SETTLE_JOB``."""
    return {**job.model_dump(exclude={"id"}), "job_id": job.id}
