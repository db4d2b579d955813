"""JSON and NDJSON to a :class:`~importer.raw.RawTable`, in two passes of batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from importer.exceptions import UnreadableFileError
from importer.json_records import JsonBatch, JsonLimits, array_as_ndjson, json_batches
from importer.names import snake_case
from importer.raw import ITEM, ROW, UNREADABLE, RawTable, ReadOptions, column_name
from importer.scratch import Scratch


def read_json(path: Path, ndjson: bool, options: ReadOptions, scratch: Scratch) -> RawTable:
    """A JSON array, NDJSON, or an object wrapping one array (``{"products": [...]}``), read in
    two passes of batches: the first learns every field any record has (so every batch has the
    same columns), the second hands the batches on. Lines nested in the records come batch by
    batch with their records. An array is first written out as NDJSON in ``scratch``."""
    limits = JsonLimits(options.batch_rows, options.max_record_bytes, options.nested_lists)
    lines = path if ndjson else array_as_ndjson(path, scratch / "records.ndjson", limits)
    fields = _json_fields(json_batches(lines, limits), options)
    stream = _JsonStream(json_batches(lines, limits), fields)
    return RawTable(list(fields.scalars), stream.records(), stream.children)


@dataclass
class JsonFields:
    """Every field the file's records have, flattened, in the order first seen."""

    scalars: dict[str, None] = field(default_factory=dict)
    lists: dict[str, dict[str, None]] = field(default_factory=dict)
    """the lines of each record (``items``), by list name: their fields"""


def _json_fields(batches: Iterator[JsonBatch], options: ReadOptions) -> JsonFields:
    fields = JsonFields()
    first_unreadable: tuple[int, str] | None = None
    for batch in batches:
        first_unreadable = first_unreadable or next(iter(batch.unreadable), None)
        for name, dtype in _flat_schema(batch.records.schema).items():
            if _is_lines(name, dtype, options.nested_lists):
                lines = fields.lists.setdefault(name, {})
                inner = dtype.inner if isinstance(dtype, pl.List) else None
                if isinstance(inner, pl.Struct):
                    lines.update(dict.fromkeys(_flat_schema(pl.Schema(inner.to_schema()))))
            else:
                fields.scalars[name] = None
        if len(fields.scalars) > options.max_columns:
            raise UnreadableFileError(
                f"records with {len(fields.scalars)} fields in all, more than "
                f"limits.max_columns ({options.max_columns})"
            )
    if not fields.scalars and not fields.lists and first_unreadable:
        row, why = first_unreadable
        raise UnreadableFileError(f"record {row}: {why}; no record could be read")
    return fields


def _flat_schema(schema: pl.Schema) -> dict[str, pl.DataType]:
    """Field names as :func:`_flatten` makes them (``address_city``), with their types."""
    flat: dict[str, pl.DataType] = {}
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Struct):
            inner = _flat_schema(pl.Schema(dtype.to_schema()))
            flat.update({f"{name}_{child}": kind for child, kind in inner.items()})
        else:
            flat[name] = dtype
    return flat


def _is_lines(name: str, dtype: pl.DataType, nested_lists: frozenset[str]) -> bool:
    return (
        isinstance(dtype, pl.List)
        and isinstance(dtype.inner, pl.Struct | pl.Null)
        and snake_case(name) in nested_lists
    )


class _JsonStream:
    """The second pass: each batch's records, and its lines for each list, under the positional
    names of the fields the first pass found. A list's lines are the latest batch's: they are
    taken right after their records."""

    def __init__(self, batches: Iterator[JsonBatch], fields: JsonFields) -> None:
        self._batches = batches
        self._fields = fields
        self._lines: dict[str, pl.DataFrame] = {}
        self.children = {
            name: RawTable(list(names), self._lines_of_batches(name), carriers=_no_carriers())
            for name, names in fields.lists.items()
        }
        """each list's lines; their ``carriers`` grow as the records are read"""

    def records(self) -> Iterator[pl.DataFrame]:
        for batch in self._batches:
            frame = _flatten(
                batch.records.with_columns(pl.Series(ROW, batch.rows, dtype=pl.Int64))
                if batch.rows
                else pl.DataFrame(schema={ROW: pl.Int64})
            )
            for name, names in self._fields.lists.items():
                self._lines[name] = self._lines_of(frame, name, names)
            records = _aligned(frame, self._fields.scalars)
            if batch.unreadable:
                records = pl.concat([records, _unreadable(batch.unreadable)], how="diagonal")
            yield records

    def _lines_of_batches(self, name: str) -> Iterator[pl.DataFrame]:
        while True:
            yield self._lines.pop(name, _no_lines(self._fields.lists[name]))

    def _lines_of(self, frame: pl.DataFrame, name: str, names: dict[str, None]) -> pl.DataFrame:
        if name not in frame.columns:
            return _no_lines(names)
        sent = frame.filter(pl.col(name).is_not_null()).get_column(ROW)
        table = self.children[name]
        table.carriers = pl.concat(
            [_no_carriers() if table.carriers is None else table.carriers, sent]
        )
        if not isinstance(frame.schema[name], pl.List) or not names:
            return _no_lines(names)
        exploded = (
            frame.select(ROW, name)
            .with_columns(pl.int_ranges(1, pl.col(name).list.len() + 1).alias(ITEM))
            .explode(name, ITEM)
            .filter(pl.col(name).is_not_null())
            .unnest(name)
        )
        lines = _flatten(exploded)
        return pl.concat(
            [lines.select(ROW, pl.col(ITEM).cast(pl.Int64)), _aligned(lines, names).drop(ROW)],
            how="horizontal",
        )


def _aligned(frame: pl.DataFrame, names: dict[str, None]) -> pl.DataFrame:
    """``frame``'s fields as text under their positional names; fields it lacks are empty."""
    schema = frame.schema
    return frame.select(
        pl.col(ROW),
        *(
            (
                _as_string(pl.col(name), schema[name])
                if name in schema
                else pl.lit(None, dtype=pl.String)
            ).alias(column_name(i))
            for i, name in enumerate(names)
        ),
    )


def _no_carriers() -> pl.Series:
    return pl.Series(ROW, [], dtype=pl.Int64)


def _no_lines(names: dict[str, None]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            ROW: pl.Int64,
            ITEM: pl.Int64,
            **{column_name(i): pl.String for i in range(len(names))},
        }
    )


def _unreadable(problems: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {ROW: [row for row, _ in problems], UNREADABLE: [why for _, why in problems]},
        schema={ROW: pl.Int64, UNREADABLE: pl.String},
    )


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested objects become ``parent_child`` columns (``address.city`` -> ``address_city``)."""
    while structs := [n for n, t in frame.schema.items() if isinstance(t, pl.Struct)]:
        frame = frame.with_columns(
            pl.col(name).name.prefix_fields(f"{name}_") for name in structs
        ).unnest(structs)
    return frame


def _as_string(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """JSON scalars to text. A list of scalars becomes ``[1, 2]`` text, which validation then
    reports against the field like any other wrong value; a list of objects that loads as no
    lines becomes its JSON text; deeper nesting fails the file."""
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        return pl.format("[{}]", expr.list.eval(pl.element().struct.json_encode()).list.join(","))
    if isinstance(dtype, pl.List | pl.Array):
        inner = dtype.inner
        if isinstance(inner, pl.List | pl.Array | pl.Struct):
            raise UnreadableFileError(
                "a JSON value holds lists of lists or objects where a plain value belongs"
            )
        return pl.format("[{}]", expr.list.eval(pl.element().cast(pl.String)).list.join(", "))
    if isinstance(dtype, pl.Boolean):
        return expr.cast(pl.String).str.to_lowercase()
    return expr.cast(pl.String, strict=False)
