"""Turn a partner's bytes into string-typed Polars frames, whatever the format.

Every value is read as a string first: types are decided by validation, so a bad value becomes a
row error with its line number instead of a parse failure of the whole file. Columns are named by
position (``_c0``, ``_c1``, ...) so duplicate or blank headers cannot collide before they are
reported. ``_row`` carries the number a person finds in the file: the CSV line (header = line 1)
or the JSON record (first = 1).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import itertools
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import polars as pl

from importer.csv_records import (
    CSV_BLOCK_BYTES,
    UnplacedRecordError,
    bounded_lines,
    exact_records,
    record_blocks,
)
from importer.exceptions import UnreadableFileError
from importer.json_records import JsonBatch, JsonLimits, json_batches
from importer.names import snake_case
from importer.sniffing import GZIP_MAGIC, ends_lines_with_cr, text_encoding, with_line_feeds

Format = Literal["csv", "tsv", "json", "ndjson"]
ROW = "_row"
ITEM = "_item"
UNREADABLE = "_unreadable"
"""JSON only: why a record could not be read (it is no object, or holds NaN); its row has
nothing else"""
LINE_COUNT = "_lines"
"""the number of lines a parent's nested list held"""
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
MAX_HEADER_CHARS = 1000
SEP_LINE = re.compile(r"sep=(.)\r?\n?")
"""a spreadsheet's first line naming the separator: ``sep=;``"""
LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""what a text editor counts as the end of a line, inside quoted values too"""
_SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def column_name(position: int) -> str:
    return f"_c{position}"


class ByteScan:
    """UTF-8 validity and NUL bytes, checked block by block as the reader goes rather than in
    passes of their own before the first row: a bad byte late in the file fails it as late, and
    the load's transaction is rolled back like for any other late error."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._line = 1
        self.nul_seen = False

    def take(self, block: bytes) -> None:
        """Check the next block of the file's bytes."""
        pending = self._decoder.getstate()[0]
        try:
            self._decoder.decode(block)
        except UnicodeDecodeError as exc:
            data = pending + block  # what the error's offset counts in
            line = self._line + data.count(b"\n", 0, exc.start)
            raise UnreadableFileError(_not_utf8(line, data[exc.start])) from exc
        self._line += block.count(b"\n")
        self.nul_seen = self.nul_seen or b"\x00" in block

    def end(self) -> None:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise UnreadableFileError("the file ends inside a UTF-8 character") from exc


@dataclass
class RawTable:
    """Headers as the partner wrote them and the rows, in batches, under positional names."""

    headers: list[str]
    frames: Iterator[pl.DataFrame]
    children: dict[str, RawTable] = field(default_factory=dict)
    """JSON only: nested lists of records by their raw field name; ``_row`` is the parent's"""
    scan: ByteScan | None = None
    """CSV only: what the bytes read so far hold"""
    carriers: pl.Series | None = None
    """nested lists only: the parent rows that sent the list, an empty one included (a parent
    without it says nothing about its children)"""

    @property
    def nul_free(self) -> bool:
        """No NUL byte in the text read so far, so no value of a batch read so far holds one."""
        return self.scan is not None and not self.scan.nul_seen


@dataclass(frozen=True)
class ReadOptions:
    encoding: str = "utf-8"
    delimiter: str | None = None
    batch_rows: int = 40_000
    max_file_bytes: int = 4 << 30
    max_decompressed_bytes: int = 16 << 30
    max_json_bytes: int = 16 << 30
    max_record_bytes: int = 16 << 20
    max_columns: int = 2000
    nested_lists: frozenset[str] = frozenset()
    """JSON: the lists of objects that load as lines (``items``); any other such list is kept
    as JSON text, like a value of its own"""


def detect_format(name: str) -> Format | None:
    """By extension, ignoring a trailing ``.gz``."""
    path = Path(name.lower())
    if path.suffix == ".gz":
        path = path.with_suffix("")
    return _SUFFIX_FORMATS.get(path.suffix)


@contextlib.contextmanager
def open_table(path: Path, options: ReadOptions) -> Iterator[RawTable]:
    """Read ``path``; temporary files made on the way (decompressed, re-encoded) are removed after."""
    size = path.stat().st_size
    if size > options.max_file_bytes:
        raise UnreadableFileError(
            f"the file is {size} bytes, over the limit of {options.max_file_bytes} (limits.max_file_bytes)"
        )
    with tempfile.TemporaryDirectory(prefix="importer-") as scratch:
        plain = _decompressed(path, Path(scratch), options.max_decompressed_bytes)
        encoding = text_encoding(plain) or options.encoding
        utf8 = _as_utf8(plain, encoding, Path(scratch))
        if ends_lines_with_cr(utf8):
            utf8 = with_line_feeds(utf8, Path(scratch) / "lines")
        fmt = detect_format(path.name) or _sniff_format(utf8)
        if fmt in ("json", "ndjson"):
            _check_json_size(utf8.stat().st_size, options.max_json_bytes)
            _check_utf8(utf8)
            yield _read_json(utf8, fmt, options)
        else:
            delimiter = options.delimiter or ("\t" if fmt == "tsv" else None)
            yield _read_csv(utf8, replace(options, delimiter=delimiter))


def _decompressed(path: Path, scratch: Path, limit: int) -> Path:
    """Gunzip into ``scratch``, stopping at ``limit`` bytes: a small bomb cannot fill the disk."""
    with path.open("rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            return path
    target = scratch / "decompressed"
    written = 0
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise UnreadableFileError(
                        f"the gzip data expands past {limit} bytes (limits.max_decompressed_bytes)"
                    )
                sink.write(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(f"gzip data is damaged or truncated: {exc}") from exc
    return target


def _as_utf8(path: Path, encoding: str, scratch: Path) -> Path:
    """Re-encode to UTF-8 in a stream; UTF-8 input is not copied (it is checked as it is read)."""
    if codecs.lookup(encoding).name == "utf-8":
        return path
    target = scratch / "utf8"
    with (
        path.open("r", encoding=encoding, newline="") as source,
        target.open("w", encoding="utf-8", newline="") as sink,
    ):
        try:
            shutil.copyfileobj(source, sink, 1 << 20)
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"not valid {encoding}: {exc.reason}") from exc
    return target


def _check_utf8(path: Path) -> None:
    """The whole file at once: for JSON, read in one piece, and to name the line of a bad byte
    that stopped a CSV header from being read."""
    scan = ByteScan()
    with path.open("rb") as handle:
        while chunk := handle.read(CSV_BLOCK_BYTES):
            scan.take(chunk)
    scan.end()


def _not_utf8(line: int, byte: int) -> str:
    """Name the line of the first byte that is not UTF-8, and suggest the usual fix."""
    return (
        f"line {line}: byte 0x{byte:02x} is not UTF-8; if the partner sends Windows text set "
        'encoding = "cp1252" for them'
    )


def _sniff_format(path: Path) -> Format:
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if start[:1] in (b"[", b"{") else "csv"


@dataclass(frozen=True)
class CsvHeader:
    fields: list[str]
    separator: str
    records: int
    """records before the data: the header, and a spreadsheet's ``sep=;`` line before it"""
    lines: int


def _read_csv(path: Path, options: ReadOptions) -> RawTable:
    try:
        header = _read_header(path, options)
    except UnicodeDecodeError:
        _check_utf8(path)  # names the line of the bad byte
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
            raise UnreadableFileError(f"line 1: the header cannot be parsed: {exc}") from exc
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
        span = pl.repeat(1, pl.len(), dtype=pl.Int64)
    else:
        newlines = pl.sum_horizontal(
            pl.col(name).str.count_matches(LINE_BREAK.pattern).fill_null(0)
            for name in batch.columns
        )
        span = (newlines + 1).cast(pl.Int64)
    numbered = batch.with_columns((first_line + span.cum_sum() - span).alias(ROW))
    blank = pl.all_horizontal(pl.col(name).is_null() for name in batch.columns)
    return numbered.filter(~blank) if batch.select(blank.any()).item() else numbered


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_json_size(size: int, limit: int) -> None:
    if size > limit:
        raise UnreadableFileError(
            f"the JSON text is {size} bytes, over the limit of {limit} (limits.max_json_bytes)"
        )


def _read_json(path: Path, fmt: Format, options: ReadOptions) -> RawTable:
    """A JSON array, NDJSON, or an object wrapping one array (``{"products": [...]}``), read in
    two passes of batches: the first learns every field any record has (so every batch has the
    same columns), the second hands the batches on. Lines nested in the records come batch by
    batch with their records."""
    limits = JsonLimits(options.batch_rows, options.max_record_bytes, options.nested_lists)
    ndjson = fmt == "ndjson" or _looks_like_ndjson(path)
    fields = _json_fields(json_batches(path, ndjson, limits), options)
    stream = _JsonStream(json_batches(path, ndjson, limits), fields)
    return RawTable(list(fields.scalars), stream.records(), stream.children)


def _looks_like_ndjson(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    first, _, rest = head.partition(b"\n")
    return first.rstrip().endswith(b"}") and rest.lstrip().startswith(b"{")


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
