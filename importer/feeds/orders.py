"""Orders and their lines (Luca orders / order-line-items, Listrak Order and OrderItem)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Field

from importer.feeds.base import FeedRow, line_number_key, timestamp_column
from importer.feeds.enums import DiscountType, OrderStatus
from importer.feeds.spec import ChildSpec, FeedSpec


class Order(FeedRow, table=True):
    __tablename__ = "orders"

    order_number: str = Field(primary_key=True, max_length=50)
    date_entered: datetime | None = Field(default=None, sa_type=timestamp_column())
    customer_number: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=16)
    store_number: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=25, description="online, POS, ...")
    coupon_code: str | None = Field(default=None, max_length=32)
    item_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    tax_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    shipping_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    handling_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    order_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    shipping_method: str | None = Field(default=None, max_length=32)
    ship_date: datetime | None = Field(default=None, sa_type=timestamp_column())
    tracking_number: str | None = Field(default=None, max_length=32)


class OrderLineItem(FeedRow, table=True):
    __tablename__ = "order_line_items"

    order_number: str = Field(primary_key=True, max_length=50)
    line_number: int = line_number_key("order")
    sku: str = Field(max_length=100)
    quantity: Decimal = Field(
        ge=0,
        le=1_000_000_000,
        max_digits=18,
        decimal_places=4,
        description="units; a number (the inventory-import document), whole for Listrak",
    )
    price: Decimal | None = Field(
        default=None, ge=0, max_digits=18, decimal_places=4, description="price of one unit"
    )
    discounted_price: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=4)
    item_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    item_discount_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=4)
    discount_type: str | None = Field(default=None, max_length=32)
    location_id: str | None = Field(
        default=None, max_length=130, description="fulfillment location"
    )
    status: str | None = Field(default=None, max_length=16)
    ship_date: datetime | None = Field(default=None, sa_type=timestamp_column())
    tracking_number: str | None = Field(default=None, max_length=32)


ORDER_LINE_ITEMS = FeedSpec(
    name="order_line_items",
    model=OrderLineItem,
    description="Order lines, sent on their own or nested in orders as items/lines.",
    patterns=("order_line_items*", "order-line-items*", "order_lines*", "line_items*"),
    envelopes=("order_line_items", "items", "lines"),
    aliases={
        "sku_id": "sku",
        "external_order_id": "order_number",
        "unit_price": "price",
        "line_id": "line_number",
        "line": "line_number",
    },
    positions={"line_number": "order_number"},
    choices={"status": OrderStatus, "discount_type": DiscountType},
    locations=("location_id",),
    tracked=("quantity", "price", "status"),
    examples={"order_number": "SO-5001", "sku": "SKU-1001", "quantity": "2", "price": "89.95"},
)

ORDERS = FeedSpec(
    name="orders",
    model=Order,
    description="Customer order headers; lines may be nested as items (or lines).",
    patterns=("orders*", "order_*"),
    envelopes=("orders",),
    aliases={
        "external_order_id": "order_number",
        "order_id": "order_number",
        "order_date": "date_entered",
    },
    choices={"status": OrderStatus},
    tracked=("status", "order_total", "ship_date", "tracking_number"),
    children=(
        ChildSpec(
            feed="order_line_items",
            list_fields=("items", "lines"),
            inherited={"order_number": "order_number"},
        ),
    ),
    examples={
        "order_number": "SO-5001",
        "date_entered": "2026-11-02T14:05:00Z",
        "status": "Shipped",
    },
)
