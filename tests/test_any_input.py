"""Any input ends with an outcome and a message that says what is wrong, in bounded memory."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from sqlalchemy import Engine, text

from importer import csv_records, lifecycle
from importer.attempt import FileAttempt
from importer.db.ledger import JobStatus
from importer.dispatch import Dispatcher
from importer.lifecycle import Pipeline
from importer.loading import ImportResult
from importer.locks import lane_locks_for
from importer.scanning import waiting
from tests.conftest import SettingsFactory, drop_file, process

HEADER = "sku,name,price\n"


def report_of(path: Path) -> dict[str, Any]:
    return dict(json.loads(Path(f"{path}.report.json").read_text()))


def names(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            sku: name for sku, name in connection.execute(text("SELECT sku, name FROM products"))
        }


def run_waiting(pipeline: Pipeline) -> Dispatcher:
    dispatcher = Dispatcher(pipeline, lane_locks_for(pipeline.engine), 2, threading.Event())
    dispatcher.submit(waiting(pipeline.settings, pipeline.inbox))
    dispatcher.drain()
    dispatcher.shutdown()
    return dispatcher


def test_a_quote_inside_an_unquoted_value_is_data(pipeline: Pipeline, engine: Engine) -> None:
    content = HEADER + 'A1,Monitor 27" wide,1\nA2,"Desk, 4\' x 2\'",2\nA3,"say ""hi""",3\n'
    outcome = process(pipeline, "acme", "products.csv", content)

    assert outcome.status == JobStatus.COMPLETED, report_of(outcome.path)["message"]
    assert names(engine) == {"A1": 'Monitor 27" wide', "A2": "Desk, 4' x 2'", "A3": 'say "hi"'}


def test_after_a_stray_quote_late_in_a_file_rows_keep_their_lines(
    make_settings: SettingsFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 64)  # the quote lies blocks in
    pipeline = Pipeline(make_settings(feeds={"products": {"max_error_rate": 0.5}}), engine)
    rows = [f"A{i},Item {i},{i}" for i in range(1, 40)]
    rows[30] = 'A31,Screen 15" matte,31'
    rows[35] = "A36,Bad price,ten"
    outcome = process(pipeline, "acme", "products.csv", HEADER + "\n".join(rows) + "\n")

    report = report_of(outcome.path)
    assert outcome.status == JobStatus.COMPLETED
    assert [(e["row"], e["value"]) for e in report["errors"]] == [(37, "ten")]
    assert names(engine)["A31"] == 'Screen 15" matte'
    assert len(names(engine)) == 38


def test_a_quote_never_closed_fails_fast_naming_its_line(
    make_settings: SettingsFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 1024)
    pipeline = Pipeline(make_settings(limits={"max_record_bytes": 4096}), engine)
    content = HEADER + "A1,One,1\n" * 5 + 'A2,"Two,2\n' + "A3,Three,3\n" * 20_000
    outcome = process(pipeline, "acme", "products.csv", content)

    assert outcome.status == JobStatus.FAILED
    message = str(report_of(outcome.path)["message"])
    assert message.startswith("line 7: a quoted value opened in this record is never closed")
    assert names(engine) == {}


def test_a_record_past_max_record_bytes_fails_naming_its_line(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(limits={"max_record_bytes": 4096}), engine)
    content = HEADER + "A1,One,1\nA2," + "x" * 20_000 + ",2\nA3,Three,3\n"
    outcome = process(pipeline, "acme", "products.csv", content)

    assert outcome.status == JobStatus.FAILED
    message = str(report_of(outcome.path)["message"])
    assert "line 3" in message and "limits.max_record_bytes" in message


def test_spreadsheet_exports_load_with_their_lines(pipeline: Pipeline, engine: Engine) -> None:
    bad_row = "sku;name;price\r\nA1;One;1\r\nA2;Two;two\r\n" + "".join(
        f"B{i};x;1\r\n" for i in range(20)
    )
    declared = process(pipeline, "acme", "products_1.csv", "sep=;\r\n" + bad_row)
    utf16 = process(pipeline, "acme", "products_2.csv", (HEADER + "C1,Café,1\n").encode("utf-16"))
    lone_cr = process(pipeline, "acme", "products_3.csv", "sku,name\rD1,x\rD2,y\r")

    assert [e["row"] for e in report_of(declared.path)["errors"]] == [4]
    assert utf16.status == lone_cr.status == JobStatus.COMPLETED
    assert names(engine)["C1"] == "Café"
    assert {"D1", "D2"} <= set(names(engine))


def test_a_file_of_twenty_thousand_columns_loads_them_into_extra(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(limits={"max_columns": 25_000}), engine)
    width = 20_000
    header = "sku," + ",".join(f"c{i}" for i in range(width))
    outcome = process(pipeline, "acme", "products.csv", header + "\nA1," + ",".join("v" * width))

    assert outcome.status == JobStatus.COMPLETED
    with engine.connect() as connection:
        extra = connection.execute(text("SELECT extra FROM products")).scalar_one()
    extra = json.loads(extra) if isinstance(extra, str) else extra
    assert len(extra) == width and extra["c19999"] == "v"


def test_an_unplanned_error_fails_the_file_and_the_lane_goes_on(
    pipeline: Pipeline, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load = lifecycle.load_file

    def overflowing(attempt: FileAttempt, *args: Any, **kwargs: Any) -> ImportResult:
        if attempt.job.file_name == "products_1.csv":
            raise OverflowError("Python int too large to convert to C long")
        return real_load(attempt, *args, **kwargs)

    monkeypatch.setattr(lifecycle, "load_file", overflowing)
    drop_file(pipeline, "acme", "products_1.csv", HEADER + "A1,One,1\n")
    drop_file(pipeline, "acme", "products_2.csv", HEADER + "A2,Two,2\n")
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="ERROR")
    try:
        dispatcher = run_waiting(pipeline)
    finally:
        logger.remove(sink)

    assert dispatcher.failed_files == 1
    failed = next(pipeline.inbox.root.glob("failed/acme/*/products_1.csv"))
    report = report_of(failed)
    assert report["status"] == "FAILED"
    assert str(report["message"]).startswith("internal error (OverflowError)")
    assert "Traceback" not in json.dumps(report)
    assert any("Traceback" in m and "OverflowError" in m for m in messages)
    assert names(engine) == {"A2": "Two"}
    assert not any(pipeline.inbox.processing.rglob("*.csv"))


def test_a_file_that_cannot_be_taken_stays_and_is_told_once(pipeline: Pipeline) -> None:
    path = drop_file(pipeline, "acme", "products.csv", HEADER + "A1,One,1\n")
    pipeline.inbox.processing.mkdir(parents=True, exist_ok=True)
    (pipeline.inbox.processing / "acme").write_text("not a folder")
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="ERROR")
    dispatcher = Dispatcher(pipeline, lane_locks_for(pipeline.engine), 2, threading.Event())
    try:
        for _ in range(2):  # two rescans of the daemon
            dispatcher.submit(waiting(pipeline.settings, pipeline.inbox))
            dispatcher.drain()
    finally:
        dispatcher.shutdown()
        logger.remove(sink)

    assert path.read_text() == HEADER + "A1,One,1\n"
    assert dispatcher.failed_files == 2
    assert len([m for m in messages if "cannot be moved to processing/" in m]) == 1
    assert pipeline.ledger.unfinished(pipeline.inbox.host) == []


def test_ndjson_lines_that_are_no_record_are_row_errors_with_their_line(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(feeds={"products": {"max_error_rate": 0.5}}), engine)
    lines = ['{"sku": "A1", "name": "One"}', "", '{"sku": "A2", "name": ', '{"sku": "A3"}']
    lines += ['{"sku": "A4", "price": NaN}', "[1, 2]", '{"sku": "A5", "name": "Five"}']
    outcome = process(pipeline, "acme", "products.ndjson", "\n".join(lines) + "\n")

    report = report_of(outcome.path)
    assert outcome.status == JobStatus.COMPLETED
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "record"),
        (5, "record"),
        (6, "record"),
    ]
    assert "NaN or Infinity" in report["errors"][1]["error"]
    assert set(names(engine)) == {"A1", "A3", "A5"}


def test_a_json_array_streams_in_batches_with_its_lines_and_late_fields(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(database={"batch_rows": 2}), engine)
    orders = [
        {"orderNumber": f"O-{i}", "items": [{"sku": f"S{i}", "quantity": 1}]} for i in range(5)
    ]
    orders[4]["couponCode"] = "LATE"  # a field only the last batch has
    orders[4]["items"].append({"sku": "S9", "quantity": 2, "engraving": "hi"})
    outcome = process(pipeline, "acme", "orders.json", json.dumps({"orders": orders, "n": 5}))

    assert outcome.status == JobStatus.COMPLETED, report_of(outcome.path)["message"]
    with engine.connect() as connection:
        lines = connection.execute(text("SELECT COUNT(*) FROM order_line_items")).scalar_one()
        coupon = connection.execute(
            text("SELECT coupon_code FROM orders WHERE order_number = 'O-4'")
        ).scalar_one()
    assert (lines, coupon) == (6, "LATE")


def test_a_json_record_past_max_record_bytes_fails_naming_its_limit(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(limits={"max_record_bytes": 4096}), engine)
    records = [{"sku": "A1"}, {"sku": "A2", "name": "x" * 20_000}]
    outcome = process(pipeline, "acme", "products.json", json.dumps(records))

    assert outcome.status == JobStatus.FAILED
    assert "limits.max_record_bytes" in str(report_of(outcome.path)["message"])
