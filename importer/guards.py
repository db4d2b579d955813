"""Guards against a partner's broken export: files that are valid row by row but wrong as a whole.

A full catalog cut off at 3 % of its rows would, in snapshot mode, mark the rest deleted; a column
that silently disappeared would empty it; a price column shifted by a bad export would change
every row. Each guard stops such a file before anything is written, and says what it would have
done; an operator who knows the change is real lets the file through with ``importer retry ID
--force``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from importer.config import FeedSettings, PartnerSettings
from importer.feeds import FeedSpec

DEFAULT_MAX_DELETED_FRACTION = 0.2
CHANGES_SHOWN = 20
"""changes a report quotes when the changed-rows guard stops a file"""


@dataclass(frozen=True)
class Guards:
    max_deleted_fraction: float
    drop_fails: bool
    max_changed_fraction: float | None

    @classmethod
    def of(cls, feed: FeedSettings, partner: PartnerSettings) -> Guards:
        deleted = _first(partner.max_deleted_fraction, feed.max_deleted_fraction)
        changed = _first(partner.max_changed_fraction, feed.max_changed_fraction)
        on_drop = partner.on_dropped_column or feed.on_dropped_column or "warn"
        return cls(
            max_deleted_fraction=DEFAULT_MAX_DELETED_FRACTION if deleted is None else deleted,
            drop_fails=on_drop == "fail",
            max_changed_fraction=changed,
        )


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


class TooManyDeletesError(Exception):
    """Raised by the snapshot merge, before it marks anything deleted, when told it may not."""

    def __init__(self, deleting: int, live: int) -> None:
        super().__init__(f"{deleting} of {live} live rows")


def too_many_deletes(deleting: int, live: int, limit: float) -> str | None:
    if deleting <= limit * live:
        return None
    return (
        f"the file would mark {deleting} of the partner's {live} live rows deleted "
        f"({deleting / live:.1%}), more than max_deleted_fraction {limit:.0%}: a full export "
        "cut short looks like this"
    )


def shape_drift(previous: list[str] | None, filled: set[str]) -> tuple[list[str], list[str]]:
    """Columns the last completed file filled that this one does not, and the other way round
    (nothing to compare with before a feed's first file)."""
    if previous is None:
        return [], []
    return sorted(set(previous) - filled), sorted(filled - set(previous))


def filled_columns(records: pl.DataFrame, spec: FeedSpec) -> set[str]:
    """The feed's columns with a value (not blank) in some record of a batch."""
    columns = [rule.name for rule in spec.columns if rule.name in records.columns]
    if not columns or records.is_empty():
        return set()
    filled = records.select(
        pl.col(name).str.strip_chars().str.len_bytes().gt(0).any() for name in columns
    ).row(0)
    return {name for name, has_value in zip(columns, filled, strict=True) if has_value}


def dropped_warning(dropped: list[str]) -> str:
    return (
        f"the file lacks columns the partner's last file filled: {', '.join(dropped)}; the "
        "rows it sent have them empty now"
    )


def dropped_message(dropped: list[str]) -> str:
    return (
        f"the file lacks columns the partner's last file filled: {', '.join(dropped)} "
        "(on_dropped_column = fail)"
    )


def too_many_changes(
    updated: int, live: int, limit: float | None, rows: str = "rows"
) -> str | None:
    if limit is None or live == 0 or updated / live <= limit:
        return None
    return (
        f"the file would change {updated} of the partner's {live} existing {rows} "
        f"({updated / live:.1%}), more than max_changed_fraction {limit:.0%}; the report shows "
        "a sample of the changes"
    )


def stopped(reason: str, job_id: int | None) -> str:
    """A guard's reason, worded as the outcome of the file."""
    retry = f"`importer retry {job_id} --force`" if job_id is not None else "a forced retry"
    return f"{reason}; nothing was written. If the partner meant it, {retry} lets it through"


def forced_note(reason: str, forced_job: int) -> str:
    return f"let through by `importer retry {forced_job} --force`: {reason}"
