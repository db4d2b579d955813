"""Quantities are numbers, closed lists only where documented, one case for what matches without.

The inventory-import document types every quantity as ``number`` (weighed goods send 1.5):
inventory levels and order lines take decimals. A purchase order's status and a demand
channel have no documented list: they match without case and are stored upper-case, so ``all``
and ``ALL`` are one channel; of two rows that now share a key, the one written last stays.
A review's status, matched against an undocumented list before, is stored upper-case too.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from importer.migrations.keys import keep_latest

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

QUANTITIES = {
    "inventory_levels": ("quantity_on_hand", "quantity_reserved", "reorder_point"),
    "order_line_items": ("quantity",),
}
DEMAND_KEY = ("partner_id", "sku", "location_id", "week_starting")
QUANTITY = sa.Numeric(18, 4)


def upgrade() -> None:
    for table, columns in QUANTITIES.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=QUANTITY, existing_type=sa.Integer())
    _fold_demand_channels()
    for table in ("purchase_orders", "reviews"):
        op.execute(f"UPDATE {table} SET status = UPPER(status) WHERE status <> UPPER(status)")


def downgrade() -> None:
    for table, columns in QUANTITIES.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.Integer(), existing_type=QUANTITY)


def _fold_demand_channels() -> None:
    """Keep, of rows whose channels differ only in case, the one written last."""
    same = " AND ".join(f"o.{c} = demand_history.{c}" for c in DEMAND_KEY)
    keep_latest(
        "demand_history",
        same=f"{same} AND UPPER(o.channel) = UPPER(demand_history.channel) "
        "AND o.channel <> demand_history.channel",
        tiebreak="o.channel > demand_history.channel",
    )
    op.execute("UPDATE demand_history SET channel = UPPER(channel) WHERE channel <> UPPER(channel)")
