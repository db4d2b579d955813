"""Fixtures: a fresh inbox per test, and a real database per test on SQLite and PostgreSQL.

PostgreSQL databases are cloned from a template that holds the schema, built once per test
session (``CREATE DATABASE ... TEMPLATE``), instead of each test creating every table anew.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from importer.config import Settings
from importer.db import schema
from importer.db.engine import make_engine
from importer.lifecycle import Outcome, Pipeline

SAMPLES = Path(__file__).resolve().parent.parent / "sample_feeds"
POSTGRES_ADMIN_URL = os.environ.get(
    "IMPORTER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


_templates: list[str] = []
"""the schema template of this test session, made when a test first needs it"""


def _schema_template() -> str:
    if not _templates:
        name = f"importer_template_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        engine = make_engine(_postgres_url(name))
        schema.prepare(engine, auto_upgrade=True)
        engine.dispose()
        _templates.append(name)
    return _templates[0]


@pytest.fixture(scope="session", autouse=True)
def _drop_schema_template() -> Iterator[None]:
    yield
    for name in _templates:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def fresh_postgres_database(*, with_schema: bool = True) -> Iterator[str]:
    """A database of its own, cloned from the schema template (or empty)."""
    name = f"importer_test_{uuid.uuid4().hex[:12]}"
    template = f" TEMPLATE {_schema_template()}" if with_schema else ""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}{template}")
    try:
        yield _postgres_url(name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test gets its own database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'importer.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> SettingsFactory:
    def build(**sections: Any) -> Settings:
        raw: dict[str, Any] = {
            "database": {"url": database_url},
            "inbox": {"root": str(tmp_path / "inbox")},
        }
        raw.update(sections)
        return Settings.model_validate(raw)

    return build


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database.url)
    schema.prepare(engine, auto_upgrade=True)
    yield engine
    engine.dispose()


@pytest.fixture
def pipeline(settings: Settings, engine: Engine) -> Pipeline:
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    return pipeline


def drop_file(pipeline: Pipeline, partner: str, name: str, content: bytes | str) -> Path:
    folder = pipeline.inbox.incoming / partner
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def process(pipeline: Pipeline, partner: str, name: str, content: bytes | str) -> Outcome:
    outcome = pipeline.process(drop_file(pipeline, partner, name, content), partner)
    assert outcome is not None
    return outcome
