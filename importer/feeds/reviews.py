"""Product reviews and per-product rating summaries (Listrak Review, RatingSummary)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from importer.feed_names import FEED_PATTERNS
from importer.feeds.base import FeedRow, number_field, timestamp_column
from importer.feeds.spec import FeedSpec


class Review(FeedRow, table=True):
    __tablename__ = "reviews"

    review_id: str = Field(primary_key=True, max_length=100)
    sku: str = Field(max_length=100)
    rating: int = Field(ge=1, le=5)
    title: str | None = Field(default=None, max_length=250)
    review_text: str | None = Field(default=None, max_length=4000)
    reviewer_name: str | None = Field(default=None, max_length=100)
    reviewer_email: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=16)
    submitted_at: datetime | None = Field(default=None, sa_type=timestamp_column())


class RatingSummary(FeedRow, table=True):
    __tablename__ = "rating_summaries"

    sku: str = Field(primary_key=True, max_length=100)
    average_rating: float = number_field(required=True, ge=0, le=5)
    review_count: int = Field(ge=0, le=2_147_483_647)


REVIEWS = FeedSpec(
    name="reviews",
    model=Review,
    description="Product reviews, one row per review.",
    patterns=FEED_PATTERNS["reviews"],
    envelopes=("reviews",),
    aliases={"text": "review_text", "body": "review_text", "review_date": "submitted_at"},
    uppercase=("status",),
    tracked=("rating", "status"),
    examples={"review_id": "R-1", "sku": "SKU-1001", "rating": "5"},
)

RATING_SUMMARIES = FeedSpec(
    name="rating_summaries",
    model=RatingSummary,
    description="Average rating and review count per SKU.",
    patterns=FEED_PATTERNS["rating_summaries"],
    envelopes=("rating_summaries", "ratings"),
    aliases={"average": "average_rating", "count": "review_count"},
    tracked=("average_rating", "review_count"),
    examples={"sku": "SKU-1001", "average_rating": "4.50", "review_count": "12"},
)
