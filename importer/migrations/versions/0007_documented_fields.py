"""Nothing a partner sends is lost: documented fields get columns, the rest is kept in ``extra``.

- Every feed table gains ``extra``, one JSON object per row of the fields that have no column.
- Listrak Order gains its billing and shipping addresses, ``associateID``, its discounts and
  ``meta1``..``meta5``; its items gain ``discountDescription``, ``shippingMethod`` and meta;
  products gain meta; customers gain ``address3`` and meta.
- Values the documents type as ``double`` (prices, totals, discounts, costs, average ratings)
  lose their fixed four (or two) decimal places: PostgreSQL keeps them as ``numeric`` of any
  scale, existing values with their trailing zeros trimmed (``89.9500`` -> ``89.95``).

Rows already loaded are not rewritten beyond that: their new columns stay empty until the
partner sends them again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

FEED_TABLES = (
    "products",
    "orders",
    "order_line_items",
    "inventory_levels",
    "demand_history",
    "competitor_prices",
    "suppliers",
    "purchase_orders",
    "purchase_order_lines",
    "customers",
    "reviews",
    "rating_summaries",
)
META = tuple(f"meta{i}" for i in range(1, 6))
BILLING = {
    **dict.fromkeys(("first_name", "last_name", "phone", "mobile_phone", "zip_code"), 250),
    **dict.fromkeys(("address1", "address2", "address3", "city", "state", "country"), 100),
}
SHIPPING = {
    **dict.fromkeys(("first_name", "last_name"), 50),
    **dict.fromkeys(("phone", "zip_code"), 250),
    **dict.fromkeys(("address1", "address2", "address3", "city", "state", "country"), 100),
}
NEW_TEXT_COLUMNS: dict[str, dict[str, int]] = {
    "orders": {
        "associate_id": 250,
        "merchandise_discount_type": 32,
        "merchandise_discount_description": 250,
        "non_merchandise_discount_type": 32,
        "non_merchandise_discount_description": 250,
        **{f"billing_address_{name}": length for name, length in BILLING.items()},
        **{f"shipping_address_{name}": length for name, length in SHIPPING.items()},
        **dict.fromkeys(META, 500),
    },
    "order_line_items": {
        "discount_description": 250,
        "shipping_method": 32,
        **dict.fromkeys(META, 500),
    },
    "products": dict.fromkeys(META, 500),
    "customers": {"address_address3": 100, **dict.fromkeys(META, 250)},
}
NEW_NUMBER_COLUMNS = {
    "orders": ("discount_total", "merchandise_discount", "non_merchandise_discount"),
}
DOUBLES: dict[str, dict[str, sa.Numeric[Any]]] = {
    "products": dict.fromkeys(("price", "msrp"), sa.Numeric(18, 4)),
    "orders": dict.fromkeys(
        ("item_total", "tax_total", "shipping_total", "handling_total", "order_total"),
        sa.Numeric(18, 4),
    ),
    "order_line_items": dict.fromkeys(
        ("price", "discounted_price", "item_total", "item_discount_total"), sa.Numeric(18, 4)
    ),
    "competitor_prices": {"price": sa.Numeric(18, 4)},
    "purchase_order_lines": {"unit_cost": sa.Numeric(18, 4)},
    "rating_summaries": {"average_rating": sa.Numeric(3, 2)},
}
EXTRA = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in FEED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("extra", EXTRA, nullable=True))
            for name, length in NEW_TEXT_COLUMNS.get(table, {}).items():
                batch.add_column(sa.Column(name, sa.String(length), nullable=True))
            for name in NEW_NUMBER_COLUMNS.get(table, ()):
                batch.add_column(sa.Column(name, sa.Numeric(), nullable=True))
            for name, fixed in DOUBLES.get(table, {}).items():
                batch.alter_column(
                    name,
                    type_=sa.Numeric(),
                    existing_type=fixed,
                    **_using(postgres, f"trim_scale({name})"),
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in FEED_TABLES:
        with op.batch_alter_table(table) as batch:
            for name, fixed in DOUBLES.get(table, {}).items():
                batch.alter_column(
                    name,
                    type_=fixed,
                    existing_type=sa.Numeric(),
                    **_using(postgres, f"round({name}, {fixed.scale})"),
                )
            for name in (*NEW_TEXT_COLUMNS.get(table, {}), *NEW_NUMBER_COLUMNS.get(table, ())):
                batch.drop_column(name)
            batch.drop_column("extra")


def _using(postgres: bool, expression: str) -> dict[str, Any]:
    """How PostgreSQL converts the stored values; SQLite copies them as they are."""
    return {"postgresql_using": expression} if postgres else {}
