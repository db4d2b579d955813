"""What changed for one row: its ``row_changes``, oldest first, found by the row's key.

``row_changes.row_key`` is the key as the database wrote it (a JSON array, partner first), so
the key asked for is written the same way, by the same database, and the lookup uses the index
on (table, partner, key, time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, DateTime, Integer, String, text

from importer.db.backends import backend_for
from importer.exceptions import ImporterError
from importer.feeds import FeedSpec, Kind
from importer.feeds.base import PARTNER_COLUMN


@dataclass(frozen=True)
class Change:
    changed_at: datetime
    column: str
    old: str | None
    new: str | None
    job_id: int
    file_name: str | None


class UnknownKeyError(ImporterError):
    """The key given does not fit the feed's key."""


def key_columns(spec: FeedSpec) -> tuple[str, ...]:
    return tuple(column for column in spec.key if column != PARTNER_COLUMN)


def row_history(
    connection: Connection,
    spec: FeedSpec,
    partner_id: str,
    key: Sequence[str],
    since: datetime | None = None,
) -> list[Change]:
    """Every recorded change of the row, oldest first, with the job and file that made it."""
    columns = key_columns(spec)
    values = _completed(spec, columns, key)
    backend = backend_for(connection)
    placeholders = [
        ":partner",
        *(_typed(connection, spec, c, f":k{i}") for i, c in enumerate(columns)),
    ]
    query = (
        "SELECT c.changed_at, c.column_name, c.old_value, c.new_value, c.job_id, j.file_name "
        "FROM row_changes c LEFT JOIN import_jobs j ON j.id = c.job_id "
        f"WHERE c.table_name = :table AND c.partner_id = :partner "
        f"AND c.row_key = {backend.key_json(placeholders)}"
        + (" AND c.changed_at >= :since" if since else "")
        + " ORDER BY c.changed_at, c.id"
    )
    params = {"table": spec.table_name, "partner": partner_id, "since": since}
    params.update({f"k{i}": value for i, value in enumerate(values)})
    typed = text(query).columns(
        changed_at=DateTime(timezone=True),
        column_name=String,
        old_value=String,
        new_value=String,
        job_id=Integer,
        file_name=String,
    )  # SQLite hands back text: the types say what it means
    return [Change(*row) for row in connection.execute(typed, params)]


def _completed(spec: FeedSpec, columns: tuple[str, ...], key: Sequence[str]) -> list[str]:
    """The key's values; trailing parts with a default (no store: ``''``) may be left out."""
    if len(key) > len(columns):
        raise UnknownKeyError(f"{spec.name} is keyed by {', '.join(columns)}: too many values")
    values = list(key)
    for column in columns[len(key) :]:
        default = spec.column(column).default
        if default is None:
            raise UnknownKeyError(f"{spec.name} is keyed by {', '.join(columns)}: give each")
        values.append(str(default))
    return values


def _typed(connection: Connection, spec: FeedSpec, column: str, placeholder: str) -> str:
    """A key value as the key column holds it, so its JSON is what the load wrote."""
    kind = spec.column(column).kind
    if kind == Kind.INTEGER:
        return f"CAST({placeholder} AS INTEGER)"
    if kind == Kind.DATE and connection.dialect.name == "postgresql":
        return f"CAST({placeholder} AS DATE)"
    return (
        f"CAST({placeholder} AS TEXT)" if connection.dialect.name == "postgresql" else placeholder
    )
