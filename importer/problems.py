"""A single thing wrong with a file, worded for the partner who sent it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PROBLEM_SCHEMA = pl.Schema(
    {"row": pl.Int64(), "column": pl.String(), "value": pl.String(), "error": pl.String()}
)


REPORTED_VALUE_CHARS = 200
"""values quoted in reports are cut here, so a 10 MB field does not make a 10 MB report"""


def reported_value(value: pl.Expr) -> pl.Expr:
    """The value as a report quotes it: cut after ``REPORTED_VALUE_CHARS``, NUL shown as ``\\0``."""
    clipped = value.str.slice(0, REPORTED_VALUE_CHARS).str.replace_all("\x00", "\\0", literal=True)
    return (
        pl.when(value.str.len_chars() > REPORTED_VALUE_CHARS)
        .then(clipped + "...")
        .otherwise(clipped)
    )


@dataclass(frozen=True)
class Problem:
    """``row`` is the line a person finds in the file (header = line 1) or the JSON record number."""

    row: int | None
    column: str | None
    value: str | None
    error: str


def problems_frame(problems: list[Problem]) -> pl.DataFrame:
    return pl.DataFrame(
        [(p.row, p.column, p.value, p.error) for p in problems],
        schema=PROBLEM_SCHEMA,
        orient="row",
    )


_NO_PROBLEMS = pl.DataFrame(schema=PROBLEM_SCHEMA)


def empty_problems() -> pl.DataFrame:
    """One shared empty frame (nothing here changes a frame in place): a small file asks for
    several, and building one costs more than validating a hundred rows' keys."""
    return _NO_PROBLEMS


def concat_problems(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Several checks' problems as one frame of the problems' types. Most checks find none: the
    empty parts are left out and the cast (0.2 ms on a small file) is made only when needed."""
    found = [part for part in parts if not part.is_empty()]
    if not found:
        return empty_problems()
    joined = pl.concat(found)
    return joined if joined.schema == PROBLEM_SCHEMA else joined.cast(PROBLEM_SCHEMA)
