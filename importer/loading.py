"""A file's load inside one transaction: read, map headers, validate, stage, decide, merge.

The inside of one step of a file's lifecycle (:mod:`importer.lifecycle`). Batches stream from
the reader into the database, so memory holds a few batches plus a 16-byte digest of each key
seen so far (to find duplicates across batches). Nothing is committed here: the caller's
``finish`` runs inside the same transaction; a rejected file or a dry run rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import polars as pl
from sqlalchemy import Connection, Engine

from importer.attempt import FileAttempt
from importer.config import FeedSettings
from importer.db.ledger import forced_retries, last_shape
from importer.db.loader import FileLoad, MergeCounts
from importer.exceptions import RetryCarefullyError, UnreadableFileError
from importer.file_keys import FileKeys
from importer.guards import (
    CHANGES_SHOWN,
    TooManyDeletesError,
    dropped_message,
    dropped_warning,
    filled_columns,
    forced_note,
    shape_drift,
    stopped,
    too_many_changes,
    too_many_deletes,
)
from importer.headers import HeaderMap, resolve_headers
from importer.known_hashes import KnownHashes
from importer.nested import NestedList, nested_lists, validate_lines
from importer.positions import Positions
from importer.prefetch import ahead
from importer.problem_log import ProblemLog
from importer.problems import PROBLEM_SCHEMA, concat_problems, empty_problems, reported_value
from importer.progress import FileProgress
from importer.raw import ROW, UNREADABLE, RawTable, column_name
from importer.reading import open_table
from importer.unchanged import validate_changed
from importer.validation import ValidatedBatch, duplicate_keys, validate


@dataclass
class ImportResult:
    feed: str
    row_count: int = 0
    failed_count: int = 0
    superseded_count: int = 0
    counts: MergeCounts = field(default_factory=MergeCounts)
    children: dict[str, MergeCounts] = field(default_factory=dict)
    problems: ProblemLog = field(default_factory=ProblemLog)
    """the caller closes it once the reports are written"""
    unknown_columns: list[str] = field(default_factory=list)
    filled_columns: list[str] = field(default_factory=list)
    """the feed's columns with a value in some row"""
    dropped_columns: list[str] = field(default_factory=list)
    """columns the partner's last completed file filled that this one does not"""
    new_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes_sample: list[dict[str, object]] = field(default_factory=list)
    """the first changes, when the changed-rows guard stopped the file"""
    live_before: dict[str, int] = field(default_factory=dict)
    """the partner's live rows before the file, by feed, its nested lines' included (counted
    where ``max_changed_fraction`` asks)"""
    rejection: str | None = None
    """why nothing was loaded, when the file as a whole was refused"""


Finish = Callable[[Connection, ImportResult], None]
"""runs inside the load's transaction, which commits after it"""


def load_file(attempt: FileAttempt, engine: Engine, finish: Finish | None = None) -> ImportResult:
    """Load the attempt's file in one transaction; with ``finish=None`` it is a dry run and
    rolls back."""
    try:
        return _load_once(attempt, engine, finish, fast=True)
    except RetryCarefullyError:
        # Rare: repeated keys met after rows were written. Go again the careful way.
        return _load_once(attempt, engine, finish, fast=False)


def _load_once(
    attempt: FileAttempt, engine: Engine, finish: Finish | None, *, fast: bool
) -> ImportResult:
    """The result's problem log is the caller's to close; a load that raises closes its own."""
    problems = ProblemLog()
    try:
        return _load_in_transaction(attempt, engine, finish, problems, fast=fast)
    except BaseException:
        problems.close()
        raise


def _load_in_transaction(
    attempt: FileAttempt,
    engine: Engine,
    finish: Finish | None,
    problems: ProblemLog,
    *,
    fast: bool,
) -> ImportResult:
    with open_table(attempt.path, attempt.options.read) as raw, engine.connect() as connection:
        transaction = connection.begin()
        try:
            job_id = attempt.job.id
            with FileLoad(
                connection, attempt.partner_id, job_id, attempt.loaded_at, fast=fast
            ) as load:
                result = _run(attempt, raw, load, problems)
            if result.rejection is None and finish is not None:
                finish(connection, result)
                transaction.commit()
            else:
                transaction.rollback()
        except BaseException:
            transaction.rollback()
            raise
    return result


def _run(attempt: FileAttempt, raw: RawTable, load: FileLoad, problems: ProblemLog) -> ImportResult:
    spec, options = attempt.spec, attempt.options
    headers = resolve_headers(raw.headers, spec, options.aliases)
    nested = nested_lists(raw, spec, options.aliases)
    used_lists = {n.list_name for n in nested}
    result = ImportResult(
        feed=spec.name,
        problems=problems,
        unknown_columns=[
            *headers.unknown,
            *(name for name in raw.children if name not in used_lists),
            *(f"{n.list_name}.{column}" for n in nested for column in n.headers.unknown),
        ],
    )
    targets = [spec, *(n.spec for n in nested)]
    known = KnownHashes(attempt, load, targets)
    if options.guards.max_changed_fraction is not None:
        result.live_before = {target.name: load.live_rows(target) for target in targets}
    filled: set[str] = set()
    file_keys = FileKeys(spec)
    progress = FileProgress(
        f"{attempt.partner_id}/{attempt.job.file_name}",
        raw,
        options.logging.progress_rows,
        options.logging.progress_interval_s,
    )
    batches = _validated(attempt, raw, headers, nested, known)
    for height, checked, batch_filled in batches if attempt.small else ahead(batches):
        result.row_count += height
        filled |= batch_filled
        progress.update(result.row_count)
        if result.row_count > options.limits.max_rows:
            raise UnreadableFileError(
                f"the file has more than {options.limits.max_rows} rows (limits.max_rows)"
            )
        batch_problems = concat_problems([c.problems for c in checked])
        problems.add(batch_problems)
        accepted = _without_rejected(checked, batch_problems)
        for target, rows in zip(targets, accepted, strict=True):
            load.stage(target, rows)
        file_keys.add(accepted[0])
        for n, lines in zip(nested, accepted[1:], strict=True):
            n.take(accepted[0], lines)
    progress.close()
    duplicates, result.superseded_count = _drop_repeated_keys(
        attempt, headers, nested, load, file_keys
    )
    problems.add_repeated_keys(duplicates)
    result.failed_count = problems.failed_rows
    result.filled_columns = sorted(filled)
    previous = _previous_shape(attempt, load)
    result.dropped_columns, result.new_columns = shape_drift(previous, filled)
    result.rejection = _rejection(result, options.feed)
    _guarded_merge(attempt, load, nested, file_keys, result)
    return result


def _previous_shape(attempt: FileAttempt, load: FileLoad) -> list[str] | None:
    """The columns the lane's last load filled: read with the job when that load is the latest
    of the feed's tables (the lane is held, so no other load of it came since)."""
    latest = attempt.latest
    if latest is not None and latest.feed == attempt.spec.name:
        return latest.shape()
    return last_shape(load.idle_connection(), attempt.partner_id, attempt.spec.name)


def _without_rejected(checked: list[ValidatedBatch], problems: pl.DataFrame) -> list[pl.DataFrame]:
    """Each batch's rows but those with a problem (no filter when there is none)."""
    if problems.is_empty():
        return [batch.rows for batch in checked]
    rejected = problems.get_column("row").unique().implode()
    return [batch.rows.filter(~pl.col(ROW).is_in(rejected)) for batch in checked]


def _guarded_merge(
    attempt: FileAttempt,
    load: FileLoad,
    nested: list[NestedList],
    file_keys: FileKeys,
    result: ImportResult,
) -> None:
    """The merge, between the guards: a lost column stops the file before it, too many
    deletes inside it, too many changes after it (the transaction then rolls back)."""
    guards = attempt.options.guards
    if result.rejection is None and result.dropped_columns and guards.drop_fails:
        _guard(attempt, load, result, dropped_message(result.dropped_columns))
    if result.rejection is None:
        _merge(attempt, load, nested, file_keys, result)
    if result.rejection is None:
        changed = _too_many_changes(attempt, result)
        if changed is not None and not _guard(attempt, load, result, changed):
            result.changes_sample = load.changes_sample(CHANGES_SHOWN)
    if result.rejection is not None:
        result.counts, result.children = MergeCounts(), {}
    elif result.dropped_columns:
        result.warnings.insert(0, dropped_warning(result.dropped_columns))


def _too_many_changes(attempt: FileAttempt, result: ImportResult) -> str | None:
    """The first of the file's tables it would change too much of: its rows, then each list's
    lines (a file of orders whose every line's quantity was multiplied changes no order)."""
    limit = attempt.options.guards.max_changed_fraction
    updated = {attempt.spec.name: result.counts.updated}
    updated |= {name: counts.updated for name, counts in result.children.items()}
    for name, count in updated.items():
        rows = "rows" if name == attempt.spec.name else f"{name} rows"
        reason = too_many_changes(count, result.live_before.get(name, 0), limit, rows)
        if reason is not None:
            return reason
    return None


def _merge(
    attempt: FileAttempt,
    load: FileLoad,
    nested: list[NestedList],
    file_keys: FileKeys,
    result: ImportResult,
) -> None:
    """Apply what was staged, every nested list, and the snapshot's deletes unless too many."""
    spec, options = attempt.spec, attempt.options
    snapshot = file_keys if options.feed.mode == "snapshot" else None
    limit = options.guards.max_deleted_fraction

    def may_delete(deleting: int, live: int) -> bool:
        reason = too_many_deletes(deleting, live, limit)
        return reason is None or _guard(attempt, load, result, reason)

    try:
        result.counts = load.merge(spec, snapshot, may_delete)
    except TooManyDeletesError:
        return
    for n in nested:
        counts = load.merge(n.spec, None)
        deleted = load.drop_missing_children(n.spec, n.carried_parents(), n.keys)
        result.children[n.spec.name] = replace(counts, deleted=deleted)


def _guard(attempt: FileAttempt, load: FileLoad, result: ImportResult, reason: str) -> bool:
    """A guard tripped: True when an operator forced this file through (noted in its report),
    else the file is refused."""
    forced = _forced_by(attempt, load)
    if forced is not None:
        result.warnings.append(forced_note(reason, forced))
        return True
    result.rejection = stopped(reason, attempt.job.id)
    return False


def _forced_by(attempt: FileAttempt, load: FileLoad) -> int | None:
    """The failed job an operator sent back with ``--force`` whose bytes this file repeats."""
    forced = forced_retries(load.idle_connection(), attempt.partner_id)
    if not forced or attempt.checksum is None:
        return None
    return forced.get(attempt.checksum.result()[0])


def _drop_repeated_keys(
    attempt: FileAttempt,
    headers: HeaderMap,
    nested: list[NestedList],
    load: FileLoad,
    file_keys: FileKeys,
) -> tuple[pl.DataFrame, int]:
    """The problems of keys the file repeats, and how many rows a later one superseded (with
    ``duplicate_keys = "last_wins"``); rows that do not stay are taken back from staging."""
    spec = attempt.spec
    keep_last = attempt.options.feed.duplicate_keys == "last_wins"
    repeated = file_keys.repeated_rows()
    if repeated.is_empty():  # the usual file: no key to read again
        return empty_problems(), 0
    candidates = _keys_of_rows(attempt, headers, repeated)
    duplicates, dropped = duplicate_keys(candidates, spec.key, keep_last)
    if not dropped.is_empty():
        for target in (spec, *(n.spec for n in nested)):
            load.unstage(target, dropped)
        file_keys.drop(dropped)
        for n in nested:
            n.drop(dropped)
    return duplicates, len(dropped) if keep_last else 0


def _keys_of_rows(attempt: FileAttempt, headers: HeaderMap, rows: pl.Series) -> pl.DataFrame:
    """The validated keys of ``rows``, read again from the file: only digests were kept, and
    this runs only when some digests repeat (a repeated key, or very rarely a collision)."""
    spec = attempt.spec
    empty = pl.DataFrame(schema={ROW: pl.Int64, **dict.fromkeys(spec.key, pl.String)})
    wanted = rows.implode()
    parts = [empty]
    with open_table(attempt.path, attempt.options.read) as raw:
        positions = Positions(spec)  # numbered over the whole file, as on the first read
        for frame in raw.frames:
            records = positions.fill(headers.named(frame, (ROW,)))
            candidates = records.filter(pl.col(ROW).is_in(wanted))
            if not candidates.is_empty():
                checked = validate(candidates, spec, attempt.options.validation).rows
                parts.append(checked.select(ROW, *spec.key))
    return pl.concat(parts, how="vertical_relaxed")


def _validated(
    attempt: FileAttempt,
    raw: RawTable,
    headers: HeaderMap,
    nested: list[NestedList],
    known: KnownHashes,
) -> Iterator[tuple[int, list[ValidatedBatch], set[str]]]:
    """Each batch's number of records, their validation (the feed's own first, then nested
    lists) and the feed's columns they filled. The raw text is not handed on, so batches
    waiting in the queue hold only typed rows."""
    spec, context = attempt.spec, attempt.options.validation
    max_field_chars = attempt.options.limits.max_field_chars
    positions = Positions(spec)
    for batch in raw.frames:
        frame, unreadable = _split_unreadable(batch)
        too_long = (
            empty_problems()
            if _within_limits(raw, max_field_chars)
            else _overlong_values(frame, raw.headers, max_field_chars, raw.nul_free)
        )
        if not too_long.is_empty():
            # Their rows fail: clipped, a value of many megabytes is not copied by every check.
            frame = frame.with_columns(pl.col(pl.String).str.slice(0, max_field_chars + 1))
        records = positions.fill(headers.named(frame, (ROW,)))
        own = validate_changed(records, spec, context, known.of(spec, records))
        checked = [ValidatedBatch(own.rows, concat_problems([own.problems, too_long, unreadable]))]
        checked += [validate_lines(n, records, context, known.of(n.spec, records)) for n in nested]
        yield records.height + unreadable.height, checked, filled_columns(records, spec)


def _split_unreadable(batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A JSON batch's records that could not be read, as problems, apart from the others."""
    if UNREADABLE not in batch.columns:
        return batch, empty_problems()
    broken = pl.col(UNREADABLE).is_not_null()
    problems = batch.filter(broken).select(
        pl.col(ROW).alias("row"),
        pl.lit("record").alias("column"),
        pl.lit(None, dtype=pl.String).alias("value"),
        pl.col(UNREADABLE).alias("error"),
    )
    return batch.filter(~broken).drop(UNREADABLE), problems.cast(PROBLEM_SCHEMA)


def _within_limits(raw: RawTable, limit: int) -> bool:
    """No value of a file of at most ``limit`` bytes of text is longer, and none holds a NUL when
    its bytes showed none: its values need no search (a small file's 0.3 ms)."""
    return raw.nul_free and raw.text_bytes is not None and raw.text_bytes <= limit


def _overlong_values(
    frame: pl.DataFrame, headers: list[str], limit: int, nul_free: bool
) -> pl.DataFrame:
    """Values, in any column (known or not), longer than ``limits.max_field_chars`` or holding a
    NUL character (no database stores one in text)."""
    present = set(frame.columns)
    columns = [column_name(i) for i in range(len(headers)) if column_name(i) in present]
    suspect = pl.any_horizontal(  # byte length bounds the character count: a cheap first pass
        pl.col(c).str.len_bytes() > limit
        if nul_free
        else (pl.col(c).str.len_bytes() > limit) | pl.col(c).str.contains("\x00", literal=True)
        for c in columns
    )
    if not columns or not frame.select(suspect.any()).item():
        return empty_problems()
    parts = [
        frame.filter(
            (pl.col(column_name(i)).str.len_chars() > limit)
            | pl.col(column_name(i)).str.contains("\x00", literal=True)
        ).select(
            pl.col(ROW).alias("row"),
            pl.lit(header).alias("column"),
            reported_value(pl.col(column_name(i))).alias("value"),
            pl.when(pl.col(column_name(i)).str.len_chars() > limit)
            .then(pl.lit(f"longer than {limit} characters (limits.max_field_chars)"))
            .otherwise(pl.lit("contains a NUL character"))
            .alias("error"),
        )
        for i, header in enumerate(headers)
        if column_name(i) in present
    ]
    return pl.concat(parts).cast(PROBLEM_SCHEMA) if parts else empty_problems()


def _rejection(result: ImportResult, feed_settings: FeedSettings) -> str | None:
    """The thresholds: too many bad rows and the file loads nothing at all."""
    if result.row_count == 0:
        return "the file has no data rows"
    rate = result.failed_count / result.row_count
    if result.failed_count > feed_settings.max_errors:
        return (
            f"{result.failed_count} of {result.row_count} rows failed, more than max_errors "
            f"{feed_settings.max_errors}; nothing was loaded"
        )
    if rate > feed_settings.max_error_rate:
        return (
            f"{result.failed_count} of {result.row_count} rows failed ({rate:.1%}), above "
            f"max_error_rate {feed_settings.max_error_rate:.1%}; nothing was loaded"
        )
    return None
