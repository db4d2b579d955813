"""Map a partner's column names onto a feed's fields: trim, snake_case, then aliases."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from importer.exceptions import HeaderError
from importer.feeds import FeedSpec
from importer.problems import Problem
from importer.reading import column_name

_ACRONYM_BOUNDARY = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")


def snake_case(header: str) -> str:
    """``"  externalId"`` -> ``external_id``; ``"Unit Price"`` -> ``unit_price``."""
    text = header.replace("\ufeff", "").strip()
    text = _ACRONYM_BOUNDARY.sub(r"\1_\2", text)
    text = _CAMEL_BOUNDARY.sub(r"\1_\2", text)
    return _NON_WORD.sub("_", text).strip("_").lower()


@dataclass(frozen=True)
class HeaderMap:
    """The file's column names resolved against a feed."""

    fields: dict[int, str]
    """column position -> feed field, for the columns that load"""
    unknown: list[str]
    """raw headers that match no field; reported and ignored"""

    def named(self, frame: pl.DataFrame, keep: tuple[str, ...]) -> pl.DataFrame:
        """Positional columns renamed to the fields they map to; unknown columns dropped."""
        return frame.select(
            *(c for c in keep if c in frame.columns),
            *(pl.col(column_name(position)).alias(name) for position, name in self.fields.items()),
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
    unknown: list[str] = []
    seen: dict[str, list[str]] = {}
    for position, raw in enumerate(raw_headers):
        name = snake_case(raw)
        field = alias_map.get(name, name)
        if field in known:
            fields[position] = field
            seen.setdefault(field, []).append(raw)
        else:
            unknown.append(raw)
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
    return HeaderMap(fields=fields, unknown=unknown)
