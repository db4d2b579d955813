"""The whole journey of a file, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, event, text

from importer import csv_records
from importer.config import Settings
from importer.db.backends import OneOf
from importer.db.engine import make_engine
from importer.db.ledger import JobStatus, new_job
from importer.db.loader import FileLoad
from importer.feeds import FeedSpec
from importer.lifecycle import Pipeline
from tests.conftest import SAMPLES, SettingsFactory, drop_file, process

PRODUCTS = "sku,name,price,msrp\nA1,One,10.00,12.00\nA2,Two,20.00,22.00\nA3,Three,30.00,33.00\n"


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def report_of(outcome_path: Path) -> dict[str, object]:
    return json.loads(Path(f"{outcome_path}.report.json").read_text())


def errors_of(outcome_path: Path) -> list[dict[str, str]]:
    with Path(f"{outcome_path}.errors.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_sample_feed_loads_and_reports_match_the_database(
    pipeline: Pipeline, engine: Engine
) -> None:
    for sample in sorted((SAMPLES / "acme").iterdir()):
        outcome = process(pipeline, "acme", sample.name, sample.read_bytes())
        report = report_of(outcome.path)
        assert outcome.status == JobStatus.COMPLETED, report
        assert outcome.path.parent.parent.parent.name == "done"
        table = {"inventory": "inventory_levels"}.get(str(report["feed"]), str(report["feed"]))
        rows = scalar(
            engine, f"SELECT COUNT(*) FROM {table} WHERE last_job_id = :job", job=outcome.job_id
        )
        assert report["inserted_count"] == rows == report["row_count"], sample.name
    assert scalar(engine, "SELECT COUNT(*) FROM order_line_items") == 3 + 3
    assert scalar(engine, "SELECT COUNT(*) FROM purchase_order_lines") == 3
    assert scalar(engine, "SELECT name FROM products WHERE sku = 'SKU-1004'") == "SKU-1004"
    assert (
        scalar(engine, "SELECT location_id FROM inventory_levels WHERE sku = 'SKU-1005'")
        == "acme-WH1"
    )
    assert (
        scalar(engine, "SELECT status FROM purchase_orders WHERE po_number = 'PO-300'") == "PENDING"
    )
    assert (
        scalar(engine, "SELECT address_city FROM customers WHERE email = 'ana@example.com'")
        == "Lisboa"
    )


def test_same_bytes_again_are_a_duplicate_and_write_nothing(
    pipeline: Pipeline, engine: Engine
) -> None:
    first = process(pipeline, "acme", "products.csv", PRODUCTS)
    again = process(pipeline, "acme", "products.csv", PRODUCTS)
    assert again.status == JobStatus.DUPLICATE
    assert report_of(again.path)["duplicate_of"] == first.job_id
    assert again.path.name == f"{again.job_id}-products.csv"
    assert (
        scalar(engine, "SELECT COUNT(*) FROM products WHERE last_job_id = :j", j=again.job_id) == 0
    )


def test_every_outcome_records_the_checksum_and_size_of_its_bytes(pipeline: Pipeline) -> None:
    """Taken in a thread while the load starts: every way a file ends must still wait for it."""
    files = {
        "products.csv": PRODUCTS,
        "products-again.csv": PRODUCTS,
        "products-same-size.csv": PRODUCTS.replace("20.00", "21.50"),
        "products-bad.csv": "sku,price\nA1,abc\n",
        "unknown.csv": "x\n1\n",
    }
    outcomes = {name: process(pipeline, "acme", name, content) for name, content in files.items()}
    statuses = {name: outcome.status for name, outcome in outcomes.items()}
    assert statuses == {
        "products.csv": JobStatus.COMPLETED,
        "products-again.csv": JobStatus.DUPLICATE,
        "products-same-size.csv": JobStatus.COMPLETED,
        "products-bad.csv": JobStatus.FAILED,
        "unknown.csv": JobStatus.FAILED,
    }
    for name, outcome in outcomes.items():
        expected = hashlib.sha256(files[name].encode()).hexdigest()
        job = pipeline.ledger.get(outcome.job_id)
        assert job is not None
        assert (job.sha256, job.size_bytes) == (expected, len(files[name]))
        assert report_of(outcome.path)["sha256"] == expected


def test_same_bytes_for_another_partner_load(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products.csv", PRODUCTS)
    other = process(pipeline, "globex", "products.csv", PRODUCTS)
    assert other.status == JobStatus.COMPLETED
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 6


def test_changed_price_is_one_update_and_one_row_change(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products.csv", PRODUCTS)
    changed = process(pipeline, "acme", "products-2.csv", PRODUCTS.replace("20.00", "21.50"))
    report = report_of(changed.path)
    assert (report["inserted_count"], report["updated_count"], report["unchanged_count"]) == (
        0,
        1,
        2,
    )
    with engine.connect() as connection:
        changes = connection.execute(
            text(
                "SELECT row_key, column_name, old_value, new_value FROM row_changes WHERE job_id = :j"
            ),
            {"j": changed.job_id},
        ).all()
    assert len(changes) == 1
    row_key, column, old, new = changes[0]
    assert json.loads(row_key) == ["acme", "A2", ""] and column == "price"
    assert (float(old), float(new)) == (20.0, 21.5)
    assert (
        scalar(engine, "SELECT COUNT(*) FROM products WHERE last_job_id = :j", j=changed.job_id)
        == 1
    )


def test_reordered_rows_change_nothing(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products.csv", PRODUCTS)
    header, *lines = PRODUCTS.splitlines()
    reordered = process(
        pipeline, "acme", "products-b.csv", "\n".join([header, *reversed(lines)]) + "\n"
    )
    report = report_of(reordered.path)
    assert report["status"] == "COMPLETED"
    assert (report["inserted_count"], report["updated_count"], report["unchanged_count"]) == (
        0,
        0,
        3,
    )
    assert (
        scalar(engine, "SELECT COUNT(*) FROM products WHERE last_job_id = :j", j=reordered.job_id)
        == 0
    )
    assert scalar(engine, "SELECT COUNT(*) FROM row_changes") == 0


def test_over_threshold_fails_the_file_and_writes_nothing(
    pipeline: Pipeline, engine: Engine
) -> None:
    bad = "sku,price\nA1,1.00\nA2,abc\nA3,-2\n"
    outcome = process(pipeline, "acme", "products.csv", bad)
    assert outcome.status == JobStatus.FAILED
    assert outcome.path.parent.parent.parent.name == "failed"
    report = report_of(outcome.path)
    assert report["failed_count"] == 2 and report["inserted_count"] == 0
    assert "max_error_rate" in str(report["message"])
    assert [(e["row"], e["column"], e["value"]) for e in errors_of(outcome.path)] == [
        ("3", "price", "abc"),
        ("4", "price", "'-2"),
    ]
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 0
    assert (
        scalar(engine, "SELECT status FROM import_jobs WHERE id = :j", j=outcome.job_id) == "FAILED"
    )


def test_under_threshold_loads_good_rows_and_lists_bad_ones(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(feeds={"products": {"max_error_rate": 0.5}})
    pipeline = Pipeline(settings, engine)
    outcome = process(pipeline, "acme", "products.csv", "sku,price\nA1,1.00\nA2,=1+1\nA3,3\n")
    assert outcome.status == JobStatus.COMPLETED
    report = report_of(outcome.path)
    assert (report["row_count"], report["inserted_count"], report["failed_count"]) == (3, 2, 1)
    assert report["errors"] == [
        {"row": 3, "column": "price", "value": "=1+1", "error": report["errors"][0]["error"]}
    ]
    assert errors_of(outcome.path)[0]["value"] == "'=1+1"
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 2


def test_max_errors_is_an_absolute_limit(make_settings: SettingsFactory, engine: Engine) -> None:
    pipeline = Pipeline(
        make_settings(feeds={"products": {"max_error_rate": 1, "max_errors": 0}}), engine
    )
    outcome = process(pipeline, "acme", "products.csv", "sku,price\nA1,1\nA2,x\n")
    assert outcome.status == JobStatus.FAILED
    assert "max_errors" in str(report_of(outcome.path)["message"])


def test_missing_column_fails_with_the_column_named(pipeline: Pipeline) -> None:
    outcome = process(pipeline, "acme", "inventory.csv", "sku,quantity_on_hand\nA1,5\n")
    assert outcome.status == JobStatus.FAILED
    assert errors_of(outcome.path) == [
        {"row": "1", "column": "location_id", "value": "", "error": "required column is missing"}
    ]


def test_unknown_file_name_fails_listing_the_patterns(pipeline: Pipeline) -> None:
    outcome = process(pipeline, "acme", "pricelist.csv", "sku\nA1\n")
    assert outcome.status == JobStatus.FAILED
    assert "products*" in str(report_of(outcome.path)["message"])


def test_unknown_columns_are_reported_and_ignored(pipeline: Pipeline, engine: Engine) -> None:
    outcome = process(pipeline, "acme", "products.csv", "sku,colour_code,price\nA1,RED,1\n")
    assert outcome.status == JobStatus.COMPLETED
    assert report_of(outcome.path)["unknown_columns"] == ["colour_code"]


def test_duplicate_keys_rejected_by_default(pipeline: Pipeline, engine: Engine) -> None:
    outcome = process(
        pipeline,
        "acme",
        "products.csv",
        "sku,price\nA1,1\nA2,2\n"
        + "A3,3\n" * 0
        + "A1,4\n"
        + "".join(f"B{i},1\n" for i in range(20)),
    )
    report = report_of(outcome.path)
    assert outcome.status == JobStatus.COMPLETED
    assert report["failed_count"] == 2
    assert {e["row"] for e in errors_of(outcome.path)} == {"2", "4"}
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE sku = 'A1'") == 0


def test_duplicate_keys_last_wins_across_batches(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(
        feeds={"products": {"duplicate_keys": "last_wins"}},
        database={"url": str(engine.url.render_as_string(hide_password=False)), "batch_rows": 2},
    )
    pipeline = Pipeline(settings, engine)
    outcome = process(pipeline, "acme", "products.csv", "sku,price\nA1,1\nA2,2\nA3,3\nA1,4\n")
    report = report_of(outcome.path)
    assert (report["inserted_count"], report["superseded_count"], report["failed_count"]) == (
        3,
        1,
        0,
    )
    assert float(str(scalar(engine, "SELECT price FROM products WHERE sku = 'A1'"))) == 4.0


@pytest.mark.parametrize("policy", ["reject", "last_wins"])
def test_a_key_repeated_after_its_batch_was_merged_is_handled_as_if_merged_at_the_end(
    make_settings: SettingsFactory, engine: Engine, policy: str
) -> None:
    """Later files merge batch by batch; a repeat found at the end sends the file round again."""
    settings = make_settings(
        feeds={"products": {"duplicate_keys": policy, "max_error_rate": 1.0}},
        database={"url": str(engine.url.render_as_string(hide_password=False)), "batch_rows": 2},
    )
    pipeline = Pipeline(settings, engine)
    process(pipeline, "acme", "products.csv", "sku,price\nA1,1\nA2,2\nA3,3\n")
    outcome = process(pipeline, "acme", "products-2.csv", "sku,price\nA1,5\nA2,7\nA3,3\nA1,4\n")
    report = report_of(outcome.path)
    price = float(str(scalar(engine, "SELECT price FROM products WHERE sku = 'A1'")))
    moves = scalar(
        engine,
        "SELECT COUNT(*) FROM row_changes WHERE row_key LIKE '%A1%' AND column_name = 'price'",
    )
    assert (report["updated_count"], report["unchanged_count"]) == (
        (1, 1) if policy == "reject" else (2, 1)
    )
    assert price == (1.0 if policy == "reject" else 4.0)
    assert moves == (0 if policy == "reject" else 1)


def test_each_batch_of_a_later_load_merges_only_its_own_rows(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    """The staging table still holds the last batch's merged rows until the next batch comes:
    each merge must count and write its own batch only."""
    settings = make_settings(
        database={"url": str(engine.url.render_as_string(hide_password=False)), "batch_rows": 3}
    )
    pipeline = Pipeline(settings, engine)
    process(
        pipeline, "acme", "products.csv", "sku,price\n" + "".join(f"A{n},1\n" for n in range(9))
    )
    later = "".join(f"A{n},{2 if n % 3 == 0 else 1}\n" for n in range(9)) + "B1,5\nB2,5\n"
    outcome = process(pipeline, "acme", "products-2.csv", "sku,price\n" + later)
    report = report_of(outcome.path)
    assert (report["inserted_count"], report["updated_count"], report["unchanged_count"]) == (
        2,
        3,
        6,
    )
    changed = scalar(engine, "SELECT COUNT(*) FROM row_changes WHERE column_name = 'price'")
    assert changed == 3
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE price = 2") == 3


def test_rows_carry_the_time_of_the_load_that_inserted_and_last_changed_them(
    pipeline: Pipeline, engine: Engine
) -> None:
    """A first load leaves the timestamps to the columns' default on PostgreSQL: same outcome."""
    process(pipeline, "acme", "products.csv", "sku,price\nA1,1\nA2,2\n")
    with engine.connect() as connection:
        first = connection.execute(
            text(
                "SELECT COUNT(*), COUNT(DISTINCT created_at), MIN(created_at), MAX(updated_at) FROM products"
            )
        ).one()
    assert first[0] == 2 and first[1] == 1 and first[2] == first[3]
    process(pipeline, "acme", "products-2.csv", "sku,price\nA1,5\nA2,2\n")
    with engine.connect() as connection:
        changed = connection.execute(
            text(
                "SELECT p.created_at, p.updated_at, c.changed_at FROM products p "
                "JOIN row_changes c ON c.row_key LIKE '%A1%' WHERE p.sku = 'A1'"
            )
        ).one()
        untouched = connection.execute(
            text("SELECT created_at, updated_at FROM products WHERE sku = 'A2'")
        ).one()
    assert changed[0] == first[2]
    assert changed[1] == changed[2] and changed[1] != first[2]
    assert untouched == (first[2], first[2])


def test_new_text_for_the_same_values_is_no_change_but_its_hash_is_kept(
    pipeline: Pipeline, engine: Engine
) -> None:
    """``1.0`` for ``1.00``: nothing changed, yet the next file with ``1.0`` is recognised."""
    process(pipeline, "acme", "products.csv", "sku,price\nA1,1.00\nA2,2\n")
    before = scalar(engine, "SELECT row_hash FROM products WHERE sku = 'A1'")
    again = process(pipeline, "acme", "products-2.csv", "sku,price\nA1,1.0\nA2,3\n")
    report = report_of(again.path)
    assert (report["updated_count"], report["unchanged_count"]) == (1, 1)
    with engine.connect() as connection:
        a1 = connection.execute(
            text(
                "SELECT row_hash, last_job_id, created_at = updated_at FROM products WHERE sku = 'A1'"
            )
        ).one()
    assert a1[0] != before
    assert a1[1] != report["job_id"] and a1[2]


def test_the_reported_duration_covers_the_commit_of_the_load(
    pipeline: Pipeline, engine: Engine
) -> None:
    """The job is stamped COMPLETED inside the load's transaction; a long commit, which on SQLite
    writes a big load out once more, still belongs to the file's time."""

    def note_load(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if "products" in statement and "import_jobs" not in statement:
            connection.info["loading"] = True

    def slow_commit(connection: Connection) -> None:
        if connection.info.pop("loading", False):
            time.sleep(0.6)

    event.listen(engine, "before_cursor_execute", note_load)
    event.listen(engine, "commit", slow_commit)
    try:
        outcome = process(pipeline, "acme", "products.csv", PRODUCTS)
    finally:
        event.remove(engine, "commit", slow_commit)
        event.remove(engine, "before_cursor_execute", note_load)
    report = report_of(outcome.path)
    assert report["status"] == "COMPLETED"
    assert int(str(report["duration_ms"])) >= 600
    assert scalar(engine, "SELECT duration_ms FROM import_jobs") == report["duration_ms"]


def test_a_file_committed_just_before_a_crash_is_filed_away_without_loading_again(
    pipeline: Pipeline, engine: Engine
) -> None:
    outcome = process(pipeline, "acme", "products.csv", PRODUCTS)
    claimed = pipeline.inbox.processing / "acme" / f"{outcome.job_id}-products.csv"
    claimed.parent.mkdir(parents=True, exist_ok=True)
    os.rename(outcome.path, claimed)
    outcome.report_path.unlink()
    with engine.begin() as connection:
        connection.execute(text("UPDATE import_jobs SET stored_path = :p"), {"p": str(claimed)})
    pipeline.recover(claimed, "acme", outcome.job_id, "products.csv")
    report = report_of(outcome.path)
    assert outcome.path.exists() and not claimed.exists()
    assert report["status"] == "COMPLETED"
    assert "after a restart" in str(report["message"])
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 3
    assert scalar(engine, "SELECT COUNT(*) FROM import_jobs") == 1


def test_a_file_failing_mid_stream_loads_nothing_and_the_next_file_loads(
    make_settings: SettingsFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load streams batch after batch; a late unreadable row cancels it cleanly."""
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 64)
    settings = make_settings(
        database={"url": str(engine.url.render_as_string(hide_password=False)), "batch_rows": 2}
    )
    pipeline = Pipeline(settings, engine)
    rows = "".join(f"A{i},{i}\n" for i in range(300))
    broken = process(pipeline, "acme", "products.csv", "sku,price\n" + rows + "B,1,extra\n")
    assert broken.status == JobStatus.FAILED
    assert "line 302: 3 fields" in report_of(broken.path)["message"]
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 0
    good = process(pipeline, "acme", "products-2.csv", "sku,price\n" + rows)
    assert good.status == JobStatus.COMPLETED
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 300


def test_snapshot_marks_missing_rows_deleted_and_revives_them(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(
        make_settings(feeds={"products": {"mode": "snapshot", "max_deleted_fraction": 1}}), engine
    )
    process(pipeline, "acme", "products.csv", PRODUCTS)
    process(pipeline, "globex", "products.csv", PRODUCTS)
    partial = process(
        pipeline, "acme", "products-2.csv", "sku,name,price,msrp\nA1,One,10.00,12.00\n"
    )
    assert report_of(partial.path)["deleted_count"] == 2
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE deleted_at IS NOT NULL") == 2
    assert (
        scalar(
            engine,
            "SELECT COUNT(*) FROM products WHERE partner_id = 'globex' AND deleted_at IS NULL",
        )
        == 3
    )
    back = process(pipeline, "acme", "products-3.csv", PRODUCTS + "\n")
    report = report_of(back.path)
    assert (report["updated_count"], report["unchanged_count"]) == (2, 1)
    assert scalar(engine, "SELECT COUNT(*) FROM products WHERE deleted_at IS NOT NULL") == 0


@pytest.mark.parametrize("batch_rows", [1, 40_000])
def test_nested_lines_load_with_their_order_and_a_bad_line_rejects_its_order(
    make_settings: SettingsFactory, engine: Engine, batch_rows: int
) -> None:
    """In one batch or one order a batch, and again when the same orders come back."""
    settings = make_settings(
        feeds={"orders": {"max_error_rate": 0.5}},
        database={
            "url": str(engine.url.render_as_string(hide_password=False)),
            "batch_rows": batch_rows,
        },
    )
    pipeline = Pipeline(settings, engine)
    orders = [
        {
            "orderNumber": "O1",
            "lines": [{"skuId": "A", "quantity": 1}, {"skuId": "B", "quantity": 2}],
        },
        {"orderNumber": "O2", "lines": [{"skuId": "A", "quantity": "many"}]},
        {"orderNumber": "O3", "lines": [{"skuId": "C", "quantity": 3}]},
    ]
    outcome = process(pipeline, "acme", "orders.json", json.dumps({"orders": orders}))
    report = report_of(outcome.path)
    assert (report["row_count"], report["inserted_count"], report["failed_count"]) == (3, 2, 1)
    assert report["errors"][0]["row"] == 2 and report["errors"][0]["column"] == "lines[1].quantity"
    assert report["children"] == {
        "order_line_items": {
            "inserted_count": 3,
            "updated_count": 0,
            "unchanged_count": 0,
            "deleted_count": 0,
        }
    }
    assert scalar(engine, "SELECT COUNT(*) FROM order_line_items WHERE order_number = 'O2'") == 0
    again = report_of(
        process(pipeline, "acme", "orders-2.json", json.dumps({"orders": orders}) + "\n").path
    )
    assert (again["inserted_count"], again["unchanged_count"], again["failed_count"]) == (0, 2, 1)
    assert again["children"]["order_line_items"]["unchanged_count"] == 3


def test_partner_file_with_own_headers_and_encoding_loads(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(
        partners={
            "globex": {
                "encoding": "cp1252",
                "aliases": {"StockCode": "sku", "Description": "name", "UnitPrice": "price"},
            }
        }
    )
    pipeline = Pipeline(settings, engine)
    sample = SAMPLES / "globex" / "products_export.csv"
    outcome = process(pipeline, "globex", sample.name, sample.read_bytes())
    report = report_of(outcome.path)
    assert outcome.status == JobStatus.COMPLETED, report
    assert report["inserted_count"] == 5
    assert set(report["unknown_columns"]) == {
        "InvoiceNo",
        "Quantity",
        "InvoiceDate",
        "CustomerID",
        "Country",
    }
    assert (
        scalar(engine, "SELECT name FROM products WHERE sku = '21730'")
        == "GLASS STAR FROSTED T-LIGHT HOLDER – CAFÉ"
    )


def test_broken_samples_fail_with_reports(pipeline: Pipeline, engine: Engine) -> None:
    for sample in sorted((SAMPLES / "broken").iterdir()):
        outcome = process(pipeline, "acme", sample.name, sample.read_bytes())
        assert outcome.status == JobStatus.FAILED, sample.name
        assert report_of(outcome.path)["message"]
    for table in ("products", "orders", "inventory_levels", "order_line_items"):
        assert scalar(engine, f"SELECT COUNT(*) FROM {table}") == 0


def test_files_lying_in_incoming_are_found_oldest_first(
    pipeline: Pipeline, settings: Settings
) -> None:
    from importer.scanning import waiting

    drop_file(pipeline, "globex", "b.csv", PRODUCTS)
    first = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    os.utime(first, (1, 1))
    for ignored in ("products.csv.part", ".hidden.csv", "products.csv.done", "x.tmp", "y.csv~"):
        drop_file(pipeline, "acme", ignored, PRODUCTS)
    found = [(c.partner, c.path.name) for c in waiting(settings, pipeline.inbox)]
    assert found == [("acme", "products.csv"), ("globex", "b.csv")]


def test_a_file_claimed_by_someone_else_is_skipped(pipeline: Pipeline, engine: Engine) -> None:
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    path.unlink()
    assert pipeline.process(path, "acme") is None
    assert scalar(engine, "SELECT COUNT(*) FROM import_jobs") == 0


def test_unsafe_partner_ids_are_refused(pipeline: Pipeline, settings: Settings) -> None:
    from importer.exceptions import UnroutableFileError

    with pytest.raises(UnroutableFileError):
        pipeline.process(settings.inbox.root / "x.csv", "../etc")


def test_unreachable_database_leaves_the_file_in_incoming(tmp_path: Path) -> None:
    from importer.exceptions import DatabaseUnavailableError

    settings = Settings.model_validate(
        {
            "database": {"url": "postgresql://postgres@127.0.0.1:1/none"},
            "inbox": {"root": str(tmp_path / "inbox")},
        }
    )
    pipeline = Pipeline(settings, make_engine(settings.database.url))
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    with pytest.raises(DatabaseUnavailableError):
        pipeline.process(path, "acme")
    assert path.read_text() == PRODUCTS


def test_a_defect_fails_one_file_and_keeps_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importer.lifecycle

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(importer.lifecycle, "load_file", broken)
    outcome = process(pipeline, "acme", "products.csv", PRODUCTS)
    assert outcome.status == JobStatus.FAILED
    assert outcome.path.read_text() == PRODUCTS
    assert "internal error (ZeroDivisionError)" in str(report_of(outcome.path)["message"])


def test_a_folder_that_is_no_partner_id_is_left_alone(
    pipeline: Pipeline, settings: Settings
) -> None:
    from importer.scanning import waiting

    drop_file(pipeline, "bad name", "products.csv", PRODUCTS)
    drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    assert [c.partner for c in waiting(settings, pipeline.inbox)] == ["acme"]


def test_a_file_whose_job_was_abandoned_just_before_a_crash_goes_back_to_incoming(
    pipeline: Pipeline, engine: Engine
) -> None:
    """Marked ABANDONED, then stopped before the file was put back: it is not an outcome."""
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    job = new_job("acme", path.name, str(path))
    pipeline.ledger.open_job(job)
    assert job.id is not None
    claimed = pipeline.inbox.claim(path, "acme", job.id)
    job.status, job.stored_path = JobStatus.ABANDONED, str(claimed)
    pipeline.ledger.update(job)
    pipeline.recover(claimed, "acme", job.id, "products.csv")
    assert path.read_text() == PRODUCTS and not claimed.exists()
    assert not list((pipeline.inbox.root / "done").rglob("products.csv*"))
    assert scalar(engine, "SELECT COUNT(*) FROM products") == 0
    loaded = pipeline.process(path, "acme")
    assert loaded is not None and loaded.status == JobStatus.COMPLETED


def test_a_fault_after_the_commit_leaves_the_file_to_recovery_not_to_a_second_load(
    pipeline: Pipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importer import lifecycle
    from importer.exceptions import DatabaseUnavailableError

    def unreachable_once_loaded(*_: object) -> None:
        raise DatabaseUnavailableError("database unavailable: gone for a moment")

    monkeypatch.setattr(lifecycle, "write_reports", unreachable_once_loaded)
    path = drop_file(pipeline, "acme", "products.csv", PRODUCTS)
    with pytest.raises(DatabaseUnavailableError):
        pipeline.process(path, "acme")
    assert not path.exists()
    (claimed,) = (pipeline.inbox.processing / "acme").iterdir()
    job_id = int(claimed.name.partition("-")[0])
    monkeypatch.undo()
    pipeline.recover(claimed, "acme", job_id, "products.csv")
    done = list((pipeline.inbox.root / "done").rglob("products.csv"))
    assert len(done) == 1 and report_of(done[0])["status"] == "COMPLETED"
    assert scalar(engine, "SELECT COUNT(*) FROM import_jobs") == 1


def test_a_report_half_written_before_a_crash_is_written_over(pipeline: Pipeline) -> None:
    folder = pipeline.inbox.root / "done" / "acme" / datetime.now(UTC).date().isoformat()
    folder.mkdir(parents=True)
    half_written = folder / ".products.csv.report.json.tmp"
    half_written.write_text('{"status": "COMPL')
    outcome = process(pipeline, "acme", "products.csv", "sku,name,price\nA1,Widget,2.50\n")
    assert outcome.path == folder / "products.csv"
    assert report_of(outcome.path)["status"] == "COMPLETED"
    assert not half_written.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["products.csv", "products.csv.report.json"]


def test_a_small_file_with_a_nul_in_a_key_reports_the_row_and_loads_the_rest(
    pipeline: Pipeline, engine: Engine
) -> None:
    """Its keys are looked up among the live rows: a NUL in one must not reach the database."""
    rows = "".join(f"A{n},Item {n},1.00\n" for n in range(20))
    process(pipeline, "acme", "products_1.csv", "sku,name,price\n" + rows)
    outcome = process(
        pipeline, "acme", "products_2.csv", "sku,name,price\n" + rows + "B\x001,Odd,3.00\n"
    )
    report = report_of(outcome.path)
    assert (report["status"], report["unchanged_count"], report["failed_count"]) == (
        "COMPLETED",
        20,
        1,
    )
    assert [(e["row"], e["error"]) for e in report["errors"]] == [(22, "contains a NUL character")]


def test_a_small_file_is_compared_with_the_live_rows_of_its_own_skus_only(
    pipeline: Pipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live rows looked up are those of the file's own SKUs, quotes and characters beyond
    the BMP included (how they travel is tested with the backends)."""
    catalog = "sku,name,price\n" + "".join(f"S{i},Item {i},{i}.00\n" for i in range(300))
    process(pipeline, "acme", "products_1.csv", catalog + '"Q""é😀",Odd,1.00\n')
    lookups: list[tuple[int, int]] = []
    look_up = FileLoad.known_hashes_where

    def noted(load: FileLoad, spec: FeedSpec, column: str, values: OneOf) -> pl.Series:
        found = look_up(load, spec, column, values)
        lookups.append((values.distinct, len(found)))
        return found

    monkeypatch.setattr(FileLoad, "known_hashes_where", noted)
    delta = 'sku,name,price\nS1,Item 1,1.00\nS2,Item 2,9.99\nN1,New,3.00\n"Q""é😀",Odd,1.00\n'
    outcome = process(pipeline, "acme", "products_2.csv", delta)
    report = report_of(outcome.path)
    assert lookups == [(4, 3)]  # S1, S2, N1 and the odd one asked; all but N1 live
    assert (report["unchanged_count"], report["updated_count"], report["inserted_count"]) == (
        2,
        1,
        1,
    )
    assert float(str(scalar(engine, "SELECT price FROM products WHERE sku = 'S2'"))) == 9.99
