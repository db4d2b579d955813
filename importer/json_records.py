"""JSON and NDJSON read a batch of records at a time, so a large feed loads in bounded memory.

NDJSON is read a line at a time and parsed by Polars a block of lines at once (as the array of
them, which Polars reads in less memory than NDJSON); a block Polars
refuses is checked line by line, and a line that is no JSON object (``NaN`` included) is a row
error with its line number while the other lines load. A JSON array, bare or as the one list of
an object (``{"products": [...]}``), is decoded once, a record at a time, by Python's JSON
scanner into NDJSON: a record holding ``NaN`` or ``Infinity`` is a row error. No line or
record may pass ``max_record_bytes``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl

from importer.exceptions import UnreadableFileError
from importer.json_wording import worded
from importer.names import snake_case

BLOCK_BYTES = 4 << 20
"""the text parsed by Polars at once, at most"""
_BOM = b"\xef\xbb\xbf"
_WHITE_SPACE = re.compile(r"[ \t\n\r]*")
_UNREADABLE_KEY = "\x00unreadable"
_UNREADABLE_LINE = b'{"\\u0000unreadable":'
"""how :func:`array_as_ndjson` writes a record it could not read (no partner key has a NUL)"""
_NOT_FINITE = "NaN or Infinity is not JSON: send null, or the number"


@dataclass(frozen=True)
class JsonBatch:
    records: pl.DataFrame
    """the records as Polars reads them, nested values kept, with their row numbers"""
    rows: list[int]
    unreadable: list[tuple[int, str]]
    """(row, what is wrong) of the records that are no JSON object"""


@dataclass(frozen=True)
class JsonLimits:
    batch_rows: int
    max_record_bytes: int
    nested_lists: frozenset[str]
    """list names that are lines of each record, never an envelope of records"""


def array_as_ndjson(path: Path, target: Path, limits: JsonLimits) -> Path:
    """The JSON array's records as NDJSON, line N for record N, so that the passes over the
    records decode the array once; a record that cannot be read is a line saying why."""
    with target.open("wb") as sink:
        for _, line, problem in _array_lines(path, limits):
            sink.write(line if problem is None else _UNREADABLE_LINE + json.dumps(problem).encode())
            sink.write(b"}\n" if problem is not None else b"\n")
    return target


def json_batches(path: Path, limits: JsonLimits) -> Iterator[JsonBatch]:
    """Batches of the NDJSON file's records; rows are its lines."""
    lines = _ndjson_lines(path, limits)
    batch: list[bytes] = []
    rows: list[int] = []
    unreadable: list[tuple[int, str]] = []
    size = 0
    for row, line, problem in lines:
        if problem is not None:
            unreadable.append((row, problem))
            continue
        batch.append(line)
        rows.append(row)
        size += len(line)
        if len(batch) >= limits.batch_rows or size >= BLOCK_BYTES:
            yield _parsed(batch, rows, unreadable)
            batch, rows, unreadable, size = [], [], [], 0
    if batch or unreadable:
        yield _parsed(batch, rows, unreadable)


def _parsed(lines: list[bytes], rows: list[int], unreadable: list[tuple[int, str]]) -> JsonBatch:
    """One block through Polars; if it refuses, the lines it cannot take are found one by one."""
    try:
        return JsonBatch(_frame(lines), rows, unreadable)
    except pl.exceptions.PolarsError:
        pass
    good: list[bytes] = []
    good_rows: list[int] = []
    for line, row in zip(lines, rows, strict=True):
        problem = _object_problem(line)
        if problem is None:
            good.append(line)
            good_rows.append(row)
        else:
            unreadable.append((row, problem))
    try:
        return JsonBatch(_frame(good), good_rows, sorted(unreadable))
    except pl.exceptions.PolarsError as exc:
        first = good_rows[0] if good_rows else 0
        raise UnreadableFileError(
            f"records from {first} on: a field holds values of kinds that do not mix (such as "
            "an object in one record and a list or a text in another): send one kind per field"
        ) from exc


def _frame(lines: list[bytes]) -> pl.DataFrame:
    """The lines as one JSON array: Polars reads that in less than half the memory of the same
    lines as NDJSON."""
    if not lines:
        return pl.DataFrame()
    return pl.read_json(b"[" + b",".join(lines) + b"]", infer_schema_length=None)


def _object_problem(line: bytes) -> str | None:
    """What keeps a line from being a record, by Python's strict reading."""
    try:
        value = json.loads(line, parse_constant=_refuse_constant)
    except _ConstantError:
        return _NOT_FINITE
    except json.JSONDecodeError as exc:
        return f"not JSON: {worded(exc)} (column {exc.colno})"
    except ValueError:  # valid JSON, but a number too long for Python's int
        return f"a number of more than {sys.get_int_max_str_digits()} digits"
    if not isinstance(value, dict):
        return "not a JSON object: send one record, {...}, per line"
    return None


class _ConstantError(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _ConstantError(name)


def _ndjson_lines(path: Path, limits: JsonLimits) -> Iterator[tuple[int, bytes, str | None]]:
    limit = limits.max_record_bytes
    with path.open("rb") as handle:
        number = 0
        while line := handle.readline(limit + 1):
            number += 1
            if len(line) > limit:
                raise UnreadableFileError(
                    f"line {number}: longer than {limit} bytes (limits.max_record_bytes); "
                    "NDJSON holds one record per line"
                )
            if number == 1:
                line = line.removeprefix(_BOM)
            if line.startswith(_UNREADABLE_LINE):
                yield number, b"", json.loads(line)[_UNREADABLE_KEY]
            elif line.strip():
                yield number, line.rstrip(b"\r\n"), None


def _array_lines(path: Path, limits: JsonLimits) -> Iterator[tuple[int, bytes, str | None]]:
    """The records of the file's array, each as one line of JSON."""
    for row, record in enumerate(_array_records(path, limits), start=1):
        if not isinstance(record, dict):
            yield row, b"", "not a JSON object: the list must hold records, {...}"
            continue
        try:
            yield row, json.dumps(record, allow_nan=False, ensure_ascii=False).encode(), None
        except ValueError:
            yield row, b"", _NOT_FINITE


def _array_records(path: Path, limits: JsonLimits) -> Iterator[object]:
    with path.open("r", encoding="utf-8-sig") as handle:
        text = _JsonText(handle, limits.max_record_bytes)
        start = text.next_char()
        if start == "[":
            yield from text.array_items()
        elif start == "{":
            yield from _object_records(text, path, limits)
        elif start == "":
            raise UnreadableFileError("the file is empty: no JSON")
        else:
            raise UnreadableFileError(
                "invalid JSON: the file must be a list of records, [...], or an object holding "
                "one, {...}"
            )


def _object_records(text: _JsonText, path: Path, limits: JsonLimits) -> Iterator[object]:
    """``{"products": [...]}`` streams its list; an object whose first value is no list (or is
    a record's own lines, ``items``) is one record."""
    text.take("{")
    key = text.key()
    if key is None or text.next_char() != "[" or snake_case(key) in limits.nested_lists:
        yield _whole_object(path, limits)
        return
    yield from text.array_items()
    while (key := text.key()) is not None:
        value = text.value()
        if isinstance(value, list) and any(isinstance(item, dict) for item in value):
            raise UnreadableFileError(
                f"a JSON object with several lists (…, {key}): send one list of records per file"
            )


def _whole_object(path: Path, limits: JsonLimits) -> object:
    with path.open("r", encoding="utf-8-sig") as handle:
        text = _JsonText(handle, limits.max_record_bytes)
        text.next_char()
        return text.value()


class _JsonText:
    """A window onto a JSON text that is read on as values need it, never past ``limit``
    characters for one value."""

    def __init__(self, handle: TextIO, limit: int) -> None:
        self._handle = handle
        self._limit = limit
        self._text = ""
        self._at = 0
        self._decoder = json.JSONDecoder()
        self._ended = False
        self._lines_dropped = 0

    def next_char(self) -> str:
        """The next character that is no white space, not taken; '' at the end."""
        while True:
            self._at = _WHITE_SPACE.match(self._text, self._at).end()  # type: ignore[union-attr]
            if self._at < len(self._text) or not self._more():
                return self._text[self._at : self._at + 1]

    def take(self, expected: str) -> None:
        found = self.next_char()
        if found != expected:
            raise UnreadableFileError(f"invalid JSON: {expected!r} expected, {found!r} found")
        self._at += 1

    def value(self) -> object:
        """The next JSON value, read on until it is whole."""
        self.next_char()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._text, self._at)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise UnreadableFileError(
                    f"invalid JSON: {worded(exc)} (line {exc.lineno}, column {exc.colno})"
                ) from exc
            if end == len(self._text) and self._more():
                continue  # a number may go on in the next read
            if end - self._at > self._limit:
                raise self._too_long()
            self._at = end
            self._drop_read()
            return value

    def array_items(self) -> Iterator[object]:
        """The values of the array whose ``[`` is next, one at a time."""
        self.take("[")
        if self.next_char() == "]":
            self._at += 1
            return
        while True:
            yield self.value()
            separator = self.next_char()
            self._at += 1
            if separator == "]":
                return
            if separator != ",":
                raise UnreadableFileError(
                    f"invalid JSON: ',' or ']' expected between records, {separator!r} found"
                )

    def key(self) -> str | None:
        """The next key of the object being read, past its ``:``; None at the object's end."""
        if self.next_char() == ",":
            self._at += 1
        if self.next_char() == "}":
            self._at += 1
            return None
        name = self.value()
        if not isinstance(name, str):
            raise UnreadableFileError("invalid JSON: an object key must be a string")
        self.take(":")
        return name

    def _more(self) -> bool:
        """Read on; False at the end of the text. A value longer than the limit stops here."""
        if self._ended:
            return False
        if len(self._text) - self._at > self._limit:
            raise self._too_long()
        chunk = self._handle.read(1 << 20)
        if not chunk:
            self._ended = True
            return False
        self._drop_read()
        self._text += chunk
        return True

    def _too_long(self) -> UnreadableFileError:
        line = self._text.count("\n", 0, self._at) + 1 + self._lines_dropped
        return UnreadableFileError(
            f"line {line}: a JSON record of more than {self._limit} characters starts here "
            "(limits.max_record_bytes)"
        )

    def _drop_read(self) -> None:
        if self._at > 1 << 20:
            self._lines_dropped += self._text.count("\n", 0, self._at)
            self._text, self._at = self._text[self._at :], 0
