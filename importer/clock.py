"""Times as the ledger, the reports and the loads all record them: aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A time without a zone taken as UTC: SQLite hands stored times back without theirs."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
"""how SQLAlchemy stores a timestamp in SQLite (UTC here)"""


def sqlite_timestamp(value: datetime) -> str:
    """A time as SQLAlchemy stores one in SQLite, in UTC."""
    return value.astimezone(UTC).strftime(SQLITE_TIMESTAMP)


def sqlite_value(value: object) -> object:
    """A parameter as SQLAlchemy binds it on SQLite: a time as its stored text."""
    return sqlite_timestamp(value) if isinstance(value, datetime) else value
