"""Frames put together from series, for the steps every small batch takes.

An eager ``select`` or ``with_columns`` runs a query of its own, about 0.1 ms even on a 100-row
frame; gathering columns into ``pl.DataFrame([...])`` or ``hstack`` runs none (about 0.01 ms).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl


def constant(name: str, value: object, height: int, dtype: pl.DataType | None = None) -> pl.Series:
    """``value`` in each of ``height`` rows, without the query ``pl.repeat`` or ``pl.lit`` runs."""
    return pl.Series(name, [value], dtype).new_from_index(0, height)


def columns(frame: pl.DataFrame, names: Iterable[str], *extra: pl.Series) -> pl.DataFrame:
    """``names`` of ``frame``, in that order, then ``extra``: a ``select`` of plain columns."""
    return pl.DataFrame([*(frame.get_column(name) for name in names), *extra])
