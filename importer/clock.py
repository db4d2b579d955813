"""Times as the ledger, the reports and the loads all record them: aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A time without a zone taken as UTC: SQLite hands stored times back without theirs."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
