"""Lines are keyed by their number, not their SKU: a line may repeat a SKU at another price or
location.

Order lines and purchase order lines get ``line_number``; existing lines are numbered 1, 2, ...
within their order in SKU order (the order they were sent in was not kept).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from importer.migrations.keys import replace_primary_key

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

PARENTS = {"order_line_items": "order_number", "purchase_order_lines": "po_number"}


def upgrade() -> None:
    for table, parent in PARENTS.items():
        op.add_column(table, sa.Column("line_number", sa.Integer(), nullable=True))
        op.execute(
            f"UPDATE {table} SET line_number = (SELECT n.place FROM (SELECT partner_id, {parent}, "
            f"sku, ROW_NUMBER() OVER (PARTITION BY partner_id, {parent} ORDER BY sku) AS place "
            f"FROM {table}) n WHERE n.partner_id = {table}.partner_id "
            f"AND n.{parent} = {table}.{parent} AND n.sku = {table}.sku)"
        )
        replace_primary_key(table, ("partner_id", parent, "line_number"), column="line_number")


def downgrade() -> None:
    for table, parent in PARENTS.items():
        replace_primary_key(
            table,
            ("partner_id", parent, "sku"),
            column="line_number",
            nullable=True,
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_column("line_number")
