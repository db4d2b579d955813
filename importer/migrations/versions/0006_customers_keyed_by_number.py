"""Customers are keyed by their customer number, else their e-mail address.

Listrak requires the e-mail only of accounts that are not CRM-enabled; ``customerNumber`` is the
other identity. Existing customers get ``customer_key`` (their number, else their e-mail); of
rows that now share a number, the one updated last stays.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from importer.migrations.keys import keep_latest, replace_primary_key

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("customer_key", sa.String(100), nullable=True))
    keep_latest(
        "customers",
        same="o.partner_id = customers.partner_id "
        "AND o.customer_number = customers.customer_number AND o.email <> customers.email",
        tiebreak="o.email > customers.email",
    )
    op.execute("UPDATE customers SET customer_key = COALESCE(customer_number, email)")
    replace_primary_key("customers", ("partner_id", "customer_key"), column="customer_key")
    with op.batch_alter_table("customers") as batch:
        batch.alter_column("email", existing_type=sa.String(100), nullable=True)


def downgrade() -> None:
    raise NotImplementedError("customers keyed by number cannot all be keyed by e-mail again")
