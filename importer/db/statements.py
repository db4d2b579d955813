"""The SQL text of one file's merge, built from the feed specs' own identifiers.

No name or value a partner sent becomes SQL here: tables and columns come from the feed specs,
the partner id is quoted as a string literal (and is limited to a safe alphabet anyway), and
the load's job and time are bound as ``:job`` and ``:now``.
"""

from __future__ import annotations

from collections.abc import Sequence

from importer.db.backends import STAGING_ROW, Backend
from importer.feeds import FeedSpec
from importer.feeds.base import HASH_COLUMN, PARTNER_COLUMN
from importer.raw import LINE_COUNT


def staging_table(spec: FeedSpec) -> str:
    return f"stg_{spec.table_name}"


def gone_table(spec: FeedSpec) -> str:
    """Keys a snapshot no longer holds, on their way to ``deleted_at``."""
    return f"gone_{spec.table_name}"


def carried_table(spec: FeedSpec) -> str:
    """Parents whose nested list the file sent whole: their other children are deleted."""
    return f"carried_{spec.table_name}"


def string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def any_row(spec: FeedSpec, partner_id: str) -> str:
    """Whether the partner has any row, deleted ones included: they hold their keys too."""
    return (
        f"SELECT 1 FROM {spec.table_name} "
        f"WHERE {PARTNER_COLUMN} = {string_literal(partner_id)} LIMIT 1"
    )


def live_hashes_source(spec: FeedSpec, partner_id: str) -> str:
    """FROM/WHERE of the text hashes of the partner's live rows: a deleted row must ship to revive."""
    return (
        f"FROM {spec.table_name} WHERE {PARTNER_COLUMN} = {string_literal(partner_id)} "
        f"AND deleted_at IS NULL AND {HASH_COLUMN} IS NOT NULL"
    )


def keyed_hashes_source(spec: FeedSpec, partner_id: str, key_is_one_of: str) -> str:
    """FROM/WHERE of the text hashes of the partner's live rows that meet ``key_is_one_of``
    (a backend's ``one_of``)."""
    return f"{live_hashes_source(spec, partner_id)} AND {key_is_one_of}"


def live_count(spec: FeedSpec, partner_id: str) -> str:
    return (
        f"SELECT COUNT(*) FROM {spec.table_name} "
        f"WHERE {PARTNER_COLUMN} = {string_literal(partner_id)} AND deleted_at IS NULL"
    )


def live_keys(spec: FeedSpec, partner_id: str, within: Sequence[str] = ()) -> str:
    """The keys of the partner's live rows, as text; with ``within``, only those of the parents
    in :func:`carried_table`, matched on those columns."""
    query = (
        "SELECT "
        + ", ".join(f"CAST({k} AS TEXT)" for k in spec.key)
        + f" FROM {spec.table_name} WHERE {PARTNER_COLUMN} = {string_literal(partner_id)} "
        "AND deleted_at IS NULL"
    )
    if within:
        match = " AND ".join(f"c.{column} = {spec.table_name}.{column}" for column in within)
        query += f" AND EXISTS (SELECT 1 FROM {carried_table(spec)} c WHERE {match})"
    return query


def index_staged_rows(spec: FeedSpec) -> str:
    staging = staging_table(spec)
    return f"CREATE INDEX IF NOT EXISTS {staging}_rows ON {staging} ({STAGING_ROW})"


def delete_staged(spec: FeedSpec, rows: Sequence[int]) -> str:
    return (
        f"DELETE FROM {staging_table(spec)} WHERE {STAGING_ROW} IN "
        f"({', '.join(str(int(r)) for r in rows)})"
    )


def key_match(spec: FeedSpec, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in spec.key)


def differs(
    backend: Backend, spec: FeedSpec, old: str, new: str, extra: tuple[str, ...] = ()
) -> str:
    """Whether the row ``new`` differs from ``old`` in a value, or revives a deleted ``old``."""
    values = [c for c in (*spec.data_columns, *extra) if c not in spec.key]
    terms = [f"{old}.{c} {backend.differs} {new}.{c}" for c in values]
    terms.append(f"{old}.deleted_at IS NOT NULL")
    return "(" + " OR ".join(terms) + ")"


def merge_counts(backend: Backend, spec: FeedSpec) -> str:
    """How many staged rows are new, and how many change a row, before the upsert runs (where
    the upsert cannot count them itself)."""
    staging = staging_table(spec)
    return (
        f"SELECT COUNT(*), COUNT(*) FILTER (WHERE t.{PARTNER_COLUMN} IS NULL), "
        f"COUNT(*) FILTER (WHERE t.{PARTNER_COLUMN} IS NOT NULL "
        f"AND {differs(backend, spec, 't', 's')}) "
        f"FROM {staging} s LEFT JOIN {spec.table_name} t ON {key_match(spec, 't', 's')}"
    )


def record_changes(backend: Backend, spec: FeedSpec, partner_id: str) -> str:
    """One pass over the changed rows writes old -> new for every tracked field that moved
    (binds ``:job``, ``:table``, ``:now``).

    The live rows are named as the partner's: PostgreSQL then looks each staged key up in the
    primary key. Joined on the key alone, a small file's rows were hashed against a scan of the
    whole table, every partner's rows: 1.4 ms instead of 0.3 ms at 6,000 live rows, and growing
    with the table."""
    key = backend.key_json([f"s.{k}" for k in spec.key])
    names = " UNION ALL ".join(f"SELECT '{c}' AS name" for c in spec.tracked)
    old = " ".join(f"WHEN '{c}' THEN {backend.as_text(f't.{c}')}" for c in spec.tracked)
    new = " ".join(f"WHEN '{c}' THEN {backend.as_text(f's.{c}')}" for c in spec.tracked)
    return (
        "INSERT INTO row_changes (job_id, table_name, partner_id, row_key, column_name, "
        "old_value, new_value, changed_at) "
        "SELECT :job, :table, partner_id, row_key, column_name, old_value, new_value, :now "
        f"FROM (SELECT s.{PARTNER_COLUMN} AS partner_id, {key} AS row_key, "
        f"c.name AS column_name, CASE c.name {old} END AS old_value, "
        f"CASE c.name {new} END AS new_value "
        f"FROM {staging_table(spec)} s JOIN {spec.table_name} t "
        f"ON t.{PARTNER_COLUMN} = {string_literal(partner_id)} AND {key_match(spec, 't', 's')} "
        f"CROSS JOIN ({names}) c "
        f"WHERE {differs(backend, spec, 't', 's')}) AS moved "
        f"WHERE old_value {backend.differs} new_value"
    )


def upsert(backend: Backend, spec: FeedSpec) -> str:
    """Insert new rows, rewrite changed ones; a row equal in every value is left untouched,
    except that a new text hash is stored (the text changed, not the values), without counting
    as a change: ``last_job_id`` and ``updated_at`` stay (binds ``:job``, ``:now``)."""
    table = spec.table_name
    columns = ", ".join((*spec.data_columns, HASH_COLUMN))
    values = [c for c in (*spec.data_columns, HASH_COLUMN) if c not in spec.key]
    changed = differs(backend, spec, table, "excluded")
    assignments = ", ".join(
        [f"{c} = excluded.{c}" for c in values]
        + [
            f"{c} = CASE WHEN {changed} THEN excluded.{c} ELSE {table}.{c} END"
            for c in ("last_job_id", "updated_at")
        ]
        + ["deleted_at = NULL"]
    )
    written = differs(backend, spec, table, "excluded", (HASH_COLUMN,))
    return (
        f"INSERT INTO {table} ({columns}, first_job_id, last_job_id, created_at, "
        f"updated_at, deleted_at) SELECT {columns}, :job, :job, :now, :now, NULL "
        f"FROM {staging_table(spec)} WHERE true "
        f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET {assignments} WHERE {written}"
    )


def shrunk_parents(spec: FeedSpec, partner_id: str, within: Sequence[str]) -> str:
    """The parents of :func:`carried_table` that have more live lines than their list held:
    after the merge every line sent is live, so only those have lines to delete. The lines of
    the carried parents are counted a parent at a time, instead of every key being read back."""
    carried = carried_table(spec)
    columns = ", ".join(within)
    match = " AND ".join(f"n.{column} = c.{column}" for column in within)
    return (
        f"SELECT {', '.join(f'CAST(c.{column} AS TEXT)' for column in within)} "
        f"FROM (SELECT {columns}, COUNT(*) AS live FROM {spec.table_name} "
        f"WHERE {PARTNER_COLUMN} = {string_literal(partner_id)} AND deleted_at IS NULL "
        f"AND ({columns}) IN (SELECT {columns} FROM {carried}) GROUP BY {columns}) n "
        f"JOIN {carried} c ON {match} WHERE n.live > c.{LINE_COUNT}"
    )


def record_deletes(backend: Backend, spec: FeedSpec) -> str:
    """A ``deleted_at`` change in ``row_changes`` for each row about to be marked deleted by
    :func:`mark_deleted` (binds ``:job``, ``:table``, ``:now``, ``:now_text``)."""
    key = backend.key_json([f"t.{k}" for k in spec.key])
    return (
        "INSERT INTO row_changes (job_id, table_name, partner_id, row_key, column_name, "
        "old_value, new_value, changed_at) "
        f"SELECT :job, :table, t.{PARTNER_COLUMN}, {key}, 'deleted_at', NULL, :now_text, :now "
        f"FROM {spec.table_name} t WHERE t.deleted_at IS NULL AND EXISTS "
        f"(SELECT 1 FROM {gone_table(spec)} g WHERE {key_match(spec, 'g', 't')})"
    )


def mark_deleted(spec: FeedSpec) -> str:
    """Stamp ``deleted_at`` on the rows whose keys wait in :func:`gone_table` (binds ``:job``,
    ``:now``)."""
    return (
        f"UPDATE {spec.table_name} SET deleted_at = :now, last_job_id = :job "
        f"WHERE EXISTS (SELECT 1 FROM {gone_table(spec)} g "
        f"WHERE {key_match(spec, 'g', spec.table_name)})"
    )
