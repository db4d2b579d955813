"""Who polls each SFTP source: one daemon at a time across everything sharing the database.

A lease is a row with an expiry. The holder renews it at every poll and before every download;
another daemon takes it only once it expired, so a daemon that dies gives its sources up after
``lease_s``. Files are claimed one by one in ``remote_files`` besides, so even two holders (a lease
that ran out during a long download) never fetch a file twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Engine, bindparam, text
from sqlmodel import Field, Session, SQLModel, col, select

from importer.clock import utc_now


class SourceLease(SQLModel, table=True):
    __tablename__ = "source_leases"

    source: str = Field(primary_key=True, max_length=200)
    holder: str = Field(max_length=255)
    """the ``inbox.host`` of the daemon that polls it"""
    taken_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))


_TAKE = text(
    "INSERT INTO source_leases (source, holder, taken_at, expires_at) "
    "VALUES (:source, :holder, :now, :expires) "
    "ON CONFLICT (source) DO UPDATE SET holder = excluded.holder, "
    "taken_at = CASE WHEN source_leases.holder = excluded.holder "
    "THEN source_leases.taken_at ELSE excluded.taken_at END, "
    "expires_at = excluded.expires_at "
    "WHERE source_leases.holder = excluded.holder OR source_leases.expires_at < :now "
    "RETURNING holder"
).bindparams(
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("expires", type_=DateTime(timezone=True)),
)


def hold(engine: Engine, source: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease on ``source``; False while another daemon's lease runs."""
    now = utc_now()
    values = {
        "source": source,
        "holder": holder,
        "now": now,
        "expires": now + timedelta(seconds=seconds),
    }
    with engine.begin() as connection:
        taken = connection.execute(_TAKE, values).first()
    return taken is not None


def leases(engine: Engine) -> list[SourceLease]:
    with Session(engine) as session:
        return list(session.exec(select(SourceLease).order_by(col(SourceLease.source))))
