"""Line numbers for lines sent without one: their place within their parent, across the file.

The documents give each line of an order its own location and price, so a line is keyed by its
number, not its SKU. A partner that sends ``line_number`` keeps it; otherwise a line is the 1st,
2nd, ... line of its order in the order the file lists them, counted across batches (the counts
so far are one small frame: a number per parent).
"""

from __future__ import annotations

import polars as pl

from importer.feeds import FeedSpec
from importer.raw import ITEM

_PARENT = "__parent"
_PLACE = "__place"
_SEEN = "__seen"
_NOTHING_SEEN = pl.DataFrame(schema={_PARENT: pl.String, _SEEN: pl.Int64})
"""built once: an empty frame costs a file 0.1 ms, and most feeds count no lines"""


class Positions:
    """Fills ``spec``'s positional column (if it has one) batch by batch."""

    def __init__(self, spec: FeedSpec) -> None:
        positional = list(spec.positions.items())
        self.column: str | None = positional[0][0] if positional else None
        self.parent: str | None = positional[0][1] if positional else None
        self._seen = _NOTHING_SEEN
        """lines counted so far, by parent"""

    def fill(self, records: pl.DataFrame) -> pl.DataFrame:
        """``records`` (text columns named by field) with the column filled where blank."""
        if self.column is None or self.parent is None or self.parent not in records.columns:
            return records
        parent = pl.col(self.parent).str.strip_chars()
        placed = (
            records.with_columns(parent.alias(_PARENT))
            .with_columns(pl.int_range(1, pl.len() + 1).over(_PARENT).alias(_PLACE))
            .join(self._seen, on=_PARENT, how="left", maintain_order="left")
        )
        counts = placed.group_by(_PARENT).agg(pl.len().cast(pl.Int64).alias(_SEEN))
        self._seen = pl.concat([self._seen, counts]).group_by(_PARENT).agg(pl.col(_SEEN).sum())
        place = (pl.col(_PLACE) + pl.col(_SEEN).fill_null(0)).cast(pl.String)
        return placed.with_columns(_filled(self.column, records, place)).drop(
            _PARENT, _PLACE, _SEEN
        )


def fill_from_list(spec: FeedSpec, lines: pl.DataFrame) -> pl.DataFrame:
    """Nested lines: a line without its number is numbered by its place in the list."""
    if not spec.positions:
        return lines
    (column,) = spec.positions
    return lines.with_columns(_filled(column, lines, pl.col(ITEM).cast(pl.String)))


def _filled(column: str, frame: pl.DataFrame, place: pl.Expr) -> pl.Expr:
    if column not in frame.columns:
        return place.alias(column)
    sent = pl.col(column).str.strip_chars()
    return pl.when(sent.str.len_bytes() > 0).then(sent).otherwise(place).alias(column)
