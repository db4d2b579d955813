"""Turn a partner's bytes into string-typed frames, whatever the format: unpack, identify,
decode to UTF-8, then hand the text to the CSV or the JSON reader (see :mod:`importer.raw`)."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

from importer.csv_tables import read_csv
from importer.exceptions import UnreadableFileError
from importer.json_tables import read_json
from importer.raw import RawTable, ReadOptions, check_utf8
from importer.scratch import Scratch, scratch_space
from importer.sniffing import GZIP_MAGIC, ends_lines_with_cr, text_encoding, with_line_feeds

Format = Literal["csv", "tsv", "json", "ndjson"]
_SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


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
    with scratch_space() as scratch:
        plain = _decompressed(path, scratch, options.max_decompressed_bytes)
        encoding = text_encoding(plain) or options.encoding
        utf8 = _as_utf8(plain, encoding, scratch)
        if ends_lines_with_cr(utf8):
            utf8 = with_line_feeds(utf8, scratch / "lines")
        fmt = detect_format(path.name) or _sniff_format(utf8)
        if fmt in ("json", "ndjson"):
            _check_json_size(utf8.stat().st_size, options.max_json_bytes)
            check_utf8(utf8)
            ndjson = fmt == "ndjson" or _looks_like_ndjson(utf8)
            yield read_json(utf8, ndjson, options, scratch)
        else:
            delimiter = options.delimiter or ("\t" if fmt == "tsv" else None)
            table = read_csv(utf8, replace(options, delimiter=delimiter))
            table.text_bytes = utf8.stat().st_size
            yield table


def _decompressed(path: Path, scratch: Scratch, limit: int) -> Path:
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
        raise UnreadableFileError(
            "the gzip data is damaged or cut short (an upload that stopped early?): send the "
            "file again"
        ) from exc
    return target


def _as_utf8(path: Path, encoding: str, scratch: Scratch) -> Path:
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
            raise UnreadableFileError(
                f"bytes that are not {encoding} text (the encoding agreed for this partner): "
                "export the file in that encoding, or agree another"
            ) from exc
    return target


def _sniff_format(path: Path) -> Format:
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if start[:1] in (b"[", b"{") else "csv"


def _looks_like_ndjson(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return False
    first, _, rest = head.partition(b"\n")
    return first.rstrip().endswith(b"}") and rest.lstrip().startswith(b"{")


def _check_json_size(size: int, limit: int) -> None:
    if size > limit:
        raise UnreadableFileError(
            f"the JSON text is {size} bytes, over the limit of {limit} (limits.max_json_bytes)"
        )
