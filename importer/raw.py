"""What every reader hands on: a table of string columns under positional names, in batches.

Every value is read as a string first: types are decided by validation, so a bad value becomes a
row error with its line number instead of a parse failure of the whole file. Columns are named by
position (``_c0``, ``_c1``, ...) so duplicate or blank headers cannot collide before they are
reported. ``_row`` carries the number a person finds in the file: the CSV line (header = line 1),
the NDJSON line, or the JSON record (first = 1).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from importer.csv_records import CSV_BLOCK_BYTES
from importer.exceptions import UnreadableFileError

ROW = "_row"
ITEM = "_item"
UNREADABLE = "_unreadable"
"""JSON only: why a record could not be read (it is no object, or holds NaN); its row has
nothing else"""
LINE_COUNT = "_lines"
"""the number of lines a parent's nested list held"""


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
        self.handed_bytes = 0
        self.handed_rows = 0
        """how many bytes, and records in them, the reader has handed on: an estimate of the
        file's rows is ``handed_rows`` per ``handed_bytes`` of its size"""

    def take(self, block: bytes) -> None:
        """Check the next block of the file's bytes."""
        pending = self._decoder.getstate()[0]
        try:
            self._decoder.decode(block)
        except UnicodeDecodeError as exc:
            data = pending + block  # what the error's offset counts in
            line = self._line + data.count(b"\n", 0, exc.start)
            raise UnreadableFileError(not_utf8(line, data[exc.start])) from exc
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
    text_bytes: int | None = None
    """the size of the text being read, for an estimate of the rows to come"""
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


def not_utf8(line: int, byte: int) -> str:
    """Name the line of the first byte that is not UTF-8, and suggest the usual fix."""
    return (
        f"line {line}: byte 0x{byte:02x} is not UTF-8; if the partner sends Windows text set "
        'encoding = "cp1252" for them'
    )


def check_utf8(path: Path) -> None:
    """The whole file at once: for JSON, read in one piece, and to name the line of a bad byte
    that stopped a CSV header from being read."""
    scan = ByteScan()
    with path.open("rb") as handle:
        while chunk := handle.read(CSV_BLOCK_BYTES):
            scan.take(chunk)
    scan.end()
