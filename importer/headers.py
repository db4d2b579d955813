"""Map a partner's column names onto a feed's fields: trim, snake_case, then aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import polars as pl

from importer.exceptions import HeaderError
from importer.feeds import FeedSpec
from importer.feeds.base import EXTRA_COLUMN
from importer.frames import columns, constant
from importer.names import snake_case
from importer.problems import Problem
from importer.raw import column_name

_RECORD = "__record"


@dataclass(frozen=True)
class HeaderMap:
    """The file's column names resolved against a feed."""

    fields: dict[int, str]
    """column position -> feed field, for the columns that load"""
    others: dict[int, str] = dataclass_field(default_factory=dict)
    """column position -> raw header, for the columns that match no field: kept in ``extra``"""

    @property
    def unknown(self) -> list[str]:
        """The raw headers that match no field, for the report."""
        return list(self.others.values())

    def named(self, frame: pl.DataFrame, keep: tuple[str, ...]) -> pl.DataFrame:
        """Positional columns renamed to the fields they map to; the others gathered in
        ``extra``."""
        return columns(
            frame,
            (c for c in keep if c in frame.columns),
            *(frame.get_column(column_name(p)).alias(name) for p, name in self.fields.items()),
            self._extra(frame),
        )

    def _extra(self, frame: pl.DataFrame) -> pl.Series:
        """``{"Gift Message": "Happy birthday"}``: each value sent, as text, under its header as
        sent; empty values left out, and no object where nothing is left. Built from the values
        in one long column, so a file of thousands of unknown columns costs what its cells do."""
        present = set(frame.columns)
        others = {column_name(p): h for p, h in self.others.items() if column_name(p) in present}
        if not others:
            return constant(EXTRA_COLUMN, None, frame.height, pl.String())
        pairs = (
            frame.select(*others)
            .with_row_index(_RECORD)
            .unpivot(index=_RECORD, variable_name="column", value_name="value")
            .filter(pl.col("value").str.len_bytes() > 0)
            .select(
                _RECORD,
                pl.concat_str(
                    _json_string(pl.col("column").replace_strict(others)),
                    pl.lit(":"),
                    _json_string(pl.col("value")),
                ).alias("pair"),
            )
            .group_by(_RECORD, maintain_order=True)
            .agg(
                pl.concat_str(pl.lit("{"), pl.col("pair").str.join(","), pl.lit("}")).alias("pair")
            )
        )
        return (
            pl.DataFrame({_RECORD: pl.int_range(frame.height, eager=True, dtype=pl.UInt32)})
            .join(pairs, on=_RECORD, how="left")
            .get_column("pair")
            .alias(EXTRA_COLUMN)
        )


def _json_string(text: pl.Expr) -> pl.Expr:
    """A string as a JSON literal, escapes and all: ``{"v":"..."}`` without its wrapping."""
    return (
        pl.struct(text.alias("v"))
        .struct.json_encode()
        .str.strip_prefix('{"v":')
        .str.strip_suffix("}")
    )


def resolve_headers(
    raw_headers: Sequence[str],
    spec: FeedSpec,
    aliases: Mapping[str, str],
    provided: frozenset[str] = frozenset(),
) -> HeaderMap:
    """Match headers to fields; missing required or duplicated columns fail the whole file.

    ``aliases`` (config, keyed by any spelling of the partner's header) win over the feed's
    built-in aliases; ``provided`` names fields filled from elsewhere (a parent record).
    """
    known = {rule.name for rule in spec.columns}
    alias_map = {snake_case(k): v for k, v in spec.aliases.items()}
    alias_map.update({snake_case(k): v for k, v in aliases.items()})
    fields: dict[int, str] = {}
    others: dict[int, str] = {}
    seen: dict[str, list[str]] = {}
    for position, raw in enumerate(raw_headers):
        name = snake_case(raw)
        field = alias_map.get(name, name)
        if field in known:
            fields[position] = field
            seen.setdefault(field, []).append(raw)
        else:
            others[position] = raw
    problems = [
        Problem(
            1,
            field,
            ", ".join(repr(r) for r in raws),
            f"{len(raws)} headers map to column {field!r}",
        )
        for field, raws in seen.items()
        if len(raws) > 1
    ]
    required = [
        rule.name
        for rule in spec.columns
        if rule.required
        and rule.name not in provided
        and rule.name not in spec.copy_defaults
        and rule.name not in spec.positions
    ]
    problems += [
        Problem(1, name, None, "required column is missing")
        for name in required
        if name not in seen
    ]
    if problems:
        raise HeaderError("; ".join(f"{p.column}: {p.error}" for p in problems), problems)
    return HeaderMap(fields=fields, others=others)
