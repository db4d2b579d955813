"""Where a CSV's records begin and end, in blocks the fast parser takes, or exactly, one at a time.

The fast path splits the bytes into blocks that end between records, telling record ends by
balanced quotes, and Polars parses each block. That rule does not hold when a quote sits inside
an unquoted value (``Monitor 27" wide``: data, as Excel and Python's csv module read it), and a
quote that never closes would gather the rest of the file. Both stop the fast path at the first
record it cannot place; from there the file is read by Python's csv module, which knows that a
quote opens a value only at its start, with every record bounded by ``max_record_bytes``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from importer.exceptions import UnreadableFileError

CSV_BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class Block:
    offset: int
    """where the block starts in the file"""
    first_line: int
    lines: int
    data: bytes


class UnplacedRecordError(Exception):
    """The fast path cannot tell where the record at ``offset`` ends: read exactly from there."""

    def __init__(self, offset: int, first_line: int) -> None:
        super().__init__(f"line {first_line}")
        self.offset, self.first_line = offset, first_line


class ByteCheck(Protocol):
    """What watches the bytes as they are read (UTF-8 validity, NUL bytes)."""

    def take(self, block: bytes) -> None: ...

    def end(self) -> None: ...


def record_blocks(
    path: Path, first_line: int, skip_records: int, check: ByteCheck, max_record_bytes: int
) -> Iterator[Block]:
    """The bytes after the first ``skip_records`` records (the header) in blocks of about
    :data:`CSV_BLOCK_BYTES` that end between records; ``check`` sees every byte before any
    record it belongs to is handed on. Raises :class:`UnplacedRecordError` where quotes do not balance
    within ``max_record_bytes``, or by the end of the file."""
    size = min(CSV_BLOCK_BYTES, max_record_bytes)  # so a longer record outgrows its block
    with path.open("rb") as handle:
        carry, offset, skipped = b"", 0, 0
        while block := handle.read(size):
            check.take(block)
            data = carry + block
            while skipped < skip_records and (end := _first_record_end(data)):
                data, offset, skipped = data[end:], offset + end, skipped + 1
            if skipped == skip_records and (end := _last_record_end(data)):
                lines = line_breaks(data, end)
                yield Block(offset, first_line, lines, data[:end])
                data, offset, first_line = data[end:], offset + end, first_line + lines
            carry = data
            if len(carry) > max_record_bytes:
                _refuse_or_hand_over(carry, offset, first_line, max_record_bytes)
    check.end()
    if skipped == skip_records and carry:
        if carry.count(b'"') % 2:
            raise UnplacedRecordError(offset, first_line)
        yield Block(offset, first_line, line_breaks(carry, len(carry)) + 1, carry)


def _refuse_or_hand_over(carry: bytes, offset: int, first_line: int, limit: int) -> None:
    """A record past the limit with balanced quotes is just too long; with an open quote it is
    either a stray quote (data) or one never closed, which only the exact reader can tell."""
    if carry.count(b'"') % 2:
        raise UnplacedRecordError(offset, first_line)
    raise UnreadableFileError(
        f"line {first_line}: a record of more than {limit} bytes (limits.max_record_bytes); "
        "is a line break missing?"
    )


def exact_records(
    path: Path, offset: int, first_line: int, separator: str, max_record_bytes: int
) -> Iterator[tuple[int, list[str]]]:
    """Each record from ``offset`` on with the line it starts on, read the way Excel does."""
    csv.field_size_limit(max_record_bytes)
    with path.open("rb") as raw:
        raw.seek(offset)
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        lines = bounded_lines(text, max_record_bytes, first_line)
        reader = csv.reader(lines, delimiter=separator, strict=True)
        start = first_line
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise UnreadableFileError(f"line {start}: {_explained(str(exc))}") from exc
            except UnicodeDecodeError as exc:
                raise UnreadableFileError(
                    f"line {first_line + reader.line_num}: a byte that is not UTF-8"
                ) from exc
            yield start, record
            start = first_line + reader.line_num


def bounded_lines(text: io.TextIOBase, limit: int, first_line: int = 1) -> Iterator[str]:
    """The text's lines (any of CRLF, LF, CR ends one), none longer than ``limit``: a file with
    no line break never sits whole in memory."""
    number = first_line
    while line := text.readline(limit + 1):
        if len(line) > limit:
            raise UnreadableFileError(
                f"line {number}: longer than {limit} characters (limits.max_record_bytes); "
                "is a line break missing?"
            )
        yield line
        number += 1


def _explained(reason: str) -> str:
    """Python's csv messages as a partner can act on them."""
    if reason == "unexpected end of data" or reason.startswith("field larger than field limit"):
        return (
            "a quoted value opened in this record is never closed (the file ends, or "
            "limits.max_record_bytes passes, inside it); close the quote"
        )
    if "expected after" in reason:
        return (
            "text follows the closing quote of a value; a quote inside a quoted value is "
            'written twice ("")'
        )
    return f"the record cannot be read as CSV ({reason})"


def line_breaks(data: bytes, end: int) -> int:
    """Line breaks before ``end`` (CRLF, LF and a lone CR each count once), by byte counts."""
    newlines = data.count(b"\n", 0, end)
    if b"\r" not in data:
        return newlines
    return newlines + data.count(b"\r", 0, end) - data.count(b"\r\n", 0, end)


def _first_record_end(data: bytes) -> int:
    """Offset just past the first line break outside quotes; 0 when none yet."""
    end = data.find(b"\n")
    quotes = data.count(b'"', 0, end) if end >= 0 else 0
    while end >= 0 and quotes % 2:
        following = data.find(b"\n", end + 1)
        quotes += data.count(b'"', end, following) if following >= 0 else 0
        end = following
    return end + 1


def _last_record_end(data: bytes) -> int:
    """Offset just past the last line break outside quotes; 0 when none (the record goes on)."""
    end = data.rfind(b"\n")
    quotes = data.count(b'"', 0, end) if end >= 0 else 0
    while end >= 0 and quotes % 2:
        previous = data.rfind(b"\n", 0, end)
        quotes -= data.count(b'"', previous + 1, end)
        end = previous
    return end + 1
