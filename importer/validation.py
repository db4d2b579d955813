"""Vectorized validation: string columns in, typed columns and worded problems out.

Every check is a Polars expression over a whole column; Python only runs per column, never per row.
A problem names the row (``_row``), the column, the value as sent and what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import polars as pl

from importer.feeds import ColumnRule, FeedSpec, Kind
from importer.feeds.base import EXTRA_COLUMN, PARTNER_COLUMN
from importer.frames import columns
from importer.problems import PROBLEM_SCHEMA, empty_problems, reported_value
from importer.raw import ITEM, ROW

TRUE_TOKENS = ("true", "t", "yes", "y", "1")
FALSE_TOKENS = ("false", "f", "no", "n", "0")
ISO_DATE = "%Y-%m-%d"
ISO_DATETIMES_WITH_OFFSET = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z")
ISO_DATETIMES_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", ISO_DATE)
EARLIEST_DATE = date(1800, 1, 1)
LATEST_DATE = date(2199, 12, 31)
ROWS_NAMED = 10
"""rows a repeated key's message names; listing all made a key sent on every row of a big file
cost memory by the square of its rows"""
_INTEGER = r"^[+-]?\d+(\.0*)?$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
"""a JSON number (a leading ``+`` and a bare ``.5`` allowed); never NaN or Infinity"""
_FAILED = "__failed"
"""whether a row failed some check: a column of the validation's own query"""
_HUMAN_TOKENS = (
    ("YYYY", "%Y"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


UNOPTIMIZED_ROWS = 10_000
"""frames up to this height are validated by the plan as written"""


@dataclass(frozen=True)
class ValidationContext:
    partner_id: str
    date_formats: tuple[str, ...] = ()
    """extra formats, strftime (``%m-%d-%Y``) or spelled out (``MM-DD-YYYY``)"""
    column_prefix: str | None = None
    """for nested records: problems name ``items[2].sku`` instead of ``sku``"""
    timezone: str = "UTC"
    """what a date-time without an offset means (IANA name); stored values are UTC"""


@dataclass(frozen=True)
class ValidatedBatch:
    rows: pl.DataFrame
    """typed rows that passed every check: ``_row`` plus the feed's data columns"""
    problems: pl.DataFrame
    """row, column, value, error"""


def strftime_format(fmt: str) -> str:
    """``MM-DD-YYYY`` -> ``%m-%d-%Y``; strftime formats pass through."""
    if "%" in fmt:
        return fmt
    for token, directive in _HUMAN_TOKENS:
        fmt = fmt.replace(token, directive)
    return fmt


def validate(
    frame: pl.DataFrame,
    spec: FeedSpec,
    context: ValidationContext,
    only: Collection[str] | None = None,
    carry: Sequence[str] = (),
) -> ValidatedBatch:
    """Check ``frame`` (string columns named by field, plus ``_row``) against ``spec``: every
    column, or the ``only`` ones; the ``carry`` columns, and ``extra``, pass through untouched."""
    wanted = None if only is None else frozenset(only)
    plan = _plan_for(spec, context, wanted, tuple(carry), frozenset(frame.columns))
    if frame.is_empty():
        return ValidatedBatch(plan.empty_rows(frame.schema), empty_problems())
    typed = _run(
        frame.lazy()
        .with_columns(plan.texts)
        .with_columns(plan.copies)
        .with_columns(plan.typed)
        .with_columns(plan.errors)
        .with_columns(() if plan.failed is None else (plan.failed,))
        .with_columns(plan.constants),
        frame.height,
    )
    rows = columns(typed, plan.rows)
    if plan.failed is None:
        return ValidatedBatch(rows=rows, problems=empty_problems())
    failed = typed.get_column(_FAILED)  # in the plan's query, not in one more
    if not failed.any():
        return ValidatedBatch(rows=rows, problems=empty_problems())
    problems = _problems(typed.filter(failed), plan.checked, context)
    return ValidatedBatch(rows=rows.filter(~failed), problems=problems)


def _run(query: pl.LazyFrame, height: int) -> pl.DataFrame:
    """A small frame's plan runs as written, in memory: Polars' optimizer costs 0.3 ms a plan
    and its streaming engine 0.1 ms more to start, more than running the plan on a small frame."""
    if height <= UNOPTIMIZED_ROWS:
        return query.collect(engine="in-memory", optimizations=pl.QueryOptFlags.none())
    return query.collect()


@dataclass(frozen=True)
class _Plan:
    """The expressions that validate one shape of frame: built once, used for every batch of
    every file of that shape (building them costs more than running them on a small file)."""

    checked: list[ColumnRule]
    texts: list[pl.Expr]
    copies: list[pl.Expr]
    typed: list[pl.Expr]
    errors: list[pl.Expr]
    constants: list[pl.Expr]
    """columns the same in every row: the partner, and a typed null for each field no row can
    fill"""
    rows: tuple[str, ...]
    """the columns of the rows, in their order"""
    schema: dict[str, pl.DataType | None]
    """of the rows; None where the frame's own column passes through"""
    failed: pl.Expr | None
    _empty: dict[tuple[tuple[str, pl.DataType], ...], pl.DataFrame] = field(default_factory=dict)

    def empty_rows(self, frame_schema: pl.Schema) -> pl.DataFrame:
        """No rows, typed as validated ones: a batch whose rows all repeat the live ones has
        nothing to check, and building an empty frame of many columns is not free either."""
        passed = tuple(
            (name, frame_schema[name]) for name, dtype in self.schema.items() if dtype is None
        )
        if passed not in self._empty:
            schema = {name: dtype or frame_schema[name] for name, dtype in self.schema.items()}
            self._empty[passed] = pl.DataFrame(schema=schema)
        return self._empty[passed]


@lru_cache(maxsize=512)
def _plan_for(
    spec: FeedSpec,
    context: ValidationContext,
    only: frozenset[str] | None,
    carry: tuple[str, ...],
    present: frozenset[str],
) -> _Plan:
    return _build_plan(spec, context, only, carry, present)


def _build_plan(
    spec: FeedSpec,
    context: ValidationContext,
    only: Collection[str] | None,
    carry: tuple[str, ...],
    present: frozenset[str],
) -> _Plan:
    wanted = [rule for rule in spec.columns if only is None or rule.name in only]
    rules = [rule for rule in wanted if _may_have_text(rule, spec, present, wanted)]
    formats = tuple(strftime_format(f) for f in context.date_formats)
    checked = {rule.name for rule in rules}
    copies = [
        pl.coalesce(
            pl.col(_text(target)),
            *(_copied(spec, source) for source in sources if source in checked),
        ).alias(_text(target))
        for target, sources in spec.copy_defaults.items()
        if target in checked
    ]
    extra = (EXTRA_COLUMN,) if EXTRA_COLUMN in present else ()
    failing = [pl.col(_error(rule.name)).is_not_null() for rule in rules]
    schema: dict[str, pl.DataType | None] = {ROW: None, PARTNER_COLUMN: pl.String()}
    schema |= {rule.name: typed_dtype(rule) for rule in wanted}
    schema |= dict.fromkeys((*carry, *extra))
    return _Plan(
        checked=rules,
        texts=[_cleaned(present, rule).alias(_text(rule.name)) for rule in rules],
        copies=copies,
        typed=[_typed(rule, spec, context, formats).alias(rule.name) for rule in rules],
        errors=[_problem(rule, spec).alias(_error(rule.name)) for rule in rules],
        constants=[
            pl.lit(context.partner_id).alias(PARTNER_COLUMN),
            *(
                pl.lit(None, typed_dtype(rule)).alias(rule.name)
                for rule in wanted
                if rule.name not in checked
            ),
        ],
        rows=(ROW, PARTNER_COLUMN, *(rule.name for rule in wanted), *carry, *extra),
        schema=schema,
        failed=pl.any_horizontal(failing).alias(_FAILED) if failing else None,
    )


def _may_have_text(
    rule: ColumnRule, spec: FeedSpec, present: Collection[str], wanted: Sequence[ColumnRule]
) -> bool:
    """Whether a column can hold anything, or fail: a column the file lacks, with no default,
    nothing to copy from and no need to be sent, is null in every row. Most files carry few of
    a feed's documented columns, and checking the others is most of a small file's time."""
    if rule.required or rule.default is not None or rule.name in present:
        return True
    names = {other.name: other for other in wanted}
    return any(
        source in present or (source in names and names[source].default is not None)
        for source in spec.copy_defaults.get(rule.name, ())
        if source in names
    )


def typed_dtype(rule: ColumnRule) -> pl.DataType:
    """The type a column's values are validated into."""
    match rule.kind:
        case Kind.STRING:
            return pl.String()
        case Kind.INTEGER:
            return pl.Int64()
        case Kind.DECIMAL:
            return pl.Decimal(_digits(rule), _places(rule))
        case Kind.NUMBER:
            return pl.Float64()
        case Kind.BOOLEAN:
            return pl.Boolean()
        case Kind.DATE:
            return pl.Date()
        case Kind.DATETIME:
            return pl.Datetime("us", "UTC")
    raise AssertionError(rule.kind)


def key_fields(spec: FeedSpec) -> frozenset[str]:
    """The columns that decide a row's key: the key's own, and what a key column defaults to."""
    key = set(spec.key)
    return frozenset(
        key
        | {
            source
            for target, sources in spec.copy_defaults.items()
            if target in key
            for source in sources
        }
    )


def _copied(spec: FeedSpec, source: str) -> pl.Expr:
    """A source's text as the target takes it: lower-case where the source is stored so."""
    text = pl.col(_text(source))
    return text.str.to_lowercase() if source in spec.lowercase else text


def _text(name: str) -> str:
    return f"__text_{name}"


def _error(name: str) -> str:
    return f"__error_{name}"


def _cleaned(present: Collection[str], rule: ColumnRule) -> pl.Expr:
    """Trimmed text, blank as missing, then the field's constant default."""
    if rule.name not in present:
        value = pl.lit(None, dtype=pl.String)
    else:
        stripped = pl.col(rule.name).str.strip_chars()
        value = pl.when(stripped.str.len_bytes() > 0).then(stripped)
    if rule.default is not None:
        value = value.fill_null(pl.lit(str(rule.default)))
    return value


def _typed(
    rule: ColumnRule, spec: FeedSpec, context: ValidationContext, formats: tuple[str, ...]
) -> pl.Expr:
    value = pl.col(_text(rule.name))
    match rule.kind:
        case Kind.STRING:
            return _string(value, rule, spec, context)
        case Kind.INTEGER:
            return (
                pl.when(value.str.contains(_INTEGER))
                .then(value.str.replace(r"\.0*$", ""))
                .cast(pl.Int64, strict=False)
            )
        case Kind.DECIMAL:
            return _decimal(value, rule)
        case Kind.NUMBER:
            number = pl.when(value.str.contains(_NUMBER)).then(value).cast(pl.Float64, strict=False)
            return pl.when(number.is_finite()).then(number)
        case Kind.BOOLEAN:
            tokens = dict.fromkeys(TRUE_TOKENS, True) | dict.fromkeys(FALSE_TOKENS, False)
            return value.str.to_lowercase().replace_strict(
                tokens, default=None, return_dtype=pl.Boolean
            )
        case Kind.DATE:
            parsed = _date(value, formats)
            return parsed.dt.truncate("1w") if rule.name in spec.weeks else parsed
        case Kind.DATETIME:
            return _datetime(value, formats, context.timezone)
    raise AssertionError(rule.kind)


def _string(
    value: pl.Expr, rule: ColumnRule, spec: FeedSpec, context: ValidationContext
) -> pl.Expr:
    if rule.choices:
        canonical = {_choice_key(choice): choice for choice in rule.choices}
        value = (
            value.str.to_lowercase()
            .str.replace_all(r"[\s_-]", "")
            .replace_strict(canonical, default=None, return_dtype=pl.String)
        )
    if rule.name in spec.lowercase:
        value = value.str.to_lowercase()
    if rule.name in spec.uppercase:
        value = value.str.to_uppercase()
    if rule.name in spec.locations:
        value = pl.lit(f"{context.partner_id}-") + value
    return value


def _choice_key(choice: str) -> str:
    return re.sub(r"[\s_-]", "", choice.lower())


def _places(rule: ColumnRule) -> int:
    return rule.decimal_places if rule.decimal_places is not None else 6


def _digits(rule: ColumnRule) -> int:
    return rule.max_digits or 38


def _decimal(value: pl.Expr, rule: ColumnRule) -> pl.Expr:
    scale, precision = _places(rule), _digits(rule)
    return (
        pl.when(value.str.contains(_decimal_pattern(precision - scale, scale)))
        .then(value)
        .str.to_decimal(scale=scale)
        .cast(pl.Decimal(precision, scale), strict=False)
    )


def _decimal_pattern(whole: int, places: int) -> str:
    """A number with at most ``whole`` integer and ``places`` decimal digits, in one regex:
    leading zeros and trailing fraction zeros do not count."""
    integer = rf"0*\d{{1,{whole}}}" if whole > 0 else "0+"
    fraction = rf"\.\d{{0,{places}}}0*" if places > 0 else r"\.0*"
    pure_fraction = rf"0*\.\d{{1,{places}}}0*" if places > 0 else r"0*\.0+"
    return rf"^[+-]?(?:{integer}(?:{fraction})?|{pure_fraction})$"


def _date(value: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    iso_prefix = value.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", 1)
    candidates = [iso_prefix.str.to_date(ISO_DATE, strict=False)]
    candidates += [value.str.to_date(fmt, strict=False) for fmt in formats if _is_date_only(fmt)]
    candidates += [
        value.str.to_datetime(fmt, strict=False, time_unit="us").dt.date()
        for fmt in formats
        if not _is_date_only(fmt)
    ]
    parsed = pl.coalesce(candidates)
    return pl.when(parsed.is_between(EARLIEST_DATE, LATEST_DATE)).then(parsed)


def _is_date_only(fmt: str) -> bool:
    return not any(d in fmt for d in ("%H", "%M", "%S", "%T", "%R"))


def _datetime(value: pl.Expr, formats: tuple[str, ...], timezone: str) -> pl.Expr:
    """An offset in the text wins; without one the time is read in ``timezone``. A local time
    that the zone skips (the hour clocks spring over) is no valid time; one it repeats (the
    hour they fall back) is taken as the earlier."""
    iso = value.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"[zZ]$", "+00:00")
    candidates = [
        iso.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        for fmt in ISO_DATETIMES_WITH_OFFSET
    ]
    naive = [iso.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in ISO_DATETIMES_NAIVE]
    naive += [value.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in formats]
    local = pl.coalesce(naive).dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    )
    parsed = pl.coalesce([*candidates, local.dt.convert_time_zone("UTC")])
    return pl.when(parsed.dt.date().is_between(EARLIEST_DATE, LATEST_DATE)).then(parsed)


def _problem(rule: ColumnRule, spec: FeedSpec) -> pl.Expr:
    """The first thing wrong with each value, or null."""
    text, typed = pl.col(_text(rule.name)), pl.col(rule.name)
    checks: list[tuple[pl.Expr, str]] = []
    if rule.required:
        sources = spec.copy_defaults.get(rule.name, ())
        missing = f"send {' or '.join(sources)}" if sources else "required value is missing"
        checks.append((text.is_null(), missing))
    checks.append((text.is_not_null() & typed.is_null(), _type_message(rule)))
    checks += _bounds(rule, typed)
    if rule.max_length is not None:
        checks.append(
            (
                typed.str.len_chars() > rule.max_length,
                f"longer than {rule.max_length} characters",
            )
        )
    problem = pl.lit(None, dtype=pl.String)
    for failed, message in reversed(checks):
        problem = pl.when(failed).then(pl.lit(message)).otherwise(problem)
    return problem


def _bounds(rule: ColumnRule, typed: pl.Expr) -> list[tuple[pl.Expr, str]]:
    number = typed.cast(pl.Float64)
    checks: list[tuple[pl.Expr, str]] = []
    if rule.minimum is not None:
        low = float(rule.minimum)
        if rule.exclusive_minimum:
            checks.append((number <= low, f"must be greater than {rule.minimum}"))
        else:
            checks.append((number < low, f"must be at least {rule.minimum}"))
    if rule.maximum is not None:
        checks.append((number > float(rule.maximum), f"must be at most {rule.maximum}"))
    return checks


def _type_message(rule: ColumnRule) -> str:
    match rule.kind:
        case Kind.STRING if rule.choices:
            return f"must be one of: {', '.join(rule.choices)}"
        case Kind.INTEGER:
            return "not a whole number (or out of range)"
        case Kind.DECIMAL:
            places = _places(rule)
            whole = _digits(rule) - places
            return f"not a number with at most {whole} digits and {places} decimal places"
        case Kind.NUMBER:
            return "not a number: use digits with a decimal point, such as 12.5 or 1.25e-3"
        case Kind.BOOLEAN:
            return "not a boolean: use true/false, yes/no or 1/0"
        case Kind.DATE:
            return "not a date: use YYYY-MM-DD (ISO-8601) between 1800 and 2199"
        case Kind.DATETIME:
            return "not a date-time: use ISO-8601 such as 2026-11-02T14:05:00+01:00"
    return f"not a valid {rule.kind.value}"


def _problems(
    typed: pl.DataFrame, rules: Sequence[ColumnRule], context: ValidationContext
) -> pl.DataFrame:
    parts = [
        typed.lazy()
        .filter(pl.col(_error(rule.name)).is_not_null())
        .select(
            pl.col(ROW).alias("row"),
            _column_label(typed, rule.name, context).alias("column"),
            reported_value(pl.col(_text(rule.name))).alias("value"),
            pl.col(_error(rule.name)).alias("error"),
        )
        for rule in rules
    ]
    return pl.concat(parts).collect().cast(PROBLEM_SCHEMA) if parts else empty_problems()


def _column_label(typed: pl.DataFrame, name: str, context: ValidationContext) -> pl.Expr:
    if context.column_prefix is None or ITEM not in typed.columns:
        return pl.lit(name)
    return pl.format(f"{context.column_prefix}[{{}}].{name}", pl.col(ITEM))


def duplicate_keys(
    keys: pl.DataFrame, key_columns: Sequence[str], keep_last: bool
) -> tuple[pl.DataFrame, pl.Series]:
    """Rows sharing a natural key: a problem on every row involved, naming the key's first rows,
    and the rows to drop.

    ``keep_last`` (policy ``last_wins``) keeps the last occurrence silently; otherwise every
    occurrence is a problem, since the file does not say which one is right.
    """
    none = pl.Series(ROW, [], dtype=pl.Int64)
    if keys.is_empty():
        return empty_problems(), none
    shown = [c for c in key_columns if c != PARTNER_COLUMN]
    repeated = keys.filter(pl.len().over(key_columns) > 1)
    if repeated.is_empty():
        return empty_problems(), none
    if keep_last:
        superseded = repeated.filter(pl.col(ROW) < pl.col(ROW).max().over(key_columns))
        return empty_problems(), superseded.get_column(ROW).unique().sort()
    problems = repeated.join(
        _repeated_key_messages(repeated, key_columns, "+".join(shown)),
        on=list(key_columns),
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).select(
        pl.col(ROW).alias("row"),
        pl.lit("+".join(shown)).alias("column"),
        pl.concat_str([pl.col(c).cast(pl.String) for c in shown], separator=", ").alias("value"),
        pl.col("error"),
    )
    return problems.cast(PROBLEM_SCHEMA), repeated.get_column(ROW).unique().sort()


def _repeated_key_messages(
    repeated: pl.DataFrame, key_columns: Sequence[str], named: str
) -> pl.DataFrame:
    """One message a repeated key, naming its first rows: worded once, not once a row."""
    sharing = pl.len()
    listed = pl.col(ROW).sort().head(ROWS_NAMED).cast(pl.String).str.join(", ")
    return repeated.group_by(key_columns).agg(
        pl.format(
            "duplicate key: the same {} is on rows {}",
            pl.lit(named),
            pl.when(sharing > ROWS_NAMED)
            .then(pl.format("{} and {} more", listed, sharing - ROWS_NAMED))
            .otherwise(listed),
        ).alias("error")
    )
