from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from importer.feeds import FEEDS, ColumnRule, Kind
from importer.validation import ValidationContext, duplicate_keys, validate


def check(feed: str, rows: dict[str, list[str | None]], **context: object):  # type: ignore[no-untyped-def]
    height = len(next(iter(rows.values())))
    frame = pl.DataFrame({"_row": list(range(2, height + 2)), **rows})
    return validate(frame, FEEDS[feed], ValidationContext("acme", **context))  # type: ignore[arg-type]


def problems(result) -> list[tuple[int, str, str | None]]:  # type: ignore[no-untyped-def]
    return [
        (r["row"], r["column"], r["value"])
        for r in result.problems.sort("row", "column").to_dicts()
    ]


def test_good_product_is_typed_and_name_defaults_to_sku() -> None:
    result = check(
        "products", {"sku": [" A1 "], "price": ["19.99"], "in_stock": ["Yes"], "qoh": ["3.0"]}
    )
    assert result.problems.is_empty()
    row = result.rows.row(0, named=True)
    assert (row["partner_id"], row["sku"], row["name"]) == ("acme", "A1", "A1")
    assert row["price"] == 19.99 and row["in_stock"] is True and row["qoh"] == 3


def test_each_bad_value_is_one_problem_naming_row_column_value() -> None:
    result = check(
        "products",
        {
            "sku": ["A1", "A2", None, "A4", "A5", "x" * 101],
            "price": ["-1", "ten", "1", "Infinity", "1", "1"],
            "in_stock": ["true", "true", "true", "true", "maybe", "true"],
        },
    )
    assert problems(result) == [
        (2, "price", "-1"),
        (3, "price", "ten"),
        (4, "sku", None),
        (5, "price", "Infinity"),
        (6, "in_stock", "maybe"),
        (7, "sku", "x" * 101),
    ]
    assert result.rows.is_empty()
    messages = set(result.problems.get_column("error"))
    assert "must be at least 0" in messages
    assert "required value is missing" in messages
    assert "longer than 100 characters" in messages


def test_dates_accept_iso_and_configured_formats_and_bucket_weeks() -> None:
    result = check(
        "demand_history",
        {
            "sku": ["A", "A", "A", "A"],
            "location_id": ["WH1", "WH1", "WH1", "WH1"],
            "week_starting": ["2026-11-05", "11-06-2026", "2026-11-04T10:00:00Z", "45231"],
            "actual_demand": ["5", None, "1", "1"],
        },
        date_formats=("MM-DD-YYYY",),
    )
    assert problems(result) == [(5, "week_starting", "45231")]
    rows = result.rows.to_dicts()
    assert {r["week_starting"] for r in rows} == {date(2026, 11, 2)}
    assert [r["location_id"] for r in rows] == ["acme-WH1"] * 3
    assert [r["channel"] for r in rows] == ["ALL"] * 3
    assert [(r["actual_demand"], r["forecasted_demand"]) for r in rows][1] == (
        Decimal(0),
        Decimal(0),
    )
    assert rows[0]["forecasted_demand"] == Decimal(5)


def test_datetime_variants_of_the_conventions_document() -> None:
    values = [
        "2016-10-03T12:34:56+01:00",
        "2016-10-03T12:34:56",
        "2016-10-03T12:34:56.123",
        "2016-10-03 12:34",
        "2016-10-03T12:34:56Z",
        "2016-10-03",
        "03/10/2016",
    ]
    result = check(
        "reviews",
        {
            "review_id": [str(i) for i in range(7)],
            "sku": ["s"] * 7,
            "rating": ["5"] * 7,
            "submitted_at": values,
        },
    )
    assert problems(result) == [(8, "submitted_at", "03/10/2016")]
    assert result.rows.get_column("submitted_at").to_list() == [
        datetime(2016, 10, 3, 11, 34, 56, tzinfo=UTC),
        datetime(2016, 10, 3, 12, 34, 56, tzinfo=UTC),
        datetime(2016, 10, 3, 12, 34, 56, 123000, tzinfo=UTC),
        datetime(2016, 10, 3, 12, 34, tzinfo=UTC),
        datetime(2016, 10, 3, 12, 34, 56, tzinfo=UTC),
        datetime(2016, 10, 3, tzinfo=UTC),
    ]


def test_enums_match_case_insensitively_and_store_canonical() -> None:
    result = check(
        "orders",
        {"order_number": ["1", "2", "3"], "status": ["shipped", "PRE_ORDER", "Teleported"]},
    )
    assert problems(result) == [(4, "status", "Teleported")]
    assert result.rows.get_column("status").to_list() == ["Shipped", "PreOrder"]


def test_status_defaults_to_pending_and_email_is_lowercased() -> None:
    po = check(
        "purchase_orders",
        {"po_number": ["P1"], "supplier_id": ["S"], "destination_location_id": ["WH"]},
    )
    assert po.rows.get_column("status").to_list() == ["PENDING"]
    customer = check("customers", {"email": ["Ana@Example.COM"]})
    assert customer.rows.get_column("email").to_list() == ["ana@example.com"]


def test_duplicate_keys_reject_names_all_rows_or_keep_last() -> None:
    keys = pl.DataFrame({"_row": [2, 3, 4], "partner_id": ["p"] * 3, "sku": ["A", "B", "A"]})
    found, dropped = duplicate_keys(keys, ("partner_id", "sku"), keep_last=False)
    assert dropped.to_list() == [2, 4]
    assert (
        found.get_column("error").to_list() == ["duplicate key: the same sku is on rows 2, 4"] * 2
    )
    found, dropped = duplicate_keys(keys, ("partner_id", "sku"), keep_last=True)
    assert found.is_empty() and dropped.to_list() == [2]


def test_a_key_on_many_rows_is_worded_once_naming_its_first_rows() -> None:
    """Naming every row made a key repeated on all of a big file's rows cost memory by the
    square of its rows (2 million rows: 18 GB)."""
    rows = list(range(30, 2, -1))
    keys = pl.DataFrame({"_row": rows, "partner_id": "p", "sku": "A"})
    found, dropped = duplicate_keys(keys, ("partner_id", "sku"), keep_last=False)
    assert found.get_column("row").to_list() == rows
    assert set(found.get_column("error")) == {
        "duplicate key: the same sku is on rows 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 18 more"
    }
    assert dropped.to_list() == sorted(rows)


def valid_text(rule: ColumnRule) -> str:
    if rule.choices:
        return rule.choices[0]
    return {Kind.DATE: "2026-01-02", Kind.DATETIME: "2026-01-02T03:04:05Z"}.get(rule.kind, "1")


def test_a_column_the_file_lacks_has_the_type_a_sent_value_gets() -> None:
    """Absent columns skip the checks; the rows must still look the same to the loader."""
    context = ValidationContext("acme")
    for spec in FEEDS.values():
        required = {rule.name: [valid_text(rule)] for rule in spec.columns if rule.required}
        lacking = validate(pl.DataFrame({"_row": [2], **required}), spec, context)
        sent = {rule.name: [valid_text(rule)] for rule in spec.columns}
        full = validate(pl.DataFrame({"_row": [2], **sent}), spec, context)
        assert lacking.problems.is_empty() and full.problems.is_empty(), spec.name
        assert lacking.rows.columns == full.rows.columns, spec.name
        assert dict(lacking.rows.schema) == dict(full.rows.schema), spec.name
        filled = {r.name for r in spec.columns if r.default is not None} | set(spec.copy_defaults)
        absent = [r.name for r in spec.columns if r.name not in required and r.name not in filled]
        assert lacking.rows.select(absent).null_count().row(0) == (1,) * len(absent), spec.name
