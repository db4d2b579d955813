"""Schema migrations: a 0.1.0 database upgrades in place, the code and the migrations agree,
and a schema that does not fit stops the command instead of being retried."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, inspect, text

from importer.config import Settings
from importer.db import schema
from importer.db.engine import make_engine
from importer.lifecycle import Pipeline
from tests.conftest import fresh_postgres_database
from tests.test_cli import importer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PRODUCTS = "sku,name,price\nA-1,Lamp,10.00\nA-2,Desk,99.50\n"
HEAD = schema.head_revision()
REPRICED = "sku,name,price\nA-1,Lamp,12.00\nA-2,Desk,99.50\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'importer.db'}"
        return
    with fresh_postgres_database(with_schema=False) as url:
        yield url


def create_0_1_0_schema(url: str, *, with_rows: bool = False) -> None:
    """The tables exactly as release 0.1.0 made them, from its DDL, and some rows it wrote."""
    scripts = [
        FIXTURES / f"schema-0.1.0-{'sqlite' if url.startswith('sqlite') else 'postgresql'}.sql"
    ]
    scripts += [FIXTURES / "data-0.1.0.sql"] if with_rows else []
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            for script in scripts:
                connection.executescript(script.read_text())
        return
    with psycopg.connect(url, autocommit=True) as connection:
        for script in scripts:
            connection.execute(script.read_text().encode())


def write_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = tmp_path / "importer.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n{extra}\n[inbox]\nroot = "{tmp_path / "inbox"}"\n'
    )
    return config


def drop(tmp_path: Path, name: str, content: str) -> Path:
    folder = tmp_path / "inbox" / "incoming" / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(content)
    return folder / name


def upgraded_with(url: str, revision: str, *inserts: str) -> Engine:
    """A database at ``revision`` holding the rows of ``inserts``, then migrated to head (and
    matching the code): what the later migrations do to rows already there."""
    engine = make_engine(url)
    schema.upgrade(engine, target=revision)
    with engine.begin() as connection:
        for insert in inserts:
            connection.execute(text(insert))
    schema.upgrade(engine)
    assert schema.differences(engine) == []
    return engine


def scalar(engine: Engine, query: str) -> object:
    with engine.connect() as connection:
        return connection.execute(text(query)).scalar()


def test_a_0_1_0_database_upgrades_in_place_keeping_rows_jobs_and_changes(
    tmp_path: Path, empty_database_url: str
) -> None:
    url = empty_database_url
    create_0_1_0_schema(url, with_rows=True)
    settings = Settings.model_validate(
        {"database": {"url": url}, "inbox": {"root": str(tmp_path / "inbox")}}
    )
    engine = make_engine(url)
    assert schema.revision_of(engine).standing == "behind"

    upgraded = importer(write_config(tmp_path, url), "db", "upgrade")

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from 0001 to {HEAD}" in upgraded.stdout
    assert schema.revision_of(engine).standing == "current"
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE store_id = ''") == 2
    assert scalar(engine, "SELECT price FROM products WHERE sku = 'A-1'") in (12, "12.0000")
    assert scalar(engine, "SELECT COUNT(*) FROM import_jobs WHERE status = 'COMPLETED'") == 2
    assert scalar(engine, "SELECT new_value FROM row_changes WHERE column_name = 'price'") in (
        "12.0000",
        "12",
    )
    assert "ix_row_changes_row" in {i["name"] for i in inspect(engine).get_indexes("row_changes")}
    assert schema.differences(engine) == []
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    third = pipeline.process(drop(tmp_path, "products_3.csv", PRODUCTS), "acme")
    assert third is not None
    assert third.status == "COMPLETED"
    assert scalar(engine, "SELECT price FROM products WHERE sku = 'A-1'") in (10, "10.0000")
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 2
    assert scalar(engine, "SELECT COUNT(*) FROM row_changes WHERE column_name = 'price'") == 2
    engine.dispose()


def test_an_empty_database_gets_the_schema_of_the_models(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    assert schema.revision_of(engine).standing == "empty"
    schema.prepare(engine, auto_upgrade=False)  # an empty database is never "older"
    assert schema.revision_of(engine).standing == "current"
    assert schema.differences(engine) == []
    engine.dispose()


def test_a_size_over_two_gib_fits_the_ledger(database_url: str, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO import_jobs (partner_id, file_name, source_path, size_bytes, status, "
                "row_count, processed_count, inserted_count, updated_count, unchanged_count, "
                "failed_count, deleted_count, created_at) VALUES ('acme', 'big.csv', 'big.csv', "
                ":size, 'PENDING', 0, 0, 0, 0, 0, 0, 0, CURRENT_TIMESTAMP)"
            ),
            {"size": 5 << 30},
        )
    assert scalar(engine, "SELECT size_bytes FROM import_jobs") == 5 << 30


def test_auto_upgrade_off_refuses_an_older_database_naming_both_revisions(
    tmp_path: Path, empty_database_url: str
) -> None:
    create_0_1_0_schema(empty_database_url)
    config = write_config(tmp_path, empty_database_url, "auto_upgrade = false")
    waiting = drop(tmp_path, "products.csv", PRODUCTS)

    refused = importer(config, "process")

    assert refused.returncode == 2
    assert "0001" in refused.stderr and HEAD in refused.stderr
    assert "importer db upgrade" in refused.stderr
    assert waiting.read_text() == PRODUCTS
    engine = make_engine(empty_database_url)
    assert schema.revision_of(engine).standing == "behind"
    engine.dispose()


def test_a_database_newer_than_the_code_is_refused_and_left_untouched(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    config = write_config(tmp_path, database_url)
    waiting = drop(tmp_path, "products.csv", PRODUCTS)

    for command in (("process",), ("db", "upgrade")):
        refused = importer(config, *command)
        assert refused.returncode == 2, command
        assert "newer than this release" in refused.stderr
    assert scalar(engine, "SELECT version_num FROM alembic_version") == "9999"
    assert waiting.read_text() == PRODUCTS


@pytest.mark.slow
def test_two_upgrades_at_once_migrate_once(tmp_path: Path, empty_database_url: str) -> None:
    create_0_1_0_schema(empty_database_url)
    config = write_config(tmp_path, empty_database_url)
    command = ["db", "upgrade"]
    with ThreadedRuns(config, command, count=2) as runs:
        results = runs.results
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    outputs = sorted(r.stdout for r in results)
    assert sum(f"upgraded from 0001 to {HEAD}" in out for out in outputs) == 1
    assert sum(f"already at {HEAD}" in out for out in outputs) == 1


class ThreadedRuns:
    """The same command started several times at once."""

    def __init__(self, config: Path, command: list[str], *, count: int) -> None:
        self._threads = [
            threading.Thread(target=self._run, args=(config, command)) for _ in range(count)
        ]
        self.results: list[subprocess.CompletedProcess[str]] = []

    def _run(self, config: Path, command: list[str]) -> None:
        self.results.append(importer(config, *command))

    def __enter__(self) -> ThreadedRuns:
        for thread in self._threads:
            thread.start()
        for thread in self._threads:
            thread.join()
        return self

    def __exit__(self, *_: object) -> None:
        return None


def test_a_column_dropped_by_hand_stops_the_command_instead_of_retrying(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE products DROP COLUMN row_hash"))
    config = write_config(tmp_path, database_url)
    waiting = drop(tmp_path, "products.csv", PRODUCTS)

    stopped = importer(config, "process")

    assert stopped.returncode == 2, stopped.stderr
    assert "schema does not match" in stopped.stderr
    assert "row_hash" in stopped.stderr
    assert "database unavailable" not in stopped.stderr
    assert waiting.read_text() == PRODUCTS
    status = importer(config, "db", "status")
    assert status.returncode == 1
    assert "add_column products.row_hash" in status.stdout
    upgraded = importer(config, "db", "upgrade")
    assert upgraded.returncode == 1
    assert f"database schema already at {HEAD}" in upgraded.stdout
    assert "add_column products.row_hash" in upgraded.stdout
    assert "no migration changes back" in upgraded.stdout


def test_db_status_shows_the_revision_and_the_head(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    before = importer(config, "db", "status")
    importer(config, "db", "upgrade")
    after = importer(config, "db", "status")
    assert f"this release's head {HEAD}" in before.stdout
    assert after.returncode == 0
    assert f"database revision {HEAD}, this release's head {HEAD} (current)" in after.stdout
    assert "the tables match the code" in after.stdout


@pytest.mark.postgres
def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
        thread.start()
        config = write_config(
            tmp_path, f"postgresql://postgres@127.0.0.1:{port}/test", "connect_timeout_s = 2"
        )
        timed_out = importer(config, "jobs")
        thread.join()
        for connection in accepted:
            connection.close()
    assert timed_out.returncode == 1
    assert "database unavailable" in timed_out.stderr
    assert "timeout" in timed_out.stderr.lower()


@pytest.mark.postgres
def test_postgres_and_postgresql_urls_both_work(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://")):
        engine = make_engine(url)
        assert scalar(engine, "SELECT 1") == 1
        engine.dispose()


@pytest.mark.postgres
def test_0_1_0_tables_without_the_timestamp_defaults_get_them() -> None:
    """Tables older still than 0.1.0's defaults got them at start-up; the baseline does that now."""
    with fresh_postgres_database(with_schema=False) as url:
        create_0_1_0_schema(url)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("ALTER TABLE products ALTER COLUMN created_at DROP DEFAULT")
        engine = make_engine(url)
        schema.prepare(engine, auto_upgrade=True)
        default = scalar(
            engine,
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = 'products' AND column_name = 'created_at'",
        )
        engine.dispose()
    assert default == "now()"
