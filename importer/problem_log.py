"""Every problem of one file, written out to scratch space past a bound as the batches come.

A file whose every row is bad (a date format the partner changed, a shifted column) has several
problems a row; held whole they took four times the memory of the file itself. The log keeps the
counts, and at most ``HELD_PROBLEMS`` problems in memory; ``errors.csv`` and the report's first
errors are read back from it in row order, a run at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import polars as pl

from importer.problems import empty_problems
from importer.scratch import Scratch

HELD_PROBLEMS = 50_000
"""problems kept in memory before they are written out as one run (a few MB)"""


class ProblemLog:
    """The problems of one file's batches, which arrive in row order, and of its repeated keys,
    which name rows anywhere in the file and come last (held in memory: FileKeys holds the file's
    keys anyway)."""

    def __init__(self, held_problems: int | None = None) -> None:
        self.count = 0
        """problems, one line of errors.csv each"""
        self.failed_rows = 0
        """rows with at least one problem"""
        self._held_problems = HELD_PROBLEMS if held_problems is None else held_problems
        self._held: list[pl.DataFrame] = []
        self._held_count = 0
        self._runs: list[str] = []
        self._late = empty_problems()
        self._scratch = Scratch()

    @classmethod
    def of(cls, problems: pl.DataFrame) -> ProblemLog:
        """A log of a few problems found before any batch (a bad header, an unknown feed)."""
        log = cls()
        log._keep(problems)
        return log

    def add(self, batch_problems: pl.DataFrame) -> None:
        """The problems of the next batch, whose rows all follow the previous batch's."""
        if batch_problems.is_empty():
            return
        self._keep(batch_problems.sort("row", maintain_order=True))
        if self._held_count > self._held_problems:
            self._spill()

    def add_repeated_keys(self, problems: pl.DataFrame) -> None:
        """The problems of keys the file repeats, once every batch was added."""
        self._count(problems)
        self._late = problems if problems.is_empty() else problems.sort("row", maintain_order=True)

    def is_empty(self) -> bool:
        return self.count == 0

    def first(self, limit: int) -> pl.DataFrame:
        """The first ``limit`` problems in row order (the report lists them)."""
        parts, taken = [], 0
        for part in self.in_row_order():
            if taken >= limit:
                break
            parts.append(part.head(limit - taken))
            taken += parts[-1].height
        return pl.concat(parts) if parts else empty_problems()

    def in_row_order(self) -> Iterator[pl.DataFrame]:
        """Every problem by row, a run at a time; a row's own problems keep their order."""
        late = self._late  # every repeated key's problem names its row
        for run in self._ordered():
            last = run.get_column("row").max()
            if late.is_empty() or last is None:
                yield run
                continue
            before = late.filter(pl.col("row") <= last)
            late = late.filter(pl.col("row") > last)
            yield pl.concat([run, before]).sort("row", maintain_order=True)
        if not late.is_empty():
            yield late

    def write_csv(self, handle: IO[bytes], neutralized: list[pl.Expr]) -> None:
        """``errors.csv``: a header, then every problem by row, with ``neutralized`` applied."""
        header = True
        for part in self.in_row_order():
            part.with_columns(neutralized).write_csv(
                handle, include_header=header, quote_style="non_numeric"
            )
            header = False

    def close(self) -> None:
        """Remove the runs written to disk."""
        self._scratch.remove()
        self._runs.clear()

    def _keep(self, problems: pl.DataFrame) -> None:
        self._count(problems)
        self._held.append(problems)
        self._held_count += problems.height

    def _count(self, problems: pl.DataFrame) -> None:
        """Rows of different batches differ, and a row with a bad value never reaches the key
        check, so summing each part's distinct rows counts every failed row once."""
        if problems.is_empty():  # a clean batch, the usual one: no query to count nothing
            return
        self.count += problems.height
        self.failed_rows += problems.get_column("row").drop_nulls().n_unique()

    def _spill(self) -> None:
        run = str(self._scratch / f"problems-{len(self._runs):06d}.arrow")
        pl.concat(self._held).write_ipc(run, compression="lz4")
        self._runs.append(run)
        self._held, self._held_count = [], 0

    def _ordered(self) -> Iterator[pl.DataFrame]:
        for run in self._runs:
            yield pl.read_ipc(run)
        if self._held:
            yield pl.concat(self._held)
