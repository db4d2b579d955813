"""The natural keys of a whole file, kept as 64-bit digests: 16 bytes a row however long the key.

Finding repeated keys and, in snapshot mode, the keys a file no longer holds needs every key of
the file at the end. Keeping the values themselves would grow with the file's width and length;
the digests do not. Equal keys have equal digests, so a repeat is never missed; different keys
with equal digests (a collision) are told apart by comparing the real values of those few rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from importer import frames
from importer.feeds import FeedSpec
from importer.raw import ROW

KEY_SEED = 0x1A90_5EED
DIGEST = "__key"


def key_digests(rows: pl.DataFrame, key: Iterable[str]) -> pl.Series:
    """One 64-bit number per row's natural key; rows typed alike give equal keys equal numbers.
    Hashed as a frame of the key's columns, without a query (which cost a small file 0.1 ms)."""
    return frames.columns(rows, key).hash_rows(seed=KEY_SEED).alias(DIGEST)


class FileKeys:
    """``_row`` and key digest of every valid row of one file, batch by batch."""

    def __init__(self, spec: FeedSpec) -> None:
        self.key = spec.key
        self._parts: list[pl.DataFrame] = []
        self.schema = pl.Schema()
        """the key columns' types, to type keys read back from the database alike"""

    def add(self, rows: pl.DataFrame) -> None:
        if not self._parts:
            schema = rows.schema  # built anew at each call
            self.schema = pl.Schema({k: schema[k] for k in self.key})
        self._parts.append(frames.columns(rows, (ROW,), key_digests(rows, self.key)))

    def drop(self, rows: pl.Series) -> None:
        """Forget rows that will not be loaded (repeated keys)."""
        if rows.is_empty():
            return
        self._parts = [self._all().filter(~pl.col(ROW).is_in(rows.implode()))]

    def repeated_rows(self) -> pl.Series:
        """Rows whose key digest is shared with another row: the candidates for repeated keys."""
        everything = self._all()
        digests = everything.get_column(DIGEST)
        if digests.n_unique() == len(digests):  # the usual file: 16 us for 100 rows, not 0.3 ms
            return pl.Series(ROW, [], dtype=pl.Int64)
        ordered = digests.sort()
        shared = ordered.filter(ordered == ordered.shift(1)).unique()
        return everything.filter(pl.col(DIGEST).is_in(shared.implode())).get_column(ROW)

    def sorted_digests(self) -> pl.Series:
        return self._all().get_column(DIGEST).sort()

    def _all(self) -> pl.DataFrame:
        if len(self._parts) > 1:
            self._parts = [pl.concat(self._parts)]
        if not self._parts:
            return pl.DataFrame(schema={ROW: pl.Int64, DIGEST: pl.UInt64})
        return self._parts[0]
