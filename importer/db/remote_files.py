"""What was fetched from each SFTP source, by which host, so a file is fetched once and answered
once across every daemon sharing the database.

A file is claimed before it is downloaded: the row's identity (source, path, size, mtime) is
unique, so of several daemons one inserts it and the others skip it. The claiming host downloads
it, marks it FETCHED (only if the claim is still its own) and renames it into its inbox; from
then on it is that host's, and only that host settles it, since its reports are on that host's
disk. A claim nobody turned into a download within the source's lease is taken over and the file
fetched again.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, DateTime, Engine, Index, Text, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from importer.clock import utc_now
from importer.db.ledger import ImportJob, JobStatus

FINISHED = (JobStatus.COMPLETED, JobStatus.DUPLICATE, JobStatus.FAILED)


class RemoteState(enum.StrEnum):
    CLAIMED = "CLAIMED"
    """one host's, being downloaded; nobody else fetches it"""
    FETCHED = "FETCHED"
    """in that host's inbox; the remote file is untouched until its job finished"""
    SETTLED = "SETTLED"
    """post-action done and report uploaded"""


IN_HAND = (RemoteState.CLAIMED, RemoteState.FETCHED)


class RemoteFile(SQLModel, table=True):
    __tablename__ = "remote_files"
    __table_args__ = (
        Index(
            "ux_remote_files_identity", "source", "remote_path", "size_bytes", "mtime", unique=True
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    partner_id: str = Field(max_length=64)
    remote_path: str = Field(sa_type=Text)
    size_bytes: int = Field(sa_type=BigInteger)
    mtime: int
    sha256: str | None = Field(default=None, max_length=64)
    local_name: str | None = Field(default=None, max_length=255)
    state: str = Field(default=RemoteState.CLAIMED, max_length=16, index=True)
    host: str | None = Field(default=None, max_length=255)
    """the ``inbox.host`` that claimed and fetched it (empty for files fetched before fleets)"""
    feed: str | None = Field(default=None, max_length=64)
    job_id: int | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    fetched_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    settled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class RemoteLedger:
    def __init__(self, engine: Engine, host: str) -> None:
        self.engine = engine
        self.host = host

    def seen(self, source: str, remote_path: str, size: int, mtime: int) -> bool:
        with Session(self.engine) as session:
            statement = select(RemoteFile.id).where(
                RemoteFile.source == source,
                RemoteFile.remote_path == remote_path,
                RemoteFile.size_bytes == size,
                RemoteFile.mtime == mtime,
            )
            return session.exec(statement.limit(1)).first() is not None

    def claim(self, row: RemoteFile) -> RemoteFile | None:
        """The row, now this host's claim; None when another daemon claimed the file first."""
        row.host, row.state, row.claimed_at = self.host, RemoteState.CLAIMED, utc_now()
        try:
            return self.record(row)
        except IntegrityError:
            return None

    def fetched(self, row: RemoteFile) -> bool:
        """Mark a downloaded claim FETCHED; False when it is no longer this host's (it took too
        long and another daemon took it over): the download is then thrown away."""
        assert row.id is not None
        statement = (
            update(RemoteFile)
            .where(
                col(RemoteFile.id) == row.id,
                col(RemoteFile.host) == self.host,
                col(RemoteFile.state) == RemoteState.CLAIMED,
                col(RemoteFile.claimed_at) == row.claimed_at,
            )
            .values(
                state=RemoteState.FETCHED,
                sha256=row.sha256,
                local_name=row.local_name,
                fetched_at=row.fetched_at,
            )
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def release(self, row: RemoteFile) -> None:
        """Give up a claim whose download broke off: the file is claimed anew when listed."""
        statement = delete(RemoteFile).where(
            col(RemoteFile.id) == row.id,
            col(RemoteFile.host) == self.host,
            col(RemoteFile.state) == RemoteState.CLAIMED,
        )
        with self.engine.begin() as connection:
            connection.execute(statement)

    def take_over(
        self, source: str, older_than: timedelta, mine_before: datetime
    ) -> list[RemoteFile]:
        """Claims that never became a download: another host's older than the lease (it died or
        lost its lease), and this host's from before it started. They are this host's now."""
        now = utc_now()
        stale = or_(
            col(RemoteFile.claimed_at) < now - older_than,
            (col(RemoteFile.host) == self.host) & (col(RemoteFile.claimed_at) < mine_before),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            statement = select(RemoteFile).where(
                RemoteFile.source == source, RemoteFile.state == RemoteState.CLAIMED, stale
            )
            rows = list(session.exec(statement.order_by(col(RemoteFile.id))))
            for row in rows:
                row.host, row.claimed_at = self.host, now
            session.commit()
            return rows

    def record(self, row: RemoteFile) -> RemoteFile:
        with Session(self.engine, expire_on_commit=False) as session:
            merged = session.merge(row)
            session.commit()
            return merged

    def rows(self, ids: Collection[int]) -> list[RemoteFile]:
        with Session(self.engine) as session:
            return list(session.exec(select(RemoteFile).where(col(RemoteFile.id).in_(ids))))

    def unsettled(self, source: str) -> list[RemoteFile]:
        """This host's fetched files of ``source`` (and those fetched before hosts were named)."""
        with Session(self.engine) as session:
            statement = select(RemoteFile).where(
                RemoteFile.source == source,
                RemoteFile.state == RemoteState.FETCHED,
                or_(col(RemoteFile.host) == self.host, col(RemoteFile.host).is_(None)),
            )
            return list(session.exec(statement.order_by(col(RemoteFile.id))))

    def held_elsewhere(self, partner_id: str, feeds: Sequence[str | None]) -> set[str | None]:
        """Of ``feeds``, those with a file of this partner in another host's hands: fetching
        later files of that feed here could apply them before it."""
        with Session(self.engine) as session:
            statement = (
                select(RemoteFile.feed, func.count())
                .where(
                    RemoteFile.partner_id == partner_id,
                    col(RemoteFile.state).in_(IN_HAND),
                    col(RemoteFile.host) != self.host,
                )
                .group_by(col(RemoteFile.feed))
            )
            held = {feed for feed, _ in session.exec(statement)}
        return {feed for feed in feeds if feed in held}

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


def in_hand(engine: Engine) -> list[RemoteFile]:
    """Every claimed or fetched file not yet answered, of every host."""
    with Session(engine) as session:
        statement = select(RemoteFile).where(col(RemoteFile.state).in_(IN_HAND))
        return list(session.exec(statement.order_by(col(RemoteFile.id))))
