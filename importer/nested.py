"""Lists nested in each record (``orders[].items``, ``purchase_orders[].lines``).

Each list is matched to the child feed it loads into and validated with its parent record: a
line inherits its parent's key, and a bad line rejects its record. A record that carries its
list states the whole list: the lines it no longer holds are marked deleted after the load, so
for each such parent the file keeps the parents' keys and a digest of every line's key. A record
without the list leaves its lines alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import polars as pl

from importer.exceptions import HeaderError
from importer.feeds import FEEDS, ChildSpec, FeedSpec
from importer.file_keys import FileKeys
from importer.headers import HeaderMap, resolve_headers
from importer.names import snake_case
from importer.positions import fill_from_list
from importer.problems import Problem
from importer.raw import ITEM, LINE_COUNT, ROW, RawTable
from importer.unchanged import KnownRows, validate_changed
from importer.validation import ValidatedBatch, ValidationContext, duplicate_keys


@dataclass
class NestedList:
    """One nested list of a file, and what the file said of it so far."""

    link: ChildSpec
    spec: FeedSpec
    list_name: str
    table: RawTable
    headers: HeaderMap
    keys: FileKeys = field(init=False)
    """digests of the keys of every line loaded"""
    _parents: list[pl.DataFrame] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.keys = FileKeys(self.spec)

    def take(self, parents: pl.DataFrame, lines: pl.DataFrame) -> None:
        """Remember a batch's accepted lines, and those of its accepted parents that sent the
        list (their key as the child table names it)."""
        self.keys.add(lines)
        carriers = self.table.carriers
        if carriers is None or carriers.is_empty():
            return
        inherited = {c: p for c, p in self.link.inherited.items() if p in parents.columns}
        sent = lines.group_by(ROW).len(name=LINE_COUNT)
        self._parents.append(
            parents.filter(pl.col(ROW).is_in(carriers.implode()))
            .select(ROW, *(pl.col(parent).alias(child) for child, parent in inherited.items()))
            .join(sent, on=ROW, how="left")
            .with_columns(pl.col(LINE_COUNT).fill_null(0).cast(pl.Int64))
        )

    def drop(self, rows: pl.Series) -> None:
        """Forget the lines and parents of records that will not load."""
        self.keys.drop(rows)
        self._parents = [p.filter(~pl.col(ROW).is_in(rows.implode())) for p in self._parents]

    def carried_parents(self) -> pl.DataFrame:
        """The keys of the loaded parents whose list the file sent, and how many lines each
        list held (:data:`LINE_COUNT`)."""
        if not self._parents:
            return pl.DataFrame()
        return pl.concat(self._parents).drop(ROW)


def nested_lists(raw: RawTable, spec: FeedSpec, aliases: Mapping[str, str]) -> list[NestedList]:
    """The file's nested lists that ``spec`` knows, each with its headers resolved."""
    lists = {f for link in spec.children for f in link.list_fields}
    for header in raw.headers:
        if snake_case(header) in lists:
            raise HeaderError(
                f"{header}: must be a list of objects (one per line)",
                [Problem(1, header, None, "must be a list of objects (one per line)")],
            )
    found = []
    for link in spec.children:
        child_spec = FEEDS[link.feed]
        for list_name, table in raw.children.items():
            if snake_case(list_name) in link.list_fields:
                # Lists that are all empty have no fields to check, only lines to clear.
                headers = (
                    resolve_headers(
                        table.headers, child_spec, aliases, provided=frozenset(link.inherited)
                    )
                    if table.headers
                    else HeaderMap({})
                )
                found.append(NestedList(link, child_spec, list_name, table, headers))
                break
    return found


def validate_lines(
    nested: NestedList, records: pl.DataFrame, context: ValidationContext, known: KnownRows
) -> ValidatedBatch:
    """Lines of the records in this batch, keyed to their record; a bad line rejects its record."""
    lines = next(nested.table.frames)  # the lines of this batch's records
    lines = nested.headers.named(lines.join(records.select(ROW), on=ROW, how="semi"), (ROW, ITEM))
    lines = fill_from_list(nested.spec, lines)
    inherited = [p for p in nested.link.inherited.values() if p in records.columns]
    lines = lines.join(
        records.select(ROW, *(pl.col(p).alias(f"__parent_{p}") for p in inherited)),
        on=ROW,
        how="left",
    ).with_columns(
        (
            pl.coalesce(pl.col(child), pl.col(f"__parent_{parent}"))
            if child in lines.columns
            else pl.col(f"__parent_{parent}")
        ).alias(child)
        for child, parent in nested.link.inherited.items()
        if parent in inherited
    )
    prefixed = replace(context, column_prefix=nested.list_name)
    checked = validate_changed(lines, nested.spec, prefixed, known)
    duplicates, _ = duplicate_keys(
        checked.rows.select(ROW, *nested.spec.key), nested.spec.key, keep_last=False
    )
    return ValidatedBatch(checked.rows, pl.concat([checked.problems, duplicates]))
