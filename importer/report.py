"""The per-file report: ``<file>.report.json`` and ``<file>.errors.csv``, written atomically.

Built from the file's job and its load's result, by the lifecycle and by the dry run alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import polars as pl

from importer.db.ledger import ImportJob, JobStatus
from importer.problem_log import ProblemLog

if TYPE_CHECKING:
    from importer.loading import ImportResult

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
    dropped_columns: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes_sample: list[dict[str, object]] = field(default_factory=list)
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
            "dropped_columns": self.dropped_columns,
            "new_columns": self.new_columns,
            "warnings": self.warnings,
            "children": self.children,
            "error_count": self.error_count,
            "errors": self.errors,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "duration_ms": self.duration_ms,
        }
        if self.changes_sample:
            body["changes_sample"] = self.changes_sample
        if self.dry_run:
            body["dry_run"] = True
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def neutralize_formulas(column: str) -> pl.Expr:
    """Prefix a quote to text a spreadsheet would run as a formula (``=HYPERLINK(...)``)."""
    value = pl.col(column)
    return pl.when(_starts_with_any(value)).then(pl.lit("'") + value).otherwise(value).alias(column)


def _starts_with_any(value: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(value.str.starts_with(prefix) for prefix in FORMULA_PREFIXES)


def write_reports(report: Report, problems: ProblemLog, file_path: Path) -> Path:
    """Write ``<file>.report.json`` (and ``<file>.errors.csv`` when there are problems)."""
    if not problems.is_empty():
        with _atomic(Path(f"{file_path}.errors.csv"), "wb") as handle:
            problems.write_csv(
                handle, [neutralize_formulas(c) for c in ("column", "value", "error")]
            )
    report_path = Path(f"{file_path}.report.json")
    with _atomic(report_path, "w") as handle:
        handle.write(report.to_json())
    return report_path


@contextmanager
def _atomic(target: Path, mode: str) -> Iterator[IO[Any]]:
    """Write to a hidden temp name beside ``target``, fsync, then rename into place.

    The temp name follows from the target's (no two jobs' files share a name in one folder), so
    what a crash left half written is written over the next time, with no search of the folder.
    """
    temporary = target.with_name(f".{target.name}.tmp")
    handle_fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(handle_fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_report(
    job: ImportJob, problems: ProblemLog, result: ImportResult | None, max_listed: int
) -> Report:
    assert job.started_at is not None and job.completed_at is not None
    return Report(
        job_id=job.id,
        status=str(job.status),
        feed=job.feed,
        partner=job.partner_id,
        file=job.file_name,
        sha256=job.sha256,
        started_at=job.started_at,
        completed_at=job.completed_at,
        row_count=job.row_count,
        processed_count=job.processed_count,
        inserted_count=job.inserted_count,
        updated_count=job.updated_count,
        unchanged_count=job.unchanged_count,
        failed_count=job.failed_count,
        deleted_count=job.deleted_count,
        superseded_count=result.superseded_count if result else 0,
        message=job.message,
        duplicate_of=job.duplicate_of,
        unknown_columns=result.unknown_columns if result else [],
        dropped_columns=result.dropped_columns if result else [],
        new_columns=result.new_columns if result else [],
        warnings=result.warnings if result else [],
        changes_sample=result.changes_sample if result else [],
        children={
            name: {
                "inserted_count": c.inserted,
                "updated_count": c.updated,
                "unchanged_count": c.unchanged,
                "deleted_count": c.deleted,
            }
            for name, c in (
                result.children.items() if result and job.status == JobStatus.COMPLETED else []
            )
        },
        error_count=problems.count,
        errors=problems.first(max_listed).to_dicts(),
    )


def apply_counts(job: ImportJob, result: ImportResult) -> None:
    """Copy a load's counts onto its job (a rejected file's merge counts are all zero)."""
    job.row_count = result.row_count
    job.failed_count = result.failed_count
    job.inserted_count = result.counts.inserted
    job.updated_count = result.counts.updated
    job.unchanged_count = result.counts.unchanged
    job.deleted_count = result.counts.deleted
    job.processed_count = result.counts.inserted + result.counts.updated + result.counts.unchanged
    job.filled_columns = json.dumps(result.filled_columns)
    job.dropped_columns = json.dumps(result.dropped_columns) if result.dropped_columns else None
