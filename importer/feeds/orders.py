"""Orders and their lines (Luca orders / order-line-items, Listrak Order and OrderItem)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow, line_number_key, number_field, timestamp_column
from importer.feeds.documented import (
    UNDOCUMENTED_LENGTH,
    BillingAddressColumns,
    MetaColumns,
    ShippingAddressColumns,
)
from importer.feeds.enums import DiscountType, OrderStatus
from importer.feeds.spec import ChildSpec, FeedSpec


class Order(MetaColumns, ShippingAddressColumns, BillingAddressColumns, FeedRow, table=True):
    __tablename__ = "orders"

    order_number: str = Field(primary_key=True, max_length=50)
    date_entered: datetime | None = Field(default=None, sa_type=timestamp_column())
    customer_number: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=16)
    store_number: str | None = Field(default=None, max_length=100)
    source: str | None = Field(default=None, max_length=25, description="online, POS, ...")
    associate_id: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    coupon_code: str | None = Field(default=None, max_length=32)
    item_total: float | None = number_field(description="the items' total (subtotal)")
    tax_total: float | None = number_field()
    shipping_total: float | None = number_field()
    handling_total: float | None = number_field()
    order_total: float | None = number_field()
    discount_total: float | None = number_field(description="deprecated by Listrak in 2022")
    merchandise_discount: float | None = number_field()
    merchandise_discount_type: str | None = Field(default=None, max_length=32)
    merchandise_discount_description: str | None = Field(
        default=None, max_length=UNDOCUMENTED_LENGTH
    )
    non_merchandise_discount: float | None = number_field()
    non_merchandise_discount_type: str | None = Field(default=None, max_length=32)
    non_merchandise_discount_description: str | None = Field(
        default=None, max_length=UNDOCUMENTED_LENGTH
    )
    shipping_method: str | None = Field(default=None, max_length=32)
    ship_date: datetime | None = Field(default=None, sa_type=timestamp_column())
    tracking_number: str | None = Field(default=None, max_length=32)


class OrderLineItem(MetaColumns, FeedRow, table=True):
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
    price: float | None = number_field(ge=0, description="price of one unit")
    discounted_price: float | None = number_field(ge=0)
    item_total: float | None = number_field()
    item_discount_total: float | None = number_field()
    discount_type: str | None = Field(default=None, max_length=32)
    discount_description: str | None = Field(default=None, max_length=UNDOCUMENTED_LENGTH)
    location_id: str | None = Field(
        default=None, max_length=130, description="fulfillment location"
    )
    status: str | None = Field(default=None, max_length=16)
    ship_date: datetime | None = Field(default=None, sa_type=timestamp_column())
    shipping_method: str | None = Field(default=None, max_length=32)
    tracking_number: str | None = Field(default=None, max_length=32)


ORDER_LINE_ITEMS = FeedSpec(
    name="order_line_items",
    model=OrderLineItem,
    description="Order lines, sent on their own or nested in orders as items/lines.",
    patterns=FEED_PATTERNS["order_line_items"],
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
    patterns=FEED_PATTERNS["orders"],
    envelopes=("orders",),
    aliases={
        "external_order_id": "order_number",
        "order_id": "order_number",
        "order_date": "date_entered",
    },
    objects=("billing_address", "shipping_address"),
    choices={
        "status": OrderStatus,
        "merchandise_discount_type": DiscountType,
        "non_merchandise_discount_type": DiscountType,
    },
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
