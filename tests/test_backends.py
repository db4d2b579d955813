"""The database-specific pieces, against the real SQLite and PostgreSQL."""

import time
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from importer.clock import utc_now
from importer.db import statements
from importer.db.backends import STAGING_ROW, backend_for, copy_rows
from importer.db.engine import PING_AFTER_IDLE_S, make_engine
from importer.db.ledger import (
    ImportJob,
    JobStatus,
    Ledger,
    LoadedBytes,
    latest_load,
    new_job,
    settle_job,
)
from importer.db.loader import FileLoad
from importer.exceptions import DatabaseUnavailableError, DuplicateKeyError
from importer.feeds import FEEDS
from importer.lifecycle import Pipeline
from tests.conftest import process


@pytest.fixture
def numbers_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE numbers (n BIGINT PRIMARY KEY, label TEXT)"))
    yield engine
    engine.dispose()


def test_fetch_integers_returns_every_value_signs_and_extremes_included(
    numbers_engine: Engine,
) -> None:
    few = [-(2**63), -1, 0, 7, 2**63 - 1, *range(1000, 3000)]
    many = range(10**15, 10**15 + 80_000)  # more text than is split in Python on SQLite
    with numbers_engine.begin() as connection:
        backend = backend_for(connection)
        copy_rows(
            backend,
            connection,
            "numbers",
            pl.DataFrame({"n": [*few, *many]}, schema={"n": pl.Int64}),
        )
        fetched_few = backend.fetch_integers(
            connection, "n", f"FROM numbers WHERE n NOT BETWEEN {many.start} AND {many.stop}"
        )
        fetched_all = backend.fetch_integers(connection, "n", "FROM numbers")
        nothing = backend.fetch_integers(connection, "n", "FROM numbers WHERE n = 5")
    assert fetched_few.dtype == fetched_all.dtype == pl.Int64
    assert sorted(fetched_few.to_list()) == sorted(few)
    assert sorted(fetched_all.to_list()) == sorted([*few, *many])
    assert nothing.to_list() == []


def test_a_stream_spans_batches_with_constants_and_a_repeated_key_surfaces_as_duplicate(
    numbers_engine: Engine,
) -> None:
    with numbers_engine.begin() as connection:
        backend = backend_for(connection)
        with backend.open_stream(connection, "numbers", {"label": "it's"}) as stream:
            for start in (0, 10, 20):
                stream.write(pl.DataFrame({"n": range(start, start + 10)}).cast(pl.Int64))
        rows = connection.execute(text("SELECT label, COUNT(*) FROM numbers GROUP BY label"))
        assert rows.all() == [("it's", 30)]
        with (
            pytest.raises(DuplicateKeyError),
            backend.open_stream(connection, "numbers", {}) as stream,
        ):
            stream.write(pl.DataFrame({"n": [100, 5], "label": ["new", "again"]}))


def test_a_column_first_filled_in_a_later_batch_is_written_and_empty_ones_stay_null(
    numbers_engine: Engine,
) -> None:
    """PostgreSQL leaves out a column no row has filled yet and starts another COPY once one does."""
    labels = [None] * 10 + [f"L{n}" for n in range(10, 15)] + [None] * 5 + ["L20"] + [None] * 4
    with numbers_engine.begin() as connection:
        backend = backend_for(connection)
        with backend.open_stream(connection, "numbers", {}) as stream:
            for start in range(0, 25, 5):
                batch = {"n": range(start, start + 5), "label": labels[start : start + 5]}
                stream.write(pl.DataFrame(batch, schema={"n": pl.Int64, "label": pl.String}))
        rows = connection.execute(text("SELECT n, label FROM numbers ORDER BY n")).all()
    assert rows == list(enumerate(labels))


def test_a_repeated_key_before_a_column_is_first_filled_surfaces_as_duplicate(
    numbers_engine: Engine,
) -> None:
    schema = {"n": pl.Int64, "label": pl.String}
    assert_refused_with_nothing_written(
        numbers_engine,
        {},
        [
            pl.DataFrame({"n": [1, 1], "label": [None, None]}, schema=schema),
            pl.DataFrame({"n": [2], "label": ["x"]}, schema=schema),
        ],
    )


def test_text_with_every_character_copy_gives_a_meaning_arrives_unchanged(
    numbers_engine: Engine,
) -> None:
    labels = [
        "back\\slash",
        "tab\there",
        "two\nlines",
        "carriage\rreturn",
        "\\N",
        "\\.",
        '"quoted", with commas',
        "",
        None,
        "naïve café – 5€",
    ]
    with numbers_engine.begin() as connection:
        backend = backend_for(connection)
        frame = pl.DataFrame(
            {"n": range(len(labels)), "label": labels}, schema={"n": pl.Int64, "label": pl.String}
        )
        copy_rows(backend, connection, "numbers", frame)
        rows = connection.execute(text("SELECT label FROM numbers ORDER BY n")).scalars().all()
    assert rows == labels


@pytest.mark.parametrize(
    "special", ["back\\slash", "tab\there", "two\nlines", "carriage\rreturn", "\\N", "\\"]
)
def test_one_value_copy_gives_a_meaning_arrives_unchanged_in_any_batch_of_a_stream(
    numbers_engine: Engine, special: str
) -> None:
    """Batches are written unescaped and checked after: one such character alone is noticed in
    the first batch or a later one, and the batches after it arrive unchanged too."""
    streams = [
        [["plain", None], [special, None], ["after", None], [None, special]],
        [[special], ["plain", None]],
    ]
    written: list[str | None] = []
    with numbers_engine.begin() as connection:
        backend = backend_for(connection)
        for batches in streams:
            with backend.open_stream(connection, "numbers", {}) as stream:
                for labels in batches:
                    numbers = range(len(written), len(written) + len(labels))
                    written += labels
                    stream.write(
                        pl.DataFrame(
                            {"n": numbers, "label": labels},
                            schema={"n": pl.Int64, "label": pl.String},
                        )
                    )
        rows = connection.execute(text("SELECT label FROM numbers ORDER BY n")).scalars().all()
    assert rows == written


def test_the_keyed_lookup_finds_the_live_rows_of_keys_with_any_character(
    pipeline: Pipeline, engine: Engine
) -> None:
    """A small file looks its SKUs up as one parameter: quotes, backslashes, commas and braces,
    which that parameter's form gives a meaning, must match the stored keys all the same."""
    skus = ['say "hi"', "back\\slash", "a,b", "{braced}", "two words", "it's", "naïve–€😀", "NULL"]
    rows = pl.DataFrame({"sku": skus, "price": [str(n) for n in range(len(skus))]})
    process(pipeline, "acme", "products.csv", rows.write_csv())
    process(pipeline, "other", "products.csv", rows.write_csv())
    with engine.begin() as connection:
        stored = connection.execute(
            text("SELECT sku, row_hash FROM products WHERE partner_id = 'acme'")
        ).all()
        with FileLoad(connection, "acme", None, utc_now()) as load:
            asked = pl.DataFrame({"sku": [*skus[1:], "absent", "absent"]})
            values = load.backend.bound_values(asked, pl.col("sku").unique())
            found = load.known_hashes_where(FEEDS["products"], "sku", values)
    assert values.distinct == len(skus)
    assert sorted(sku for sku, _ in stored) == sorted(skus)
    assert found.to_list() == sorted(row_hash for sku, row_hash in stored if sku != skus[0])


def test_a_repeated_key_early_in_a_long_stream_stops_it_with_nothing_written(
    numbers_engine: Engine,
) -> None:
    """The server may refuse while later batches are still being sent, or only at the end."""
    batches = (
        pl.DataFrame({"n": range(start, start + 50_000)}).cast(pl.Int64)
        for start in range(2, 2_000_002, 50_000)
    )
    assert_refused_with_nothing_written(
        numbers_engine,
        {"label": "x" * 200},
        chain([pl.DataFrame({"n": [1, 1]}).cast(pl.Int64)], batches),
    )


def assert_refused_with_nothing_written(
    engine: Engine, constants: dict[str, str], batches: Iterable[pl.DataFrame]
) -> None:
    """Stream ``batches`` into ``numbers`` in one transaction: a repeated key among them must
    surface as DuplicateKeyError and leave the table empty."""
    with engine.connect() as connection:
        backend = backend_for(connection)
        with (
            pytest.raises(DuplicateKeyError),
            connection.begin(),
            backend.open_stream(connection, "numbers", constants) as stream,
        ):
            for batch in batches:
                stream.write(batch)
        assert connection.execute(text("SELECT COUNT(*) FROM numbers")).scalar_one() == 0


def test_a_staging_table_outlives_its_transaction_and_opens_empty(numbers_engine: Engine) -> None:
    """Kept by the connection (no catalog rows written and removed for every file), yet rows a
    load left in it, committed or not, never reach the next load."""
    staged = pl.DataFrame({"n": [1, 2], "label": ["a", "b"], STAGING_ROW: [1, 2]})
    with numbers_engine.connect() as connection:
        backend = backend_for(connection)
        identities, counts = [], []
        for end in ("commit", "rollback", "commit"):
            with connection.begin() as transaction:
                backend.open_staging(connection, "stg_numbers", "numbers", "n, label")
                counts.append(_count(connection, "stg_numbers"))
                identities.append(_table_identity(connection, "stg_numbers"))
                copy_rows(backend, connection, "stg_numbers", staged)
                assert _count(connection, "stg_numbers") == 2
                getattr(transaction, end)()
    assert counts == [0, 0, 0]
    assert len(set(identities)) == 1  # made by the first load; a rollback keeps what it found


def _count(connection: Connection, table: str) -> int:
    return int(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())


def _table_identity(connection: Connection, table: str) -> int:
    """Changes when the table is made anew: its oid, or SQLite's temp schema version."""
    if connection.dialect.name == "sqlite":
        query = "PRAGMA temp.schema_version"
    else:
        query = f"SELECT CAST('{table}' AS regclass)::oid::bigint"
    return int(connection.exec_driver_sql(query).scalar_one())


def test_after_analyze_a_partner_owning_the_table_is_read_by_scanning_it(database_url: str) -> None:
    """A partner's hashes are read by a scan, not one key-index lookup a row: statistics must
    count all of the partner's rows (a sampled ANALYZE stopped at 1000 on SQLite)."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE feed (partner TEXT, sku TEXT, h BIGINT, PRIMARY KEY (partner, sku))")
        )
        backend = backend_for(connection)
        skus = [f"SKU-{n:05d}" for n in range(5000)]
        rows = pl.DataFrame({"partner": "acme", "sku": skus, "h": range(5000)})
        copy_rows(backend, connection, "feed", rows.sample(fraction=1.0, shuffle=True, seed=3))
        backend.analyze(connection, "feed", ["partner", "sku"])
        explain = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN"
        plan = connection.exec_driver_sql(
            f"{explain} SELECT h FROM feed WHERE partner = 'acme'"
        ).all()
    engine.dispose()
    described = " ".join(str(step[-1]) for step in plan)
    assert "SCAN feed" in described or "Seq Scan on feed" in described


@pytest.mark.postgres
def test_postgres_statistics_count_the_rows_and_their_small_sample_ends_with_the_transaction(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        with connection.begin():
            default = connection.exec_driver_sql("SHOW default_statistics_target").scalar_one()
        with connection.begin():
            connection.exec_driver_sql(
                "CREATE TABLE feed AS SELECT 'acme' AS partner, 'SKU-' || n AS sku "
                "FROM generate_series(1, 200000) AS n"
            )
            backend_for(connection).analyze(connection, "feed", ["partner", "sku"])
        with connection.begin():
            counted = connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'feed'"
            ).scalar_one()
            after = connection.exec_driver_sql("SHOW default_statistics_target").scalar_one()
    engine.dispose()
    assert abs(counted - 200_000) < 2_000
    assert after == default


def test_sqlite_commits_are_on_disk_before_the_file_moves_on(tmp_path: Path) -> None:
    """WAL keeps readers unblocked; synchronous FULL (2) syncs every commit, not only
    checkpoints, so a power cut cannot take back a load whose file is in done/. Staging tables
    live in a temporary file (1) past the page cache: a file staged whole (repeated keys send it
    the careful way) held all its rows in memory when they lived there."""
    engine = make_engine(f"sqlite:///{tmp_path / 'importer.db'}")
    with engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        temp_store = connection.exec_driver_sql("PRAGMA temp_store").scalar_one()
    engine.dispose()
    assert (journal, synchronous, temp_store) == ("wal", 2, 1)


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        pid: int = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        return pid


def _terminate(url: str, pid: int) -> None:
    """End a pooled connection's server process, from a connection of another engine."""
    other = make_engine(url)
    with other.begin() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 5000)")
    other.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_lost_while_idle_is_replaced_before_it_is_lent(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    lost = _backend_pid(engine)
    _terminate(postgres_url, lost)
    time.sleep(PING_AFTER_IDLE_S + 0.2)
    lent = _backend_pid(engine)
    engine.dispose()
    assert lent != lost


@pytest.mark.postgres
def test_a_connection_lost_moments_after_use_fails_as_unavailable_once_then_is_renewed(
    postgres_url: str,
) -> None:
    """Not pinged: a file in the middle of a stream loses the round trip, not its outcome (a
    transient fault sends it back to ``incoming/``)."""
    engine = make_engine(postgres_url, pool_size=1)
    lost = _backend_pid(engine)
    _terminate(postgres_url, lost)
    with pytest.raises(DatabaseUnavailableError):
        _backend_pid(engine)
    lent = _backend_pid(engine)
    engine.dispose()
    assert lent != lost


def test_a_job_written_and_settled_on_the_driver_reads_back_as_one_the_orm_wrote(
    engine: Engine,
) -> None:
    """The ledger's own statements bind times, statuses and flags as SQLAlchemy would."""
    ledger = Ledger(engine)
    first = new_job("acme", "products_1.csv", "/in/p.csv", feed="products", host="h1")
    jobs = [first, ImportJob(**first.model_dump(exclude={"id"}))]
    ledger.open_job(first)
    finished = utc_now()
    for job in jobs:
        job.status, job.completed_at = JobStatus.COMPLETED, finished
        job.retry_forced, job.sha256, job.row_count = True, "ab" * 32, 7
    with engine.begin() as connection:
        settle_job(connection, jobs[0])
    with Session(engine) as session:
        session.add(jobs[1])
        session.commit()
        session.refresh(jobs[1])
    by_driver, by_orm = (ledger.get(job.id or 0) for job in jobs)
    assert by_driver is not None and by_orm is not None
    assert by_driver.model_dump(exclude={"id"}) == by_orm.model_dump(exclude={"id"})
    with engine.connect() as connection:
        latest = latest_load(connection, "acme", ["products"])
    assert latest == LoadedBytes(by_orm.id or 0, "products", None, "ab" * 32, None)


@pytest.mark.postgres
def test_a_small_files_change_log_looks_its_keys_up_instead_of_scanning_every_partner(
    postgres_url: str,
) -> None:
    """Another partner's 6,000 live rows must not be read to log the changes of 50."""
    spec = FEEDS["inventory"]
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO {spec.table_name} (partner_id, sku, location_id, quantity_on_hand, "
            "quantity_reserved, reorder_point) SELECT CASE WHEN n <= 50 THEN 'small' ELSE 'big' "
            "END, 'SKU-' || n, 'WH1', n, 0, 0 FROM generate_series(1, 6050) AS n"
        )
        connection.exec_driver_sql(f"ANALYZE {spec.table_name}")
    with engine.begin() as connection:
        backend = backend_for(connection)
        staging = statements.staging_table(spec)
        columns = ", ".join((*spec.data_columns, "row_hash"))
        backend.open_staging(connection, staging, spec.table_name, columns)
        moved = columns.replace("quantity_on_hand", "quantity_on_hand + 1")
        connection.exec_driver_sql(
            f"INSERT INTO {staging} ({columns}) SELECT {moved} FROM {spec.table_name} "
            "WHERE partner_id = 'small'"
        )
        logged = statements.record_changes(backend, spec, "small")
        plan = connection.execute(
            text(f"EXPLAIN (FORMAT JSON) {logged}"),
            {"job": 1, "table": spec.table_name, "now": utc_now()},
        ).scalar_one()
        connection.execute(text(logged), {"job": 1, "table": spec.table_name, "now": utc_now()})
        recorded = connection.exec_driver_sql("SELECT COUNT(*) FROM row_changes").scalar_one()
    engine.dispose()
    scans = {
        (node["Node Type"], node.get("Relation Name")) for node in _plan_nodes(plan[0]["Plan"])
    }
    assert ("Seq Scan", spec.table_name) not in scans
    assert recorded == 50


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)
