"""Suppliers and purchase orders with their lines (inventory-import API)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow, line_number_key, number_field
from importer.feeds.spec import ChildSpec, FeedSpec


class Supplier(FeedRow, table=True):
    __tablename__ = "suppliers"

    supplier_id: str = Field(primary_key=True, max_length=100)
    name: str | None = Field(default=None, max_length=250, description="defaults to supplier_id")
    email: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    country: str | None = Field(default=None, max_length=100)
    lead_time_days: int | None = Field(default=None, ge=0, le=3650)


class PurchaseOrder(FeedRow, table=True):
    __tablename__ = "purchase_orders"

    po_number: str = Field(primary_key=True, max_length=100, description="idempotent key")
    supplier_id: str = Field(max_length=100)
    destination_location_id: str = Field(max_length=130)
    status: str = Field(default="PENDING", max_length=20)
    order_date: date | None = Field(default=None)
    expected_date: date | None = Field(default=None)


class PurchaseOrderLine(FeedRow, table=True):
    __tablename__ = "purchase_order_lines"

    po_number: str = Field(primary_key=True, max_length=100)
    line_number: int = line_number_key("purchase order")
    sku: str = Field(max_length=100)
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=4)
    unit_cost: float = number_field(required=True, ge=0)


SUPPLIERS = FeedSpec(
    name="suppliers",
    model=Supplier,
    description="Suppliers; one row per supplier.",
    patterns=FEED_PATTERNS["suppliers"],
    envelopes=("suppliers",),
    aliases={"external_id": "supplier_id", "supplier_code": "supplier_id"},
    copy_defaults={"name": ("supplier_id",)},
    tracked=("name", "lead_time_days"),
    examples={"supplier_id": "SUP-7", "name": "Northwind Textiles", "lead_time_days": "21"},
)

PURCHASE_ORDER_LINES = FeedSpec(
    name="purchase_order_lines",
    model=PurchaseOrderLine,
    description="Purchase order lines, on their own or nested in purchase orders as lines.",
    patterns=FEED_PATTERNS["purchase_order_lines"],
    envelopes=("lines", "purchase_order_lines"),
    aliases={
        "sku_id": "sku",
        "external_po_number": "po_number",
        "cost": "unit_cost",
        "line_id": "line_number",
        "line": "line_number",
    },
    positions={"line_number": "po_number"},
    tracked=("quantity", "unit_cost"),
    examples={"po_number": "PO-300", "sku": "SKU-1001", "quantity": "120", "unit_cost": "31.50"},
)

PURCHASE_ORDERS = FeedSpec(
    name="purchase_orders",
    model=PurchaseOrder,
    description="Purchase order headers with nested lines; status defaults to PENDING.",
    patterns=FEED_PATTERNS["purchase_orders"],
    envelopes=("purchase_orders",),
    aliases={"external_po_number": "po_number", "destination": "destination_location_id"},
    uppercase=("status",),
    locations=("destination_location_id",),
    tracked=("status", "expected_date"),
    children=(
        ChildSpec(
            feed="purchase_order_lines",
            list_fields=("lines", "items"),
            inherited={"po_number": "po_number"},
        ),
    ),
    examples={"po_number": "PO-300", "supplier_id": "SUP-7", "destination_location_id": "WH1"},
)
