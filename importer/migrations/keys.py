"""Changing a table's primary key, shared by the revisions that do (SQLite cannot ALTER a key)."""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op


def replace_primary_key(
    table: str,
    key: tuple[str, ...],
    *,
    column: str,
    nullable: bool = False,
    server_default: sa.TextClause | None = None,
) -> None:
    """Key ``table`` by ``key``, setting ``column``'s nullability and default on the way.

    SQLite rebuilds the table with the new key; PostgreSQL swaps the constraint in place.
    """
    if op.get_bind().dialect.name == "sqlite":
        with warnings.catch_warnings(), op.batch_alter_table(table, recreate="always") as batch:
            # The rebuilt table is told its new key while the reflected one still names the old:
            # SQLAlchemy warns, then takes the new key, which is the point.
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_", sa.exc.SAWarning)
            batch.alter_column(
                column,
                nullable=nullable,
                server_default=server_default,
            )
            batch.create_primary_key(f"{table}_pkey", list(key))
        return
    op.drop_constraint(f"{table}_pkey", table, type_="primary")
    op.alter_column(
        table,
        column,
        nullable=nullable,
        server_default=server_default,
    )
    op.create_primary_key(f"{table}_pkey", table, list(key))


def keep_latest(table: str, *, same: str, tiebreak: str) -> None:
    """Of rows of ``table`` about to share a key, delete all but the one written last.

    ``same`` tells, of another row ``o``, that it will share the key with the row and is not the
    row itself; ``tiebreak`` decides between rows written at the same time.
    """
    written = "COALESCE({0}.updated_at, {0}.created_at)"
    later, now = written.format("o"), written.format(table)
    op.execute(
        f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} o WHERE {same} "
        f"AND ({later} > {now} OR ({later} = {now} AND {tiebreak})))"
    )
