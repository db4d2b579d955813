"""Every file of the bad-input corpus ends as expected, with a report naming what is wrong, and
nothing of a rejected file reaches the database. Plus the cases that are not files' contents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from importer.db.ledger import JobStatus
from importer.feeds import FEEDS
from importer.lifecycle import Pipeline
from importer.scanning import waiting
from tests.conftest import SettingsFactory, drop_file, process

CORPUS = Path(__file__).resolve().parent / "corpus"
EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())
LIMITS = {"max_decompressed_bytes": 8 << 20}


def rows_in_database(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            int(connection.execute(text(f"SELECT COUNT(*) FROM {spec.table_name}")).scalar_one())
            for spec in FEEDS.values()
        )


def report_text(path: Path) -> str:
    texts = [Path(f"{path}{suffix}") for suffix in (".report.json", ".errors.csv")]
    return "\n".join(p.read_text(encoding="utf-8") for p in texts if p.exists())


def test_the_corpus_is_big_enough() -> None:
    assert len(EXPECTED) >= 40
    assert sorted(p.name for p in (CORPUS / "files").iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str, make_settings: SettingsFactory, engine: Engine) -> None:
    pipeline = Pipeline(make_settings(limits=LIMITS), engine)
    outcome = process(pipeline, "acme", name, (CORPUS / "files" / name).read_bytes())
    expected = EXPECTED[name]
    report = report_text(outcome.path)
    assert outcome.status == expected["outcome"], report
    for word in expected["words"]:  # type: ignore[union-attr]
        assert str(word) in report, f"{word!r} missing from the report of {name}"
    if outcome.status == JobStatus.FAILED:
        assert rows_in_database(engine) == 0
        assert outcome.path.parent.parent.parent.name == "failed"
    assert not (Path.cwd() / "pwned").exists()


def test_a_ten_megabyte_line_is_one_clear_row_error(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(feeds={"products": {"max_error_rate": 0.5}}), engine)
    content = "sku,name\nA1,ok\nA2," + "x" * (10 << 20) + "\nA3,fine\n"
    outcome = process(pipeline, "acme", "products.csv", content)
    assert outcome.status == JobStatus.COMPLETED
    report = json.loads(Path(f"{outcome.path}.report.json").read_text())
    assert {(e["row"], e["column"]) for e in report["errors"]} == {(3, "name")}
    assert any("max_field_chars" in e["error"] for e in report["errors"])
    assert all(len(e["value"]) <= 203 for e in report["errors"])
    assert rows_in_database(engine) == 2


def test_a_symlink_in_the_inbox_is_never_followed(
    pipeline: Pipeline, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("sku\nSECRET\n")
    folder = pipeline.inbox.incoming / "acme"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products.csv").symlink_to(outside)
    (pipeline.inbox.incoming / "evil").symlink_to(tmp_path)
    assert waiting(pipeline.settings, pipeline.inbox) == []
    assert outside.read_text() == "sku\nSECRET\n"


def test_a_directory_named_like_a_feed_file_is_left_alone(pipeline: Pipeline) -> None:
    (pipeline.inbox.incoming / "acme" / "products.csv").mkdir(parents=True)
    drop_file(pipeline, "acme", "inventory.csv", "sku,location_id\nA,WH\n")
    assert [c.path.name for c in waiting(pipeline.settings, pipeline.inbox)] == ["inventory.csv"]


def test_a_file_that_vanishes_while_claimed_is_not_an_error(
    pipeline: Pipeline, engine: Engine
) -> None:
    path = drop_file(pipeline, "acme", "products.csv", "sku\nA1\n")
    shutil.move(str(path), str(path.with_name(".gone")))
    assert pipeline.process(path, "acme") is None
    assert rows_in_database(engine) == 0
