"""The feeds' names and file-name patterns, and which feed a file name means, without importing
the feed models: the command line and ``importer status`` need no more (a test keeps them equal to
the feed registry and the ledger's statuses)."""

from __future__ import annotations

import fnmatch
import functools
from pathlib import PurePath
from typing import TYPE_CHECKING

from importer.exceptions import UnroutableFileError

if TYPE_CHECKING:
    from importer.config import Settings

_COMPRESSION_SUFFIXES = (".gz",)

FEED_PATTERNS: dict[str, tuple[str, ...]] = {
    "products": ("products*", "product_*", "catalog*"),
    "orders": ("orders*", "order_*"),
    "order_line_items": ("order_line_items*", "order-line-items*", "order_lines*", "line_items*"),
    "inventory": ("inventory*", "stock*", "levels*"),
    "competitor_prices": ("competitor*",),
    "suppliers": ("suppliers*", "vendors*"),
    "purchase_orders": ("purchase_orders*", "purchase-orders*", "po_*"),
    "purchase_order_lines": ("purchase_order_lines*", "po_lines*"),
    "demand_history": ("demand*", "demand_history*", "demand-history*"),
    "customers": ("customers*",),
    "reviews": ("reviews*",),
    "rating_summaries": ("rating_summar*", "ratings*"),
}
"""each feed's built-in file-name patterns, which ``[feeds.<name>] patterns`` replace"""
FEED_NAMES = tuple(FEED_PATTERNS)
ROUTED_NAMES_KEPT = 16384
"""file names whose feed is remembered: more than a large backlog holds"""
JOB_STATUSES = ("PENDING", "PROCESSING", "COMPLETED", "FAILED", "DUPLICATE", "ABANDONED")


def feed_patterns(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each feed's file-name patterns: the configured ones, else the built-in ones."""
    return {
        name: tuple(settings.feed(name).patterns or built_in)
        for name, built_in in FEED_PATTERNS.items()
    }


def feed_named_by(file_name: str, settings: Settings) -> str:
    """The feed whose most specific pattern matches the file's name."""
    stem = file_name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        stem = stem.removesuffix(suffix)
    stem = PurePath(stem).stem if "." in stem else stem
    patterns = feed_patterns(settings)
    feed = _best_match(stem, tuple(patterns.items()))
    if feed is None:
        known = "; ".join(f"{name}: {', '.join(each)}" for name, each in patterns.items())
        raise UnroutableFileError(f"file name {file_name!r} matches no feed pattern ({known})")
    return feed


@functools.lru_cache(maxsize=ROUTED_NAMES_KEPT)
def _best_match(stem: str, patterns: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """Remembered: every scan routes each waiting file again, and a backlog of a thousand files
    cost the daemon's loop 35 ms a scan in pattern matching."""
    matches = [
        (len(pattern.replace("*", "")), name)
        for name, named in patterns
        for pattern in named
        if fnmatch.fnmatchcase(stem, pattern.lower())
    ]
    return max(matches)[1] if matches else None
