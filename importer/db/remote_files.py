"""What was fetched from each SFTP source, so a file is fetched once and answered once."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Engine, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select

from importer.clock import utc_now
from importer.db.ledger import ImportJob, JobStatus

FINISHED = (JobStatus.COMPLETED, JobStatus.DUPLICATE, JobStatus.FAILED)


class RemoteState(enum.StrEnum):
    FETCHED = "FETCHED"
    """in the local inbox; the remote file is untouched until its job finished"""
    SETTLED = "SETTLED"
    """post-action done and report uploaded"""


class RemoteFile(SQLModel, table=True):
    __tablename__ = "remote_files"
    __table_args__ = (
        Index("ix_remote_files_identity", "source", "remote_path", "size_bytes", "mtime"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    partner_id: str = Field(max_length=64)
    remote_path: str = Field(sa_type=Text)
    size_bytes: int = Field(sa_type=BigInteger)
    mtime: int
    sha256: str = Field(max_length=64)
    local_name: str = Field(max_length=255)
    state: str = Field(default=RemoteState.FETCHED, max_length=16, index=True)
    job_id: int | None = None
    fetched_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    settled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class RemoteLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def seen(self, source: str, remote_path: str, size: int, mtime: int) -> bool:
        with Session(self.engine) as session:
            statement = select(RemoteFile.id).where(
                RemoteFile.source == source,
                RemoteFile.remote_path == remote_path,
                RemoteFile.size_bytes == size,
                RemoteFile.mtime == mtime,
            )
            return session.exec(statement.limit(1)).first() is not None

    def record(self, row: RemoteFile) -> RemoteFile:
        with Session(self.engine, expire_on_commit=False) as session:
            merged = session.merge(row)
            session.commit()
            return merged

    def unsettled(self, source: str) -> list[RemoteFile]:
        with Session(self.engine) as session:
            statement = select(RemoteFile).where(
                RemoteFile.source == source, RemoteFile.state == RemoteState.FETCHED
            )
            return list(session.exec(statement.order_by(col(RemoteFile.id))))

    def finished_job(self, row: RemoteFile) -> ImportJob | None:
        """The job that loaded (or refused) the fetched bytes, once it has an outcome."""
        with Session(self.engine) as session:
            statement = (
                select(ImportJob)
                .where(
                    ImportJob.partner_id == row.partner_id,
                    ImportJob.sha256 == row.sha256,
                    col(ImportJob.status).in_(FINISHED),
                    col(ImportJob.created_at) >= row.fetched_at,
                )
                .order_by(col(ImportJob.id))
                .limit(1)
            )
            return session.exec(statement).first()
