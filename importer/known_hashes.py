"""The partner's live row hashes a batch is compared with, to tell the rows it repeats.

A large file is compared with every live hash of a table, read once: a million of them cost one
query. A small file is compared with those of the live rows that share its rows' first key value
(a product's SKU), found through the primary key: reading all of them cost a 100-row delta to a
million-row catalog 0.4-0.5 s. The smaller set can only call fewer rows unchanged, and a row not
called unchanged is validated and merged, where its values are compared: what is written stays
exact either way.
"""

from __future__ import annotations

import polars as pl

from importer.attempt import FileAttempt
from importer.db.loader import FileLoad
from importer.feeds import FeedSpec
from importer.unchanged import KnownRows, hash_seed

KEYED_LOOKUP_MAX = 5_000
"""distinct first key values a small batch looks up by; beyond them every live hash is read"""


class KnownHashes:
    def __init__(self, attempt: FileAttempt, load: FileLoad, targets: list[FeedSpec]) -> None:
        """Every hash that will be needed whole is read now, before any batch: batches may be
        validated in another thread, which must not use the load's connection."""
        self._load = load
        self._context = attempt.options.validation
        self._keyed = attempt.spec if attempt.small else None
        self._keyed_seed = hash_seed(attempt.spec, self._context)
        self._whole = {
            t.name: KnownRows(load.known_hashes(t), hash_seed(t, self._context))
            for t in targets
            if t is not self._keyed
        }

    def of(self, spec: FeedSpec, records: pl.DataFrame) -> KnownRows:
        """The hashes ``records`` (of ``spec``'s table, their fields as text) are compared with."""
        if spec is not self._keyed:
            return self._whole[spec.name]
        column = spec.key[1]
        values = self._load.backend.bound_values(records, _lookup_values(records, column))
        hashes = (
            self._load.known_hashes(spec)
            if values.distinct > KEYED_LOOKUP_MAX
            else self._load.known_hashes_where(spec, column, values)
        )
        return KnownRows(hashes, self._keyed_seed)


def _lookup_values(records: pl.DataFrame, column: str) -> pl.Expr:
    """The distinct values of ``column`` to look live rows up by (none where the file lacks the
    column). A value with a NUL is a row error, matches nothing stored, and PostgreSQL refuses
    it."""
    value = pl.col(column) if column in records.columns else pl.lit(None, dtype=pl.String)
    usable = value.is_not_null() & ~value.str.contains("\x00", literal=True)
    return value.filter(usable).unique()
