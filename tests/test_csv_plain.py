"""A small block without quotes, split in Python, reads exactly as Polars reads it."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.csv_plain import PLAIN_SPLIT_BYTES, split_plain
from importer.csv_tables import parsed_by_polars

NAMES = ["_c0", "_c1", "_c2"]
CHARACTERS = ["a", "Z", "7", " ", "\r", "\t", ",", ";", "|", "é", "\x00", "\x85", "\u2028"]
FIELD = st.text(st.sampled_from(CHARACTERS), max_size=4)


def _polars(block: bytes, separator: str) -> pl.DataFrame | None:
    try:
        return parsed_by_polars(block, separator, NAMES)
    except pl.exceptions.PolarsError:
        return None


@st.composite
def blocks(draw: st.DrawFn) -> tuple[bytes, str]:
    separator = draw(st.sampled_from([",", ";", "\t", "|"]))
    fields = FIELD.map(lambda text: text.replace(separator, ""))
    records = draw(st.lists(st.lists(fields, max_size=len(NAMES) + 1), min_size=1, max_size=30))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(separator.join(record) for record in records)
    if draw(st.booleans()):
        text += ending
    return text.encode(), separator


@settings(max_examples=400, deadline=None)
@given(blocks())
def test_a_plain_block_splits_as_polars_parses_it(block: tuple[bytes, str]) -> None:
    """Where Polars has quirks of its own (a record of empty fields past the header's width
    after a blank line), the block is left to it."""
    data, separator = block
    split = split_plain(data, separator, NAMES)
    parsed = _polars(data, separator)
    if split is not None:  # else Polars parses it, as before
        assert parsed is not None, data
        assert split.equals(parsed), (data, split.rows(), parsed.rows())


def test_quotes_large_blocks_and_bad_bytes_are_left_to_polars() -> None:
    assert split_plain(b'A1,"x, y",3\n', ",", NAMES) is None
    assert split_plain(b"A1,x\r,3\n", ",", NAMES) is None
    assert split_plain(b"A1,x,3\n" * (PLAIN_SPLIT_BYTES // 7 + 1), ",", NAMES) is None
    assert split_plain(b"A1,\xff,3\n", ",", NAMES) is None
    assert split_plain(b"A1,x,3,4\n", ",", NAMES) is None
    hundred = b"".join(b"S%d,Item %d,%d.5\r\n" % (n, n, n) for n in range(100))
    assert split_plain(hundred, ",", NAMES) is not None
    assert split_plain(b"A1,,3\n\nA2\n", ",", NAMES).rows() == [  # type: ignore[union-attr]
        ("A1", None, "3"),
        (None, None, None),
        ("A2", None, None),
    ]
