"""The order a lane's files apply in: as they arrived (mtime), or by name for backfills."""

from __future__ import annotations

import re
from typing import Literal

from importer.config import Settings

OrderBy = Literal["mtime", "name"]
_DIGITS = re.compile(r"(\d+)")


def order_of(settings: Settings, partner_id: str, feed: str | None) -> OrderBy:
    """The partner's ``order_by``, else the feed's, else arrival order."""
    chosen = settings.partner(partner_id).order_by
    if chosen is None and feed is not None:
        chosen = settings.feed(feed).order_by
    return chosen or "mtime"


def natural_key(name: str) -> tuple[tuple[tuple[int, str, int], ...], str]:
    """Digits compared as numbers, text without case: ``x_2026-2-9`` sorts before ``x_2026-2-10``.

    Each part says whether it is a number, so parts of either kind compare safely; the name
    itself breaks ties (``A1`` and ``a1``).
    """
    parts = tuple(
        (1, "", int(part)) if part.isdigit() else (0, part.lower(), 0)
        for part in _DIGITS.split(name)
        if part
    )
    return parts, name
