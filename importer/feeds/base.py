"""Columns every feed table shares: the partner and the bookkeeping of who wrote a row when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, func
from sqlmodel import Field, SQLModel

PARTNER_COLUMN = "partner_id"
HASH_COLUMN = "row_hash"
BOOKKEEPING_COLUMNS = frozenset(
    {"first_job_id", "last_job_id", "created_at", "updated_at", "deleted_at", HASH_COLUMN}
)


def timestamp_column() -> DateTime:
    return DateTime(timezone=True)


class FeedRow(SQLModel):
    """Mixin for feed tables; ``partner_id`` leads every natural key."""

    partner_id: str = Field(primary_key=True, max_length=64)
    first_job_id: int | None = Field(default=None, description="job that inserted the row")
    last_job_id: int | None = Field(default=None, description="job that last changed the row")
    created_at: datetime | None = Field(
        default=None,
        sa_type=timestamp_column(),
        sa_column_kwargs={"server_default": func.now()},
        description="when the load that inserted the row began",
    )
    updated_at: datetime | None = Field(
        default=None,
        sa_type=timestamp_column(),
        sa_column_kwargs={"server_default": func.now()},
        description="when the load that last changed the row began",
    )
    deleted_at: datetime | None = Field(
        default=None,
        sa_type=timestamp_column(),
        description="set when a snapshot file no longer contains the row",
    )
    row_hash: int | None = Field(
        default=None,
        sa_type=BigInteger,
        description="hash of the row's text as sent: a re-sent row with the same hash is not shipped",
    )
