"""Each limit in config fails the file with a clear report instead of exhausting the machine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from importer.db.ledger import JobStatus
from importer.lifecycle import Pipeline
from tests.conftest import SettingsFactory, process


def message_of(path: Path) -> str:
    return str(json.loads(Path(f"{path}.report.json").read_text())["message"])


def count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM products")).scalar_one())


def test_file_over_the_size_limit(make_settings: SettingsFactory, engine: Engine) -> None:
    pipeline = Pipeline(make_settings(limits={"max_file_bytes": 20}), engine)
    outcome = process(pipeline, "acme", "products.csv", "sku,name\n" + "A1,x\n" * 10)
    assert outcome.status == JobStatus.FAILED
    assert "limits.max_file_bytes" in message_of(outcome.path)
    assert count(engine) == 0


@pytest.mark.parametrize("name", ["products.json", "products.ndjson"])
def test_json_over_its_limit_fails_before_parsing_while_csv_of_the_size_loads(
    make_settings: SettingsFactory, engine: Engine, name: str
) -> None:
    pipeline = Pipeline(make_settings(limits={"max_json_bytes": 200}), engine)
    records = [f'{{"sku": "A{i}", "name": "x"}}' for i in range(10)]
    text_ = "\n".join(records) if name.endswith("ndjson") else "[" + ", ".join(records) + "]"
    outcome = process(pipeline, "acme", name, text_)
    assert outcome.status == JobStatus.FAILED
    assert "limits.max_json_bytes" in message_of(outcome.path)
    csv = "sku,name\n" + "".join(f"A{i},a name long enough to pass 200 bytes\n" for i in range(9))
    assert len(csv) > 200
    loaded = process(pipeline, "acme", "products.csv", csv)
    assert loaded.status == JobStatus.COMPLETED
    assert count(engine) == 9


def test_gzip_that_expands_past_the_limit(make_settings: SettingsFactory, engine: Engine) -> None:
    pipeline = Pipeline(make_settings(limits={"max_decompressed_bytes": 1 << 20}), engine)
    bomb = gzip.compress(b"sku,name\n" + b"A" * (8 << 20))
    assert len(bomb) < 64 << 10
    outcome = process(pipeline, "acme", "products.csv.gz", bomb)
    assert outcome.status == JobStatus.FAILED
    assert "limits.max_decompressed_bytes" in message_of(outcome.path)


def test_too_many_rows(make_settings: SettingsFactory, engine: Engine) -> None:
    pipeline = Pipeline(make_settings(limits={"max_rows": 2}), engine)
    outcome = process(pipeline, "acme", "products.csv", "sku\nA1\nA2\nA3\n")
    assert outcome.status == JobStatus.FAILED
    assert "limits.max_rows" in message_of(outcome.path)
    assert count(engine) == 0


def test_an_overlong_value_is_a_row_error_naming_its_column(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(
        limits={"max_field_chars": 10}, feeds={"products": {"max_error_rate": 0.5}}
    )
    pipeline = Pipeline(settings, engine)
    outcome = process(
        pipeline, "acme", "products.csv", "sku,Notes\nA1,short\nA2,aaaaaaaaaaaaaaaaaaaa\nA3,ok\n"
    )
    assert outcome.status == JobStatus.COMPLETED
    report = json.loads(Path(f"{outcome.path}.report.json").read_text())
    assert report["errors"] == [
        {
            "row": 3,
            "column": "Notes",
            "value": "aaaaaaaaaaaaaaaaaaaa",
            "error": "longer than 10 characters (limits.max_field_chars)",
        }
    ]
    assert count(engine) == 2
