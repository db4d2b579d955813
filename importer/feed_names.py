"""The names the command line offers before anything heavy is imported (a test keeps them equal
to the feed registry and the ledger's statuses)."""

from __future__ import annotations

FEED_NAMES = (
    "products",
    "orders",
    "order_line_items",
    "inventory",
    "competitor_prices",
    "suppliers",
    "purchase_orders",
    "purchase_order_lines",
    "demand_history",
    "customers",
    "reviews",
    "rating_summaries",
)
JOB_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "DUPLICATE", "ABANDONED")
