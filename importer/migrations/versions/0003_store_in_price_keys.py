"""A SKU priced per store: ``store_id`` joins the key of products and competitor prices.

An absent store means the partner's only one and is stored as ``''`` (a key column cannot be
NULL); existing rows are carried over with that value.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from importer.migrations.keys import replace_primary_key

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
        replace_primary_key(table, key, column="store_id", server_default=sa.text("''"))


def downgrade() -> None:
    for table, key in KEYS.items():
        old_key = tuple(c for c in key if c != "store_id")
        replace_primary_key(table, old_key, column="store_id", nullable=True)
