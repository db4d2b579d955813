"""Stock at locations and the weekly demand history (inventory-import API, Luca inventory)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow
from importer.feeds.spec import FeedSpec


class InventoryLevel(FeedRow, table=True):
    __tablename__ = "inventory_levels"

    sku: str = Field(primary_key=True, max_length=100)
    location_id: str = Field(
        primary_key=True, max_length=130, description="stored as {partner}-{location}"
    )
    quantity_on_hand: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1_000_000_000,
        max_digits=18,
        decimal_places=4,
        description="physical stock; a number (weighed goods: 1.5)",
    )
    quantity_reserved: Decimal = Field(
        default=Decimal(0), ge=0, le=1_000_000_000, max_digits=18, decimal_places=4
    )
    reorder_point: Decimal = Field(
        default=Decimal(0), ge=0, le=1_000_000_000, max_digits=18, decimal_places=4
    )
    as_of: date | None = Field(default=None, description="day the level was counted")


class DemandHistory(FeedRow, table=True):
    __tablename__ = "demand_history"

    sku: str = Field(primary_key=True, max_length=100)
    location_id: str = Field(primary_key=True, max_length=130)
    week_starting: date = Field(primary_key=True, description="bucketed to the Monday")
    channel: str = Field(default="ALL", primary_key=True, max_length=50)
    actual_demand: Decimal = Field(default=Decimal(0), ge=0, max_digits=18, decimal_places=4)
    forecasted_demand: Decimal | None = Field(
        default=None, ge=0, max_digits=18, decimal_places=4, description="defaults to actual_demand"
    )


INVENTORY = FeedSpec(
    name="inventory",
    model=InventoryLevel,
    description="Inventory levels per SKU and location; missing quantities count as 0.",
    patterns=FEED_PATTERNS["inventory"],
    envelopes=("levels", "inventory"),
    aliases={"sku_id": "sku", "qty_on_hand": "quantity_on_hand", "on_hand": "quantity_on_hand"},
    locations=("location_id",),
    tracked=("quantity_on_hand", "quantity_reserved", "reorder_point"),
    examples={"sku": "SKU-1001", "location_id": "WH1", "quantity_on_hand": "42"},
)

DEMAND_HISTORY = FeedSpec(
    name="demand_history",
    model=DemandHistory,
    description="Weekly demand per SKU, location and channel.",
    patterns=FEED_PATTERNS["demand_history"],
    envelopes=("records", "demand_history"),
    aliases={"sku_id": "sku", "week": "week_starting", "week_start": "week_starting"},
    copy_defaults={"forecasted_demand": ("actual_demand",)},
    locations=("location_id",),
    uppercase=("channel",),
    weeks=("week_starting",),
    tracked=("actual_demand", "forecasted_demand"),
    examples={"sku": "SKU-1001", "location_id": "WH1", "week_starting": "2026-11-02"},
)
