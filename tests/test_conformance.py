"""What the source documents allow is accepted: decimal quantities, open lists, time zones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from importer.config import load_settings
from importer.db.ledger import JobStatus
from importer.exceptions import ConfigError
from importer.lifecycle import Pipeline
from tests.conftest import SettingsFactory, process
from tests.test_migrations import (
    empty_database_url,  # noqa: F401  (a fixture)
    upgraded_with,
)


def rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def test_inventory_quantities_are_numbers(pipeline: Pipeline, engine: Engine) -> None:
    levels = "sku,location_id,quantity_on_hand,quantity_reserved,reorder_point\nA1,WH1,1.5,0.25,2\n"
    outcome = process(pipeline, "acme", "inventory.csv", levels)
    assert outcome.status == JobStatus.COMPLETED
    ((on_hand, reserved, reorder),) = rows(
        engine, "SELECT quantity_on_hand, quantity_reserved, reorder_point FROM inventory_levels"
    )
    assert (float(on_hand), float(reserved), float(reorder)) == (1.5, 0.25, 2.0)


def test_an_order_line_quantity_may_be_a_decimal(pipeline: Pipeline, engine: Engine) -> None:
    lines = "order_number,sku,quantity\nO-1,CHEESE,0.75\n"
    assert process(pipeline, "acme", "order_line_items.csv", lines).status == JobStatus.COMPLETED
    assert float(rows(engine, "SELECT quantity FROM order_line_items")[0][0]) == 0.75


def test_lists_the_documents_do_not_close_take_any_value_in_one_case(
    pipeline: Pipeline, engine: Engine
) -> None:
    orders = [
        {
            "po_number": "PO-1",
            "supplier_id": "S",
            "destination_location_id": "WH",
            "status": "draft",
        },
        {
            "po_number": "PO-2",
            "supplier_id": "S",
            "destination_location_id": "WH",
            "status": "Open",
        },
    ]
    assert process(pipeline, "acme", "purchase_orders.json", json.dumps(orders)).status == (
        JobStatus.COMPLETED
    )
    assert rows(engine, "SELECT status FROM purchase_orders ORDER BY po_number") == [
        ("DRAFT",),
        ("OPEN",),
    ]
    demand = "sku,location_id,week_starting,channel,actual_demand\nA1,WH,2026-11-02,{},3\n"
    process(pipeline, "acme", "demand_1.csv", demand.format("all"))
    process(pipeline, "acme", "demand_2.csv", demand.format("ALL").replace(",3\n", ",4\n"))
    assert [
        (c, float(d)) for c, d in rows(engine, "SELECT channel, actual_demand FROM demand_history")
    ] == [("ALL", 4.0)]


def _entered(engine: Engine) -> dict[str, datetime]:
    """SQLite hands back UTC text without a zone, PostgreSQL an aware time."""
    entered = {}
    for number, value in rows(engine, "SELECT order_number, date_entered FROM orders"):
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        entered[number] = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return entered


def test_a_partner_time_zone_says_what_a_time_without_offset_means(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(
        partners={"acme": {"timezone": "America/New_York"}},
        feeds={"orders": {"max_error_rate": 0.5}},
    )
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    orders = [
        {"order_number": "ET", "date_entered": "2026-11-02T23:30:00"},
        {"order_number": "OFFSET", "date_entered": "2026-11-02T23:30:00+00:00"},
        {"order_number": "SKIPPED", "date_entered": "2026-03-08T02:30:00"},
    ]
    outcome = process(pipeline, "acme", "orders.json", json.dumps(orders))
    assert outcome.status == JobStatus.COMPLETED
    entered = _entered(engine)
    assert entered["ET"] == datetime(2026, 11, 3, 4, 30, tzinfo=UTC)
    assert entered["OFFSET"] == datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    assert "SKIPPED" not in entered
    report = json.loads(Path(f"{outcome.path}.report.json").read_text())
    assert [e["column"] for e in report["errors"]] == ["date_entered"]


def test_without_a_time_zone_a_time_without_offset_is_utc(
    pipeline: Pipeline, engine: Engine
) -> None:
    orders = [{"order_number": "N", "date_entered": "2026-11-02T23:30:00"}]
    process(pipeline, "acme", "orders.json", json.dumps(orders))
    assert _entered(engine)["N"] == datetime(2026, 11, 2, 23, 30, tzinfo=UTC)


def test_an_unknown_time_zone_is_refused_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "importer.toml"
    config.write_text('[partners.acme]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"partners\.acme\.timezone: .*unknown time zone"):
        load_settings(config, environ={})


def test_migration_folds_channels_and_widens_quantities(empty_database_url: str) -> None:  # noqa: F811
    engine = upgraded_with(
        empty_database_url,
        "0003",
        "INSERT INTO demand_history (partner_id, sku, location_id, week_starting, channel, "
        "actual_demand, created_at, updated_at) VALUES "
        "('acme', 'A1', 'acme-WH', '2026-11-02', 'all', 3, '2026-11-02', '2026-11-02'), "
        "('acme', 'A1', 'acme-WH', '2026-11-02', 'ALL', 4, '2026-11-02', '2026-11-03'), "
        "('acme', 'A2', 'acme-WH', '2026-11-02', 'web', 5, '2026-11-02', '2026-11-02')",
        "INSERT INTO inventory_levels (partner_id, sku, location_id, quantity_on_hand, "
        "quantity_reserved, reorder_point) VALUES ('acme', 'A1', 'acme-WH', 7, 1, 2)",
    )
    demand = rows(engine, "SELECT sku, channel, actual_demand FROM demand_history ORDER BY sku")
    assert [(s, c, float(d)) for s, c, d in demand] == [("A1", "ALL", 4.0), ("A2", "WEB", 5.0)]
    assert [float(q) for q in rows(engine, "SELECT quantity_on_hand FROM inventory_levels")[0]] == [
        7.0
    ]
    engine.dispose()


def test_an_order_may_repeat_a_sku_on_lines_of_its_own(pipeline: Pipeline, engine: Engine) -> None:
    order = {
        "order_number": "O-1",
        "items": [
            {"sku": "A1", "quantity": 1, "price": "10.00", "location_id": "WH1"},
            {"sku": "A1", "quantity": 2, "price": "8.00", "location_id": "STORE-3"},
            {"lineNumber": 7, "sku": "B2", "quantity": 1},
        ],
    }
    outcome = process(pipeline, "acme", "orders.json", json.dumps([order]))
    assert outcome.status == JobStatus.COMPLETED
    lines = rows(
        engine,
        "SELECT line_number, sku, location_id FROM order_line_items ORDER BY line_number",
    )
    assert lines == [(1, "A1", "acme-WH1"), (2, "A1", "acme-STORE-3"), (7, "B2", None)]


def test_separate_lines_are_numbered_within_their_order_across_batches(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(database={"url": str(engine.url), "batch_rows": 1})
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    lines = "order_number,sku,quantity\nO-1,A1,1\nO-2,B1,1\nO-1,A1,3\nO-1,C1,1\n"
    outcome = process(pipeline, "acme", "order_line_items.csv", lines)
    assert outcome.status == JobStatus.COMPLETED
    numbered = rows(
        engine,
        "SELECT order_number, line_number, sku, quantity FROM order_line_items ORDER BY 1, 2",
    )
    assert [(o, n, s, float(q)) for o, n, s, q in numbered] == [
        ("O-1", 1, "A1", 1.0),
        ("O-1", 2, "A1", 3.0),
        ("O-1", 3, "C1", 1.0),
        ("O-2", 1, "B1", 1.0),
    ]
    repeated = "order_number,line_number,sku,quantity\nO-9,1,A1,1\nO-9,1,B1,1\n"
    assert process(pipeline, "acme", "order_line_items_2.csv", repeated).status == (
        JobStatus.FAILED
    )


def test_migration_numbers_existing_lines_within_their_order(empty_database_url: str) -> None:  # noqa: F811
    engine = upgraded_with(
        empty_database_url,
        "0004",
        "INSERT INTO order_line_items (partner_id, order_number, sku, quantity) VALUES "
        "('acme', 'O-1', 'B2', 1), ('acme', 'O-1', 'A1', 2), ('acme', 'O-2', 'A1', 3)",
    )
    assert rows(
        engine, "SELECT order_number, line_number, sku FROM order_line_items ORDER BY 1, 2"
    ) == [("O-1", 1, "A1"), ("O-1", 2, "B2"), ("O-2", 1, "A1")]
    engine.dispose()


def test_customers_are_keyed_by_number_else_by_email(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    pipeline = Pipeline(make_settings(feeds={"customers": {"max_error_rate": 0.5}}), engine)
    pipeline.inbox.ensure()
    first = [
        {"customerNumber": "C-1", "email": "Ana@Example.com", "firstName": "Ana"},
        {"customerNumber": "C-2", "firstName": "Bo"},
        {"email": "Cy@Example.com", "firstName": "Cy"},
        {"firstName": "Nobody"},
    ]
    outcome = process(pipeline, "acme", "customers.json", json.dumps(first))
    report = json.loads(Path(f"{outcome.path}.report.json").read_text())
    assert outcome.status == JobStatus.COMPLETED
    assert [(e["row"], e["column"], e["error"]) for e in report["errors"]] == [
        (4, "customer_key", "send customer_number or email")
    ]
    moved = [{"customerNumber": "C-1", "email": "ana@new.example", "firstName": "Ana"}]
    process(pipeline, "acme", "customers_2.json", json.dumps(moved))
    assert rows(
        engine, "SELECT customer_key, email, first_name FROM customers ORDER BY customer_key"
    ) == [
        ("C-1", "ana@new.example", "Ana"),
        ("C-2", None, "Bo"),
        ("cy@example.com", "cy@example.com", "Cy"),
    ]


def test_migration_keys_existing_customers_by_number(empty_database_url: str) -> None:  # noqa: F811
    engine = upgraded_with(
        empty_database_url,
        "0005",
        "INSERT INTO customers (partner_id, email, customer_number, first_name, "
        "created_at, updated_at) VALUES "
        "('acme', 'old@example.com', 'C-1', 'Old', '2026-11-01', '2026-11-01'), "
        "('acme', 'new@example.com', 'C-1', 'New', '2026-11-01', '2026-11-02'), "
        "('acme', 'cy@example.com', NULL, 'Cy', '2026-11-01', '2026-11-01')",
    )
    assert rows(engine, "SELECT customer_key, email FROM customers ORDER BY customer_key") == [
        ("C-1", "new@example.com"),
        ("cy@example.com", "cy@example.com"),
    ]
    engine.dispose()


def test_unknown_fields_of_nested_lines_are_reported(pipeline: Pipeline) -> None:
    order = {
        "order_number": "O-1",
        "giftWrap": True,
        "items": [{"sku": "A1", "quantity": 1, "engraving": "Hi"}],
    }
    outcome = process(pipeline, "acme", "orders.json", json.dumps([order]))
    report = json.loads(Path(f"{outcome.path}.report.json").read_text())
    assert outcome.status == JobStatus.COMPLETED
    assert report["unknown_columns"] == ["giftWrap", "items.engraving"]
