"""Property-based tests: no bytes crash the reader, every error points into the file, and valid
rows generated from the schema load and read back unchanged."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from importer.attempt import FileAttempt
from importer.config import Settings
from importer.db import schema
from importer.db.engine import make_engine
from importer.db.ledger import ImportJob
from importer.exceptions import ImporterError
from importer.feeds import FEEDS
from importer.lifecycle import Pipeline
from importer.loading import load_file

PROPERTY = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def sqlite() -> Iterator[tuple[Settings, Engine, Path]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = Settings.model_validate(
            {
                "database": {"url": f"sqlite:///{root / 'db.sqlite'}"},
                "inbox": {"root": str(root / "inbox")},
            }
        )
        engine = make_engine(config.database.url)
        schema.prepare(engine, auto_upgrade=True)
        yield config, engine, root
        engine.dispose()


def dry_run(config: Settings, engine: Engine, path: Path, feed: str = "products"):  # type: ignore[no-untyped-def]
    job = ImportJob(
        partner_id="acme", file_name=path.name, source_path=str(path), started_at=datetime.now(UTC)
    )
    attempt = FileAttempt.plan(config, job=job, path=path, spec=FEEDS[feed])
    return load_file(attempt, engine)


@PROPERTY
@given(
    content=st.binary(max_size=3000),
    suffix=st.sampled_from([".csv", ".json", ".ndjson", ".tsv", ".csv.gz"]),
)
def test_arbitrary_bytes_never_crash(
    sqlite: tuple[Settings, Engine, Path], content: bytes, suffix: str
) -> None:
    config, engine, root = sqlite
    path = root / f"products{suffix}"
    path.write_bytes(content)
    with contextlib.suppress(ImporterError):
        dry_run(config, engine, path)


cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
header = st.sampled_from(
    ["sku", "name", "price", "qoh", "in_stock", "Notes", "externalId", "brand"]
)


@PROPERTY
@given(headers=st.lists(header, min_size=1, max_size=5, unique=True), data=st.data())
def test_every_error_points_at_a_row_and_column_of_the_file(
    sqlite: tuple[Settings, Engine, Path], headers: list[str], data: st.DataObject
) -> None:
    rows = data.draw(
        st.lists(st.lists(cell, min_size=len(headers), max_size=len(headers)), max_size=8)
    )
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    config, engine, root = sqlite
    path = root / "products.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    starts = {1}
    reader = csv.reader(io.StringIO(buffer.getvalue(), newline=""))
    previous_end = next(reader) and reader.line_num
    for _ in reader:
        starts.add(previous_end + 1)
        previous_end = reader.line_num
    names = set(headers) | {"sku", "name", "price", "qoh", "in_stock", "brand"}
    try:
        result = dry_run(config, engine, path)
    except ImporterError as exc:
        problems = exc.problems  # type: ignore[attr-defined]
        assert all(p.row in (None, 1) for p in problems)
        return
    for problem in result.problems.first(result.problems.count).to_dicts():
        assert problem["row"] in starts, (problem, starts)
        assert problem["column"] in names or "+" in problem["column"], problem


sku = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=20)
name = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=40,
)
price = st.decimals(
    min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False, allow_infinity=False
)


@settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    products=st.lists(
        st.tuples(sku, name, price, st.booleans()),
        min_size=1,
        max_size=20,
        unique_by=lambda p: p[0],
    )
)
def test_valid_generated_rows_load_and_read_back(
    sqlite: tuple[Settings, Engine, Path], products: list[tuple[str, str, Decimal, bool]]
) -> None:
    config, engine, _root = sqlite
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM products"))
        connection.execute(text("DELETE FROM import_jobs"))
    pipeline = Pipeline(config, engine)
    frame = pl.DataFrame(
        {
            "sku": [p[0] for p in products],
            "name": [p[1] for p in products],
            "price": [str(p[2]) for p in products],
            "in_stock": ["yes" if p[3] else "no" for p in products],
        }
    )
    folder = pipeline.inbox.incoming / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "products.csv"
    frame.write_csv(path)
    outcome = pipeline.process(path, "acme")
    assert outcome is not None and outcome.status == "COMPLETED"
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT sku, name, price, in_stock FROM products ORDER BY sku")
        ).all()
    expected = sorted((p[0], p[1].strip(), p[2], p[3]) for p in products)
    assert [
        (s, n, Decimal(str(pr)).quantize(Decimal("0.01")), bool(b)) for s, n, pr, b in stored
    ] == expected
