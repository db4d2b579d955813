"""Nothing a partner sends is refused or lost: doubles at any scale, documented fields in columns,
every other field in ``extra``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from importer.db.ledger import JobStatus
from importer.lifecycle import Pipeline
from tests.conftest import process
from tests.test_migrations import (
    empty_database_url,  # noqa: F401  (a fixture)
    upgraded_with,
)


def rows(engine: Engine, query: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


def extra_of(engine: Engine, table: str, where: str = "true") -> list[dict[str, str] | None]:
    """``extra`` as the operator reads it: JSON text on SQLite, a parsed value on PostgreSQL."""
    values = [value for (value,) in rows(engine, f"SELECT extra FROM {table} WHERE {where}")]
    return [json.loads(value) if isinstance(value, str) else value for value in values]


def report_of(outcome_path: Path) -> dict[str, Any]:
    return dict(json.loads(Path(f"{outcome_path}.report.json").read_text()))


def test_a_double_past_four_decimal_places_loads_as_sent(
    pipeline: Pipeline, engine: Engine
) -> None:
    products = "sku,price,msrp\nA1,7.19254,1.25e-7\nA2,89.95,100\n"
    outcome = process(pipeline, "acme", "products.csv", products)
    ratings = process(
        pipeline, "acme", "ratings.csv", "sku,average_rating,review_count\nA1,4.333333,3\n"
    )

    assert outcome.status == ratings.status == JobStatus.COMPLETED
    stored = rows(engine, "SELECT sku, price, msrp FROM products ORDER BY sku")
    assert [(sku, float(price), float(msrp)) for sku, price, msrp in stored] == [
        ("A1", 7.19254, 1.25e-7),
        ("A2", 89.95, 100.0),
    ]
    assert float(rows(engine, "SELECT average_rating FROM rating_summaries")[0][0]) == 4.333333
    if engine.dialect.name == "postgresql":  # exact decimal text, no scale added or lost
        assert rows(engine, "SELECT CAST(price AS TEXT) FROM products ORDER BY sku") == [
            ("7.19254",),
            ("89.95",),
        ]


def test_what_is_no_double_is_a_row_error_naming_the_value(pipeline: Pipeline) -> None:
    products = 'sku,price\nA1,NaN\nA2,Infinity\nA3,1e400\nA4,12.50\nA5,"12,5"\n'
    outcome = process(pipeline, "acme", "products.csv", products)

    report = report_of(outcome.path)
    assert report["failed_count"] == 4  # of 5: over the error rate, so the file fails whole
    errors = {(e["row"], e["value"]) for e in report["errors"]}
    assert errors == {(2, "NaN"), (3, "Infinity"), (4, "1e400"), (6, "12,5")}
    assert {e["error"] for e in report["errors"]} == {
        "not a number: use digits with a decimal point, such as 12.5 or 1.25e-3"
    }


def test_columns_with_no_field_are_kept_in_extra(pipeline: Pipeline, engine: Engine) -> None:
    products = 'sku,name,Gift Message,warehouse note\nA1,Lamp,"Say ""hi""",\nA2,Desk,,\n'
    outcome = process(pipeline, "acme", "products.csv", products)

    assert outcome.status == JobStatus.COMPLETED
    assert report_of(outcome.path)["unknown_columns"] == ["Gift Message", "warehouse note"]
    assert extra_of(engine, "products", "sku = 'A1'") == [{"Gift Message": 'Say "hi"'}]
    assert extra_of(engine, "products", "sku = 'A2'") == [None]


def test_a_change_in_extra_alone_updates_the_row(pipeline: Pipeline, engine: Engine) -> None:
    process(pipeline, "acme", "products_1.csv", "sku,name,colour_code\nA1,Lamp,12\n")
    again = process(pipeline, "acme", "products_2.csv", "sku,name,colour_code\nA1,Lamp,13\n")

    assert report_of(again.path)["updated_count"] == 1
    assert extra_of(engine, "products") == [{"colour_code": "13"}]


LISTRAK_ORDER = {
    "orderNumber": "O-1",
    "associateID": "EMP-7",
    "billingAddress": {"firstName": "Ana", "city": "Lyon", "zipCode": "69001"},
    "shippingAddress": {"firstName": "Bo", "address3": "Gate 4", "country": "FR"},
    "merchandiseDiscount": 2.5,
    "merchandiseDiscountType": "coupon",
    "merchandiseDiscountDescription": "WELCOME",
    "nonMerchandiseDiscount": 0.125,
    "orderTotal": 97.37499,
    "meta1": "web",
    "meta5": "tag",
    "customer": {"firstName": "Ana"},
    "items": [
        {
            "sku": "A1",
            "quantity": 1,
            "price": 99.99999,
            "discountDescription": "10% off",
            "shippingMethod": "UPS",
            "meta2": "engraved",
            "engraving": "Hi",
        }
    ],
}


def test_a_listrak_order_keeps_addresses_discounts_and_meta(
    pipeline: Pipeline, engine: Engine
) -> None:
    outcome = process(pipeline, "acme", "orders.json", json.dumps([LISTRAK_ORDER]))

    assert outcome.status == JobStatus.COMPLETED, report_of(outcome.path)["errors"]
    order = rows(
        engine,
        "SELECT associate_id, billing_address_first_name, billing_address_city, "
        "billing_address_zip_code, shipping_address_first_name, shipping_address_address3, "
        "shipping_address_country, merchandise_discount, merchandise_discount_type, "
        "merchandise_discount_description, non_merchandise_discount, order_total, meta1, meta5 "
        "FROM orders",
    )[0]
    assert [float(v) if k in (7, 10, 11) else v for k, v in enumerate(order)] == [
        "EMP-7",
        "Ana",
        "Lyon",
        "69001",
        "Bo",
        "Gate 4",
        "FR",
        2.5,
        "Coupon",
        "WELCOME",
        0.125,
        97.37499,
        "web",
        "tag",
    ]
    assert extra_of(engine, "orders") == [{"customer_firstName": "Ana"}]
    line = rows(
        engine,
        "SELECT price, discount_description, shipping_method, meta2 FROM order_line_items",
    )[0]
    assert (float(line[0]), *line[1:]) == (99.99999, "10% off", "UPS", "engraved")
    assert extra_of(engine, "order_line_items") == [{"engraving": "Hi"}]


def test_customer_loyalty_social_and_product_images_are_kept_in_extra(
    pipeline: Pipeline, engine: Engine
) -> None:
    customer = {
        "customerNumber": "C-1",
        "address": {"address3": "Flat 2"},
        "meta1": "vip",
        "loyalty": {"availablePoints": 120, "activeLoyaltyMember": True},
        "social": {"twitterID": "@ana"},
    }
    product = {
        "sku": "A1",
        "meta3": "outdoor",
        "alternateImagesType1": [{"url": "https://img.example/a.jpg"}],
    }
    customers = process(pipeline, "acme", "customers.json", json.dumps([customer]))
    products = process(pipeline, "acme", "products.json", json.dumps([product]))

    assert customers.status == products.status == JobStatus.COMPLETED
    assert rows(engine, "SELECT address_address3, meta1 FROM customers") == [("Flat 2", "vip")]
    assert extra_of(engine, "customers") == [
        {
            "loyalty_availablePoints": "120",
            "loyalty_activeLoyaltyMember": "true",
            "social_twitterID": "@ana",
        }
    ]
    assert rows(engine, "SELECT meta3 FROM products") == [("outdoor",)]
    (images,) = extra_of(engine, "products")
    assert images is not None
    assert json.loads(images["alternateImagesType1"]) == [{"url": "https://img.example/a.jpg"}]
    assert report_of(products.path)["unknown_columns"] == ["alternateImagesType1"]


def test_migration_keeps_prices_and_makes_room_for_the_documented_fields(
    empty_database_url: str,  # noqa: F811
) -> None:
    engine = upgraded_with(
        empty_database_url,
        "0006",
        "INSERT INTO products (partner_id, sku, store_id, name, price, msrp) "
        "VALUES ('acme', 'A1', '', 'Lamp', 89.95, 100)",
    )
    ((price, msrp, meta1, extra),) = rows(engine, "SELECT price, msrp, meta1, extra FROM products")
    assert (float(price), float(msrp), meta1, extra) == (89.95, 100.0, None, None)
    if engine.dialect.name == "postgresql":
        assert rows(engine, "SELECT CAST(price AS TEXT) FROM products") == [("89.95",)]
    engine.dispose()
