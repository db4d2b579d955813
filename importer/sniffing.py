"""What a file is, told from its first bytes before it is read as text.

Partners send what their tools export: a workbook instead of its CSV, an error page saved under
the feed's name, UTF-16 "Unicode text", lines ended by a lone CR. The first are refused with what
the file is and how to export it; UTF-16 with a byte-order mark is decoded, and CR line ends
become LF, so the file reads like any other.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from importer.exceptions import UnreadableFileError

HEAD_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"
_NOT_TEXT: tuple[tuple[bytes, str], ...] = (
    (GZIP_MAGIC, "gzip data inside gzip: the file was compressed twice; compress it once"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook (.xls): export the sheet as CSV",
    ),
    (b"%PDF-", "a PDF document, not data: send the feed as CSV or JSON"),
    (b"BZh", "bzip2-compressed data: send the file plain or gzip-compressed (.gz)"),
    (b"\xfd7zXZ\x00", "xz-compressed data: send the file plain or gzip-compressed (.gz)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: send the file plain or gzip-compressed (.gz)"),
)
_MARKUP = re.compile(rb"\s*<(!doctype html|html|head|body|\?xml)", re.IGNORECASE)


def text_encoding(path: Path) -> str | None:
    """Refuse what is no text feed, saying what it is; ``utf-16`` for text that starts with its
    byte-order mark, else None (the configured encoding holds)."""
    head = _head(path)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if refusal := _what_it_is(head):
        raise UnreadableFileError(f"the file is {refusal}")
    return None


def ends_lines_with_cr(path: Path) -> bool:
    """Lines ended by a CR alone (old Mac and spreadsheet exports)."""
    head = _head(path)
    return b"\r" in head and b"\n" not in head


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def _what_it_is(head: bytes) -> str | None:
    for magic, what in _NOT_TEXT:
        if head.startswith(magic):
            return what
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"xl/" in head:
            return "an Excel workbook (.xlsx, a ZIP archive): export the sheet as CSV"
        return "a ZIP archive: send the file itself, plain or gzip-compressed (.gz)"
    if _MARKUP.match(head.removeprefix(codecs.BOM_UTF8)):
        return (
            "an HTML or XML page (perhaps an error page saved under the feed's name), not "
            "CSV or JSON: check the export that wrote it"
        )
    if order := _utf16_without_mark(head):
        return (
            f"UTF-16 text ({order}) without a byte-order mark: export it as UTF-8, or as "
            f'UTF-16 with its mark, or set encoding = "utf-16-{order[:2].lower()}" for the partner'
        )
    return None


def _utf16_without_mark(head: bytes) -> str | None:
    """Mostly-ASCII UTF-16 has a NUL in every other byte: which ones gives the byte order."""
    sample = head[:4096]
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "LE, little-endian"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "BE, big-endian"
    return None


def with_line_feeds(path: Path, target: Path) -> Path:
    """A copy whose lone CRs are LFs, streamed: a CR-only file then splits into lines."""
    with path.open("rb") as source, target.open("wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk.replace(b"\r", b"\n"))
    return target
