"""A SKU priced per store: ``store_id`` joins the key of products and competitor prices.

An absent store means the partner's only one and is stored as ``''`` (a key column cannot be
NULL); existing rows are carried over with that value.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

KEYS = {
    "products": ("partner_id", "sku", "store_id"),
    "competitor_prices": ("partner_id", "sku", "competitor", "observed_on", "store_id"),
}


def upgrade() -> None:
    for table, key in KEYS.items():
        op.execute(f"UPDATE {table} SET store_id = '' WHERE store_id IS NULL")
        _rekey(table, key, nullable=False)


def downgrade() -> None:
    for table, key in KEYS.items():
        _rekey(table, tuple(c for c in key if c != "store_id"), nullable=True)


def _rekey(table: str, key: tuple[str, ...], *, nullable: bool) -> None:
    """SQLite rebuilds the table with the new primary key; PostgreSQL swaps the constraint."""
    default = None if nullable else sa.text("''")
    if op.get_bind().dialect.name == "sqlite":
        with warnings.catch_warnings(), op.batch_alter_table(table, recreate="always") as batch:
            # The rebuilt table is told its new key while the reflected one still names the old:
            # SQLAlchemy warns, then takes the new key, which is the point.
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_", sa.exc.SAWarning)
            batch.alter_column(
                "store_id", existing_type=sa.String(100), nullable=nullable, server_default=default
            )
            batch.create_primary_key(f"{table}_pkey", list(key))
        return
    op.drop_constraint(f"{table}_pkey", table, type_="primary")
    op.alter_column(
        table, "store_id", existing_type=sa.String(100), nullable=nullable, server_default=default
    )
    op.create_primary_key(f"{table}_pkey", table, list(key))
