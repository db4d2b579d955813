"""Columns every feed table shares: the partner and the bookkeeping of who wrote a row when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Numeric, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

PARTNER_COLUMN = "partner_id"
HASH_COLUMN = "row_hash"
EXTRA_COLUMN = "extra"
"""the fields a partner sent that have no column, as one JSON object per row"""
BOOKKEEPING_COLUMNS = frozenset(
    {"first_job_id", "last_job_id", "created_at", "updated_at", "deleted_at", HASH_COLUMN}
)


def timestamp_column() -> DateTime:
    return DateTime(timezone=True)


def number_field(*, required: bool = False, **rules: Any) -> Any:
    """A value the documents type as a double: any scale, so ``7.19254`` is never refused.
    PostgreSQL keeps it as ``numeric`` without a fixed scale, exactly as the double prints
    (``89.95`` stays ``89.95`` and sums stay exact); SQLite as its REAL."""
    default: dict[str, Any] = {} if required else {"default": None}
    return Field(**default, sa_type=Numeric(asdecimal=False), **rules)


def store_key(what: str) -> Any:
    """A ``store_id`` in the key: a key column cannot be NULL, so no store is ``''``."""
    return Field(
        default="",
        primary_key=True,
        max_length=100,
        sa_column_kwargs={"server_default": ""},
        description=f"{what}; empty: the partner's only store",
    )


def line_number_key(parent: str) -> Any:
    """A line's number in its parent's key: a line may repeat a SKU at another price or place."""
    return Field(
        primary_key=True,
        ge=1,
        le=2_147_483_647,
        description="the line's own number where sent (lineNumber, line_id), else its place in "
        f"the {parent}'s list (1, 2, ...)",
    )


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
    extra: dict[str, str] | None = Field(
        default=None,
        sa_type=JSON().with_variant(JSONB(), "postgresql"),
        description="fields the partner sent that have no column: {field as sent: value as text}",
    )
    row_hash: int | None = Field(
        default=None,
        sa_type=BigInteger,
        description="hash of the row's text as sent: a re-sent row with the same hash is not shipped",
    )
