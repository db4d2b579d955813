"""Competitor prices observed per day (Luca competitor-data)."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow, number_field, store_key
from importer.feeds.spec import FeedSpec


class CompetitorPrice(FeedRow, table=True):
    __tablename__ = "competitor_prices"

    sku: str = Field(primary_key=True, max_length=100)
    competitor: str = Field(primary_key=True, max_length=100, description="competitor name")
    observed_on: date = Field(primary_key=True, description="day the price was seen")
    price: float = number_field(required=True, ge=0)
    currency: str | None = Field(default=None, max_length=3, description="ISO 4217 code")
    in_stock: bool | None = Field(default=None)
    url: str | None = Field(default=None, max_length=500)
    store_id: str = store_key("store the price was seen for")


COMPETITOR_PRICES = FeedSpec(
    name="competitor_prices",
    model=CompetitorPrice,
    description="Competitor prices, one row per SKU, competitor, day (and store).",
    patterns=FEED_PATTERNS["competitor_prices"],
    envelopes=("competitor_data", "competitor_prices"),
    aliases={"competitor_name": "competitor", "date": "observed_on", "observed_at": "observed_on"},
    date_formats=("MM-DD-YYYY",),
    tracked=("price", "in_stock"),
    examples={"sku": "SKU-1001", "competitor": "ShoeBarn", "observed_on": "11-02-2026"},
)
