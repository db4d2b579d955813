"""CSV and TSV to a :class:`~importer.raw.RawTable`: the header, then blocks of whole records."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from importer.csv_plain import split_plain
from importer.csv_records import (
    UnplacedRecordError,
    bounded_lines,
    exact_records,
    record_blocks,
)
from importer.exceptions import UnreadableFileError
from importer.raw import ROW, ByteScan, RawTable, ReadOptions, check_utf8, column_name

DELIMITER_CANDIDATES = (",", ";", "\t", "|")
MAX_HEADER_CHARS = 1000
SEP_LINE = re.compile(r"sep=(.)\r?\n?")
"""a spreadsheet's first line naming the separator: ``sep=;``"""
LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""what a text editor counts as the end of a line, inside quoted values too"""


@dataclass(frozen=True)
class CsvHeader:
    fields: list[str]
    separator: str
    records: int
    """records before the data: the header, and a spreadsheet's ``sep=;`` line before it"""
    lines: int


def read_csv(path: Path, options: ReadOptions) -> RawTable:
    try:
        header = _read_header(path, options)
    except UnicodeDecodeError:
        check_utf8(path)  # names the line of the bad byte
        raise
    names = [column_name(i) for i in range(len(header.fields))]
    scan = ByteScan()
    frames = _csv_frames(path, header, names, scan, options)
    return RawTable(header.fields, _rebatched(frames, options.batch_rows), scan=scan)


def _csv_frames(
    path: Path, header: CsvHeader, names: list[str], scan: ByteScan, options: ReadOptions
) -> Iterator[pl.DataFrame]:
    """Blocks of whole records, each parsed by Polars; from the first record the blocks cannot
    place or Polars refuses, the exact reader takes over (see :mod:`importer.csv_records`).
    Memory holds one block, not the file (a memory-mapped file would count in full against the
    resident size)."""
    blocks = record_blocks(path, header.lines + 1, header.records, scan, options.max_record_bytes)
    try:
        for block in blocks:
            try:
                frame = _parse_block(block.data, header.separator, names)
            except pl.exceptions.PolarsError:
                break
            scan.handed_bytes = block.offset + len(block.data)
            scan.handed_rows += frame.height
            yield _number_lines(frame, block.first_line, block.lines)
        else:
            return
    except UnplacedRecordError as unplaced:
        offset, line = unplaced.offset, unplaced.first_line
    else:
        offset, line = block.offset, block.first_line
    scan.nul_seen = True  # the exact reader does not look for NUL: the values are checked
    records = exact_records(path, offset, line, header.separator, options.max_record_bytes)
    yield from _exact_frames(records, names, options.batch_rows)


def _exact_frames(
    records: Iterator[tuple[int, list[str]]], names: list[str], batch_rows: int
) -> Iterator[pl.DataFrame]:
    """The exact reader's records in frames like the fast path's (empty values missing, blank
    records skipped); per-record Python, for the rest of a file the fast path could not read."""
    width = len(names)
    lines: list[int] = []
    rows: list[list[str | None]] = []
    for line, record in records:
        if len(record) > width:
            raise UnreadableFileError(
                f"line {line}: {len(record)} fields, more fields than the {width} columns of "
                "the header"
            )
        if any(record):
            lines.append(line)
            rows.append([value or None for value in record] + [None] * (width - len(record)))
        if len(rows) == batch_rows:
            yield _records_frame(lines, rows, names)
            lines, rows = [], []
    if rows:
        yield _records_frame(lines, rows, names)


def _records_frame(
    lines: list[int], rows: list[list[str | None]], names: list[str]
) -> pl.DataFrame:
    values = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
    return values.with_columns(pl.Series(ROW, lines, dtype=pl.Int64))


def _read_header(path: Path, options: ReadOptions) -> CsvHeader:
    """The header's fields and the separator: configured, named by a spreadsheet's ``sep=;``
    first line, or guessed from the header."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        lines = bounded_lines(handle, options.max_record_bytes)
        first_line = next(lines, "")
        if not first_line.strip():
            raise UnreadableFileError("the file is empty: no header line")
        declared = SEP_LINE.fullmatch(first_line.lstrip("\ufeff"))
        if declared:
            first_line = next(lines, "")
        separator = (declared and declared.group(1)) or options.delimiter
        separator = separator or _guess_delimiter(first_line)
        csv.field_size_limit(options.max_record_bytes)
        try:
            fields = next(csv.reader(itertools.chain([first_line], lines), delimiter=separator))
        except (csv.Error, StopIteration) as exc:
            raise UnreadableFileError(
                "line 1: the header cannot be read as CSV (a quote in it is never closed?)"
            ) from exc
    if longest := max((len(f) for f in fields if len(f) > MAX_HEADER_CHARS), default=0):
        raise UnreadableFileError(
            f"line 1: a column name of {longest} characters: is the first line the header?"
        )
    if len(fields) > options.max_columns:
        raise UnreadableFileError(
            f"line 1: {len(fields)} columns, more than limits.max_columns ({options.max_columns})"
        )
    lines_before = (2 if declared else 1) + sum(len(LINE_BREAK.findall(f)) for f in fields)
    return CsvHeader(fields, separator, 2 if declared else 1, lines_before)


def _guess_delimiter(header_line: str) -> str:
    """The candidate that splits the header most; a comma when none appears."""
    counts = {d: header_line.count(d) for d in DELIMITER_CANDIDATES}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _parse_block(block: bytes, separator: str, names: list[str]) -> pl.DataFrame:
    split = split_plain(block, separator, names)
    return split if split is not None else parsed_by_polars(block, separator, names)


def parsed_by_polars(block: bytes, separator: str, names: list[str]) -> pl.DataFrame:
    """Whole records as string columns named ``names``; raises a Polars error where it cannot
    read them (the exact reader takes over)."""
    return pl.read_csv(
        block,
        separator=separator,
        has_header=False,
        schema=dict.fromkeys(names, pl.String),
        missing_columns="insert",
        quote_char='"',
        encoding="utf8",
    )


def _rebatched(frames: Iterator[pl.DataFrame], batch_rows: int) -> Iterator[pl.DataFrame]:
    """Frames of exactly ``batch_rows`` rows (the last one shorter), whatever the blocks held."""
    pending: list[pl.DataFrame] = []
    held = 0
    for frame in frames:
        pending.append(frame)
        held += frame.height
        if held >= batch_rows:
            joined = pl.concat(pending, rechunk=False)
            whole = held - held % batch_rows
            for start in range(0, whole, batch_rows):
                yield joined.slice(start, batch_rows)
            rest = joined.slice(whole)
            pending, held = [rest], rest.height
    if held:
        yield pl.concat(pending)


def _number_lines(batch: pl.DataFrame, first_line: int, lines: int) -> pl.DataFrame:
    """Give each record the line it starts on: quoted line breaks make records span lines.

    When the block has one line per record, which its line count tells, no value is searched.
    """
    if lines == batch.height:
        starts = pl.int_range(first_line, first_line + lines, dtype=pl.Int64, eager=True)
        numbered = batch.hstack([starts.alias(ROW)])  # no query, as ``with_columns`` runs
    else:
        newlines = pl.sum_horizontal(
            pl.col(name).str.count_matches(LINE_BREAK.pattern).fill_null(0)
            for name in batch.columns
        )
        span = (newlines + 1).cast(pl.Int64)
        numbered = batch.with_columns((first_line + span.cum_sum() - span).alias(ROW))
    if min(batch.null_count().row(0), default=0) == 0:
        return numbered  # a column with a value in every record: no record is blank
    blank = pl.all_horizontal(pl.col(name).is_null() for name in batch.columns)
    return numbered.filter(~blank)
