"""The built-in feeds, by name."""

from importer.feeds.catalog import PRODUCTS
from importer.feeds.competitors import COMPETITOR_PRICES
from importer.feeds.customers import CUSTOMERS
from importer.feeds.inventory import DEMAND_HISTORY, INVENTORY
from importer.feeds.orders import ORDER_LINE_ITEMS, ORDERS
from importer.feeds.reviews import RATING_SUMMARIES, REVIEWS
from importer.feeds.spec import ChildSpec, ColumnRule, FeedSpec, Kind
from importer.feeds.suppliers import PURCHASE_ORDER_LINES, PURCHASE_ORDERS, SUPPLIERS

FEEDS: dict[str, FeedSpec] = {
    spec.name: spec
    for spec in (
        PRODUCTS,
        ORDERS,
        ORDER_LINE_ITEMS,
        INVENTORY,
        COMPETITOR_PRICES,
        SUPPLIERS,
        PURCHASE_ORDERS,
        PURCHASE_ORDER_LINES,
        DEMAND_HISTORY,
        CUSTOMERS,
        REVIEWS,
        RATING_SUMMARIES,
    )
}


def tables_of(spec: FeedSpec) -> frozenset[str]:
    """The tables a file of ``spec`` writes: its own, and those of the lists nested in it."""
    return frozenset({spec.table_name, *(FEEDS[child.feed].table_name for child in spec.children)})


def feeds_sharing_tables(spec: FeedSpec) -> list[str]:
    """Feeds whose files write a table that ``spec``'s files write too (orders' nested items
    and the order_line_items feed fill one table)."""
    return [name for name, other in FEEDS.items() if tables_of(other) & tables_of(spec)]


__all__ = ["FEEDS", "ChildSpec", "ColumnRule", "FeedSpec", "Kind", "feeds_sharing_tables"]
