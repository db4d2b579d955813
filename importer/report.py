"""The per-file report: ``<file>.report.json`` and ``<file>.errors.csv``, written atomically."""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import polars as pl

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Report:
    """What the operator and the partner learn about one file (snake_case, like the job envelope)."""

    job_id: int | None
    status: str
    feed: str | None
    partner: str
    file: str
    sha256: str | None
    started_at: datetime
    completed_at: datetime
    row_count: int = 0
    processed_count: int = 0
    inserted_count: int = 0
    updated_count: int = 0
    unchanged_count: int = 0
    failed_count: int = 0
    deleted_count: int = 0
    superseded_count: int = 0
    message: str | None = None
    duplicate_of: int | None = None
    unknown_columns: list[str] = field(default_factory=list)
    children: dict[str, dict[str, int]] = field(default_factory=dict)
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def duration_ms(self) -> int:
        return round((self.completed_at - self.started_at).total_seconds() * 1000)

    def to_json(self) -> str:
        body = {
            "job_id": self.job_id,
            "status": self.status,
            "feed": self.feed,
            "partner": self.partner,
            "file": self.file,
            "sha256": self.sha256,
            "row_count": self.row_count,
            "processed_count": self.processed_count,
            "inserted_count": self.inserted_count,
            "updated_count": self.updated_count,
            "unchanged_count": self.unchanged_count,
            "failed_count": self.failed_count,
            "deleted_count": self.deleted_count,
            "superseded_count": self.superseded_count,
            "message": self.message,
            "duplicate_of": self.duplicate_of,
            "unknown_columns": self.unknown_columns,
            "children": self.children,
            "error_count": self.error_count,
            "errors": self.errors,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "duration_ms": self.duration_ms,
        }
        if self.dry_run:
            body["dry_run"] = True
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def first_errors(problems: pl.DataFrame, limit: int) -> list[dict[str, Any]]:
    return problems.head(limit).to_dicts()


def neutralize_formulas(column: str) -> pl.Expr:
    """Prefix a quote to text a spreadsheet would run as a formula (``=HYPERLINK(...)``)."""
    value = pl.col(column)
    return pl.when(_starts_with_any(value)).then(pl.lit("'") + value).otherwise(value).alias(column)


def _starts_with_any(value: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(value.str.starts_with(prefix) for prefix in FORMULA_PREFIXES)


def write_reports(report: Report, problems: pl.DataFrame, file_path: Path) -> Path:
    """Write ``<file>.report.json`` (and ``<file>.errors.csv`` when there are problems).

    Temporary files a crash left behind for the same reports are removed first.
    """
    for leftover in file_path.parent.glob(f".{glob.escape(file_path.name)}.*.tmp"):
        leftover.unlink(missing_ok=True)
    if not problems.is_empty():
        safe = problems.with_columns(neutralize_formulas(c) for c in ("column", "value", "error"))
        with _atomic(Path(f"{file_path}.errors.csv"), "wb") as handle:
            safe.write_csv(handle, quote_style="non_numeric")
    report_path = Path(f"{file_path}.report.json")
    with _atomic(report_path, "w") as handle:
        handle.write(report.to_json())
    return report_path


@contextmanager
def _atomic(target: Path, mode: str) -> Iterator[IO[Any]]:
    """Write to a hidden temp name beside ``target``, fsync, then rename into place."""
    handle_fd, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle_fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
