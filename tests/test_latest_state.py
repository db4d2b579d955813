"""The tables hold what the partner's latest files say: re-sent bytes, the order files apply in."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import Engine, text

from importer.config import Settings
from importer.db.ledger import JobStatus
from importer.dispatch import Dispatcher
from importer.lifecycle import Pipeline
from importer.locks import lane_locks_for
from importer.scanning import waiting
from tests.conftest import SettingsFactory, drop_file, process

PRICES_A = "sku,name,price\nA1,One,10.00\nA2,Two,20.00\n"
PRICES_B = "sku,name,price\nA1,One,11.00\nA2,Two,21.00\n"


def prices(engine: Engine, table: str = "products") -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT sku, CAST(price AS TEXT) FROM {table} ORDER BY sku")
        ).all()
    return {sku: str(float(price)) for sku, price in rows}


def test_a_re_sent_older_file_undoes_the_later_one(pipeline: Pipeline, engine: Engine) -> None:
    first = process(pipeline, "acme", "products_a.csv", PRICES_A)
    process(pipeline, "acme", "products_b.csv", PRICES_B)
    undo = process(pipeline, "acme", "products_a.csv", PRICES_A)
    assert undo.status == JobStatus.COMPLETED
    assert prices(engine) == {"A1": "10.0", "A2": "20.0"}
    again = process(pipeline, "acme", "products_a.csv", PRICES_A)
    assert again.status == JobStatus.DUPLICATE
    report = json.loads(Path(f"{again.path}.report.json").read_text())
    assert report["duplicate_of"] == undo.job_id != first.job_id


def test_identical_orders_after_line_items_of_the_same_table_load_again(
    pipeline: Pipeline, engine: Engine
) -> None:
    """orders' nested items and the order_line_items feed write one table."""
    order = {
        "order_number": "O-1",
        "order_date": "2026-11-02",
        "items": [{"sku": "A1", "quantity": 2, "price": "10.00"}],
    }
    orders = json.dumps([order])
    process(pipeline, "acme", "orders.json", orders)
    line_items = "order_number,sku,quantity,price\nO-1,A1,5,10.00\n"
    process(pipeline, "acme", "order_line_items.csv", line_items)
    resent = process(pipeline, "acme", "orders.json", orders)
    assert resent.status == JobStatus.COMPLETED
    with engine.connect() as connection:
        quantity = connection.execute(
            text("SELECT quantity FROM order_line_items WHERE order_number = 'O-1'")
        ).scalar_one()
    assert quantity == 2


def test_a_re_sent_older_snapshot_restores_the_keys_it_holds(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings(feeds={"products": {"mode": "snapshot", "max_deleted_fraction": 1}})
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    process(pipeline, "acme", "products_a.csv", PRICES_A)
    process(pipeline, "acme", "products_b.csv", "sku,name,price\nA1,One,10.00\n")
    restored = process(pipeline, "acme", "products_a.csv", PRICES_A)
    assert restored.status == JobStatus.COMPLETED
    with engine.connect() as connection:
        live = connection.execute(
            text("SELECT sku FROM products WHERE deleted_at IS NULL ORDER BY sku")
        ).scalars()
        assert list(live) == ["A1", "A2"]


def _run_waiting(settings: Settings, pipeline: Pipeline) -> None:
    import threading

    dispatcher = Dispatcher(pipeline, lane_locks_for(pipeline.engine), 2, threading.Event())
    dispatcher.submit(waiting(settings, pipeline.inbox))
    dispatcher.drain()
    dispatcher.shutdown()


def _backfill(pipeline: Pipeline) -> None:
    """Days written out of order: the newest day's file is the oldest on disk."""
    written = [("2026-2-11", 9), ("2026-2-10", 7), ("2026-2-9", 5)]  # oldest mtime first
    for age, (day, quantity) in enumerate(written):
        content = f"sku,location_id,quantity_on_hand\nA1,WH1,{quantity}\n"
        path = drop_file(pipeline, "acme", f"inventory_{day}.csv", content)
        mtime = 1_700_000_000 + age
        os.utime(path, (mtime, mtime))


def _quantity(engine: Engine) -> int:
    with engine.connect() as connection:
        value = connection.execute(
            text("SELECT quantity_on_hand FROM inventory_levels")
        ).scalar_one()
    return int(value)


def test_files_apply_in_arrival_order_by_default(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    settings = make_settings()
    pipeline = Pipeline(settings, engine)
    pipeline.inbox.ensure()
    _backfill(pipeline)
    _run_waiting(settings, pipeline)
    assert _quantity(engine) == 5  # 2026-2-9 was written last


def test_order_by_name_applies_a_backfill_in_the_natural_order_of_its_names(
    make_settings: SettingsFactory, engine: Engine
) -> None:
    for scope in (
        {"feeds": {"inventory": {"order_by": "name"}}},
        {"partners": {"acme": {"order_by": "name"}}},
    ):
        settings = make_settings(**scope)
        pipeline = Pipeline(settings, engine)
        pipeline.inbox.ensure()
        _backfill(pipeline)
        _run_waiting(settings, pipeline)
        assert _quantity(engine) == 9  # 2026-2-11, the last by its digits, not by its text


def test_one_sku_priced_per_store_is_one_row_a_store(pipeline: Pipeline, engine: Engine) -> None:
    catalog = "sku,store_id,price\nA1,S1,10.00\nA1,S2,11.00\nA2,,5.00\n"
    first = process(pipeline, "acme", "products.csv", catalog)
    assert first.status == JobStatus.COMPLETED
    process(pipeline, "acme", "products_s2.csv", "sku,store_id,price\nA1,S2,12.00\n")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT sku, store_id, CAST(price AS TEXT) FROM products ORDER BY sku, store_id")
        ).all()
    assert [(sku, store, float(price)) for sku, store, price in rows] == [
        ("A1", "S1", 10.0),
        ("A1", "S2", 12.0),
        ("A2", "", 5.0),
    ]
    repeated = process(
        pipeline, "acme", "products_dup.csv", "sku,store_id,price\nA3,S1,1\nA3,S1,2\n"
    )
    assert repeated.status == JobStatus.FAILED


def test_a_competitor_price_per_store_is_one_row_a_store(
    pipeline: Pipeline, engine: Engine
) -> None:
    observed = (
        "sku,competitor,observed_on,store_id,price\n"
        "A1,ShoeBarn,11-02-2026,S1,10.00\nA1,ShoeBarn,11-02-2026,S2,11.00\n"
    )
    outcome = process(pipeline, "acme", "competitor_prices.csv", observed)
    assert outcome.status == JobStatus.COMPLETED
    with engine.connect() as connection:
        stores = connection.execute(
            text("SELECT store_id FROM competitor_prices ORDER BY store_id")
        ).scalars()
        assert list(stores) == ["S1", "S2"]


def _order(number: str, skus: list[str] | None) -> dict[str, object]:
    order: dict[str, object] = {"order_number": number, "order_date": "2026-11-02"}
    if skus is not None:
        order["items"] = [{"sku": sku, "quantity": 1, "price": "10.00"} for sku in skus]
    return order


def _lines(engine: Engine) -> dict[tuple[str, str], bool]:
    """(order, sku) -> whether the line is live."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT order_number, sku, deleted_at FROM order_line_items")
        ).all()
    return {(order, sku): deleted is None for order, sku, deleted in rows}


def test_an_order_re_sent_with_fewer_lines_deletes_the_dropped_ones(
    pipeline: Pipeline, engine: Engine
) -> None:
    both = [_order("O-1", ["A1", "A2"]), _order("O-2", ["B1"])]
    process(pipeline, "acme", "orders_1.json", json.dumps(both))
    fewer = process(pipeline, "acme", "orders_2.json", json.dumps([_order("O-1", ["A1"])]))
    assert fewer.status == JobStatus.COMPLETED
    assert _lines(engine) == {("O-1", "A1"): True, ("O-1", "A2"): False, ("O-2", "B1"): True}
    report = json.loads(Path(f"{fewer.path}.report.json").read_text())
    assert report["children"]["order_line_items"]["deleted_count"] == 1
    with engine.connect() as connection:
        change = connection.execute(
            text(
                "SELECT row_key, old_value, new_value FROM row_changes "
                "WHERE column_name = 'deleted_at'"
            )
        ).one()
    assert json.loads(change[0]) == ["acme", "O-1", 2]
    assert change[1] is None and change[2]

    process(pipeline, "acme", "orders_3.json", json.dumps([_order("O-1", ["A1", "A2"])]))
    assert _lines(engine)[("O-1", "A2")] is True


def test_an_order_without_its_list_leaves_its_lines_and_an_empty_list_clears_them(
    pipeline: Pipeline, engine: Engine
) -> None:
    process(pipeline, "acme", "orders_1.json", json.dumps([_order("O-1", ["A1", "A2"])]))
    process(pipeline, "acme", "orders_2.json", json.dumps([_order("O-1", None)]))
    assert _lines(engine) == {("O-1", "A1"): True, ("O-1", "A2"): True}
    cleared = process(pipeline, "acme", "orders_3.json", json.dumps([_order("O-1", [])]))
    assert cleared.status == JobStatus.COMPLETED
    assert _lines(engine) == {("O-1", "A1"): False, ("O-1", "A2"): False}


def test_a_purchase_order_re_sent_with_fewer_lines_deletes_the_dropped_ones(
    pipeline: Pipeline, engine: Engine
) -> None:
    def purchase_order(skus: list[str]) -> str:
        lines = [{"sku": sku, "quantity": 5, "unit_cost": "2.00"} for sku in skus]
        return json.dumps(
            [
                {
                    "po_number": "PO-1",
                    "supplier_id": "S-1",
                    "destination_location_id": "WH1",
                    "lines": lines,
                }
            ]
        )

    process(pipeline, "acme", "purchase_orders_1.json", purchase_order(["A1", "A2"]))
    process(pipeline, "acme", "purchase_orders_2.json", purchase_order(["A2"]))
    with engine.connect() as connection:
        live = connection.execute(
            text("SELECT sku FROM purchase_order_lines WHERE deleted_at IS NULL")
        ).scalars()
        assert list(live) == ["A2"]
